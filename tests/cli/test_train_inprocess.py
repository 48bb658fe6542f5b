"""``pbgml train`` in this process where a subprocess adds nothing: errors, help, --cfg, --info."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from tests.cli.conftest import make_project

from pbgml.cli import main


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("inproc"))


@pytest.fixture
def in_project(project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(project_dir)
    monkeypatch.syspath_prepend(str(project_dir))
    for var in ("PBGML_FULL_ERROR", "HYDRA_FULL_ERROR"):
        monkeypatch.delenv(var, raising=False)
    return project_dir


def _job(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["train", *args, "--cfg", "job"]) == 0
    loaded = yaml.safe_load(capsys.readouterr().out)
    assert isinstance(loaded, dict)
    return loaded


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["optimizer=adamx"], ["optimizer", "no option 'adamx'", "did you mean 'adamw'"]),
        (["optimzer=adamw"], ["optimzer", "did you mean 'optimizer'"]),
        (["trainer.max_epoch=2"], ["trainer.max_epoch", "did you mean 'max_epochs'"]),
        (["trainer.max_epochs=abc"], ["trainer.max_epochs", "invalid value", "'abc'"]),
        (["experiment=nope"], ["experiment", "no option 'nope'", "digits_mlp"]),
        (["x=[1,"], ["cannot parse override 'x=[1,'", "key=value"]),
        (["--import", "no_such_module_xyz"], ["--import no_such_module_xyz", "PYTHONPATH"]),
        (["--config-dir", "/no/such/conf"], ["/no/such/conf"]),
    ],
)
def test_command_line_mistakes_are_short_messages_with_exit_code_2(
    in_project: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: list[str]
) -> None:
    assert main(["train", "experiment=digits_mlp", *args, "--cfg", "job"]) == 2
    err = capsys.readouterr().err
    for text in expected:
        assert text in err
    assert "Traceback" not in err
    assert len(err.splitlines()) <= 4


def test_an_invalid_value_found_by_check_is_exit_code_2(
    in_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "experiment=digits_mlp", "data.batch_size=0"]) == 2
    err = capsys.readouterr().err
    assert "data.batch_size" in err
    assert "Traceback" not in err


def test_no_model_or_data_says_how_to_choose(
    in_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "hydra.run.dir=outputs/empty"]) == 2
    err = capsys.readouterr().err
    assert "model and data: nothing selected" in err
    assert "experiment=digits_mlp" in err


def test_full_error_shows_the_traceback(in_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pbgml import ConfigError

    monkeypatch.setenv("PBGML_FULL_ERROR", "1")
    with pytest.raises(ConfigError, match="did you mean 'adamw'"):
        main(["train", "optimizer=adamx", "--cfg", "job"])


def test_help_lists_each_group_briefly(
    in_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    for group in ("model", "optimizer", "callbacks", "logger", "experiment", "hparams_search"):
        assert f"\n  {group} (" in out
    assert "my_exp" in out
    assert "my_sgd" in out  # the user's options are listed
    assert "conv2d" not in out.lower()
    assert len(out.splitlines()) < 60  # no layer catalogue


def test_user_conf_comes_first_and_user_components_are_imported(
    in_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _job(capsys, "--import", "my_project.components", "experiment=my_exp")
    assert cfg["model"]["_target_"] == "my_project.components.TinyNet"
    assert cfg["optimizer"]["lr"] == 0.05
    assert main(["train", "--info", "searchpath"]) == 0
    out = capsys.readouterr().out
    assert out.index(str(in_project / "conf")) < out.index("pbgml/conf") < out.index("pbgml://")


def test_config_dir_replaces_the_local_conf(
    in_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "other.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /model: mlp\n  - override /data: digits\n"
        "seed: 3\n"
    )
    cfg = _job(capsys, "--config-dir", str(tmp_path), "experiment=other")
    assert cfg["seed"] == 3
    assert cfg["model"]["_target_"] == "pbgml.nn.MLP"


def test_collection_groups_compose_as_lists(
    in_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _job(capsys, "experiment=digits_mlp", "callbacks=[default,early_stopping]")
    assert list(cfg["callbacks"]) == [
        "model_checkpoint",
        "progress_bar",
        "model_summary",
        "early_stopping",
    ]
    assert _job(capsys, "experiment=digits_mlp", "callbacks=none")["callbacks"] == {}
    cfg = _job(capsys, "experiment=digits_mlp", "logger=many", "metrics=[accuracy,f1_score]")
    assert list(cfg["logger"]) == ["csv", "tensorboard", "mlflow"]
    assert list(cfg["metrics"]) == ["accuracy", "f1_score"]
    assert _job(capsys, "experiment=digits_mlp", "trainer=cpu")["trainer"]["accelerator"] == "cpu"


def test_info_and_hydra_flags_work(in_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "experiment=digits_mlp", "--info", "defaults"]) == 0
    assert "experiment/digits_mlp" in capsys.readouterr().out
    assert main(["train", "experiment=digits_mlp", "--cfg", "hydra"]) == 0
    assert "sweep_summary" in capsys.readouterr().out


def test_shell_completion(
    in_project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["train", "-sc", "install=bash"]) == 0
    script = capsys.readouterr().out
    assert "train -sc query=bash" in script
    assert "complete " in script
    line = "pbgml train optimizer=ad"
    monkeypatch.setenv("COMP_LINE", line)
    monkeypatch.setenv("COMP_POINT", str(len(line)))
    assert main(["train", "-sc", "query=bash"]) == 0
    out = capsys.readouterr().out.split()
    assert "optimizer=adamw" in out
    assert "optimizer=adam" in out


def test_a_sweep_under_torchrun_is_refused(
    in_project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "test")
    assert main(["train", "-m", "experiment=digits_mlp", "optimizer.lr=0.1,0.2"]) == 2
    assert "torchrun" in capsys.readouterr().err


def test_resume_refuses_changes_to_the_model_or_data(
    in_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "resume=outputs/x", "model.in_features=3"]) == 2
    assert "would change the model" in capsys.readouterr().err
    assert main(["train", "resume=outputs/x", "data=mnist"]) == 2
    assert "would change the data" in capsys.readouterr().err
    assert main(["train", "resume=outputs/x", "optimizer=sgd"]) == 2
    assert "selects another optimizer" in capsys.readouterr().err
    assert main(["train", "resume=/no/such/run"]) == 2
    assert "/no/such/run" in capsys.readouterr().err


def test_python_m_pbgml_and_console_script_are_one_app() -> None:
    import pbgml.cli

    assert "train" in pbgml.cli.COMMANDS
    assert Path(sys.executable).with_name("pbgml").is_file()


def test_the_users_command_line_may_read_the_environment(
    in_project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``${oc.env:VAR}`` works in ``pbgml train`` (the user's own configs, on their machine);
    the saved config holds the value, so a resume never reads the environment."""
    import pbgml

    monkeypatch.setenv("PBGML_TEST_BATCH", "16")
    out = in_project / "env_run"
    code = main(
        [
            "train", "experiment=digits_mlp", "trainer.max_epochs=1",
            "trainer.limit_train_batches=2", "trainer.limit_val_batches=1",
            "trainer.limit_test_batches=1", "trainer.enable_progress_bar=false",
            "data.batch_size=${oc.env:PBGML_TEST_BATCH}", f"hydra.run.dir={out}",
        ]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["data"]["batch_size"] == 16
    # elsewhere the environment stays off: check refuses the same interpolation
    tree = pbgml.load_yaml(out / "config.yaml", resolvers=())
    tree.data.batch_size = "${oc.env:PBGML_TEST_BATCH}"
    with pytest.raises(pbgml.ConfigError, match=r"oc\.env"):
        pbgml.check(tree)
