"""pbgml list, show and check: in-process through pbgml.cli.main, plus real subprocesses."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import pbgml
from pbgml.cli import main
from pbgml.configs import config_for

pytest.importorskip("sklearn")  # the digits presets

PBGML_SCRIPT = Path(sys.executable).parent / "pbgml"


def _run(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PBGML_FULL_ERROR", "HYDRA_FULL_ERROR")}
    return subprocess.run(
        list(argv), capture_output=True, text=True, timeout=120, cwd=cwd, env=env, check=False
    )


def _out(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- list ---------------------------------------------------------------------------------
def test_list_experiment_prints_the_preset_names_first(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _out(capsys, "list", "experiment")
    assert code == 0
    names = sorted(pbgml.hydra.presets("experiment"))
    assert {"cifar10_lenet", "digits_mlp", "mnist_lenet"} <= set(names)
    lines = out.splitlines()
    assert lines[: len(names) + 1] == [*names, ""]  # machine-readable block, then a blank line
    assert any(re.match(r"  digits_mlp +An MLP on", line) for line in lines)


def test_list_a_registry_group_with_its_count_and_docs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _out(capsys, "list", "loss")
    assert code == 0
    reg = pbgml.registry.loss
    head, *rows = out.splitlines()
    assert head.startswith(f"loss ({len(reg)}): ")
    assert [row.split()[0] for row in rows] == reg.names()
    mse = next(row for row in rows if row.split()[0] == "mse")
    assert reg.entry("mse").doc.split()[0] in mse  # its one-line doc


def test_list_a_group_with_a_pattern(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _out(capsys, "list", "layer", "conv*")
    assert code == 0
    head, *rows = out.splitlines()
    expected = pbgml.registry.layer.names("conv*")
    assert head.startswith(f"layer ({len(expected)} of {len(pbgml.registry.layer)})")
    assert [row.split()[0] for row in rows] == expected
    # a bare word is a part of the name
    _, out, _ = _out(capsys, "list", "optimizer", "sgd")
    assert [r.split()[0] for r in out.splitlines()[1:]] == pbgml.registry.optimizer.names("*sgd*")


def test_list_everything_and_a_pattern_over_every_group(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _out(capsys, "list")
    assert code == 0
    for group, reg in pbgml.registry.groups().items():
        assert f"\n{group} ({len(reg)})" in "\n" + out
    assert "experiment presets (" in out
    code, out, _ = _out(capsys, "list", "conv2*")
    assert code == 0
    assert out.splitlines()[0].startswith("layer (")
    assert "conv2d" in out
    assert "optimizer" not in out


def test_list_metrics_is_the_metric_registry(capsys: pytest.CaptureFixture[str]) -> None:
    _, by_key, _ = _out(capsys, "list", "metrics")
    _, by_registry, _ = _out(capsys, "list", "metric")
    assert by_key == by_registry
    assert by_key.startswith(f"metric ({len(pbgml.registry.metric)})")


def test_list_unknown_group_exits_2_with_did_you_mean(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _out(capsys, "list", "optimiser")
    assert code == 2
    assert out == ""
    assert "unknown group 'optimiser'. Did you mean 'optimizer'?" in err
    assert "Traceback" not in err


def test_list_reads_the_users_conf_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    (tmp_path / "conf" / "experiment" / "aaa_mine.yaml").write_text(
        "# @package _global_\n# My own experiment.\nseed: 1\n"
    )
    monkeypatch.chdir(tmp_path)
    code, out, _ = _out(capsys, "list", "experiment")
    assert code == 0
    assert out.splitlines()[0] == "aaa_mine"
    assert re.search(r"^  aaa_mine +My own experiment\.$", out, re.M)
    code, out, _ = _out(capsys, "show", "experiment/aaa_mine")
    assert code == 0
    assert out.endswith("# My own experiment.\nseed: 1\n")


def test_list_a_user_component(capsys: pytest.CaptureFixture[str]) -> None:
    @pbgml.registry.loss.register("zz_tools_test_loss")
    def my_loss(scale: float = 2.0) -> float:
        """My own loss, for the list test."""
        return scale

    try:
        _, out, _ = _out(capsys, "list", "loss", "zz_tools*")
        assert out.splitlines()[1].split(None, 1) == [
            "zz_tools_test_loss",
            "My own loss, for the list test.",
        ]
    finally:
        pbgml.registry.loss.unregister("zz_tools_test_loss")


# -- show ---------------------------------------------------------------------------------
def _yaml_of_show(text: str) -> object:
    return yaml.safe_load(text)  # the comments drop out: what is left is the config


def test_show_lists_every_field_with_type_default_and_doc(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _out(capsys, "show", "optimizer/adamw")
    assert code == 0
    conf = config_for("optimizer", "adamw")
    # the YAML is the config's own, so it can be pasted into an experiment
    assert _yaml_of_show(out) == yaml.safe_load(pbgml.to_yaml(conf))
    for field in dataclasses.fields(conf):
        assert f"\n{field.name}:" in out  # every field, param_groups included
        if not field.name.startswith("_"):
            assert f"\n# {field.name} (" in out  # with its comment
    assert "\n# lr (float, default 0.001):\n#   learning rate" in out  # torch's Args: section
    assert "\n# betas (tuple[float, float], default [0.9, 0.999])" in out
    assert "param_groups" in out
    assert "no_decay" in out


def test_show_reads_numpydoc_parameters_and_marks_required_fields(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _out(capsys, "show", "model", "mlp")
    assert code == 0
    assert "# in_features (int, required):" in out
    assert "in_features: ???" in out
    assert "# hidden (tuple[int, ...], default [128]):\n#   The width of each hidden layer" in out
    assert out.startswith("# model/mlp: A multi-layer perceptron")


def test_show_takes_aliases_and_a_name_alone(capsys: pytest.CaptureFixture[str]) -> None:
    _, by_alias, _ = _out(capsys, "show", "loss/MSELoss")
    _, by_name, _ = _out(capsys, "show", "loss/mse")
    assert by_alias == by_name
    assert by_name.startswith("# loss/mse: ")
    _, alone, _ = _out(capsys, "show", "adamw")
    _, with_group, _ = _out(capsys, "show", "optimizer", "adamw")
    assert alone == with_group
    assert alone.startswith("# optimizer/adamw: ")
    code, _, err = _out(capsys, "show", "mse")  # a loss and a metric
    assert code == 2
    assert "say which (loss/mse, metric/mse)" in err


def test_show_a_preset_prints_its_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _out(capsys, "show", "experiment/digits_mlp")
    assert code == 0
    source = Path(str(pbgml.__file__)).parent / "conf" / "experiment" / "digits_mlp.yaml"
    assert out.startswith("# experiment preset digits_mlp: pbgml train experiment=digits_mlp\n")
    assert out.endswith(source.read_text(encoding="utf-8"))
    assert _out(capsys, "show", "digits_mlp")[1] == out  # a preset's name alone


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["optimizer/adamx"], "unknown optimizer 'adamx'. Did you mean 'adamw'?"),
        (["optimiser/adamw"], "unknown group 'optimiser'. Did you mean 'optimizer'?"),
        (
            ["experiment/digits_mlx"],
            "unknown experiment preset 'digits_mlx'. Did you mean 'digits_mlp'?",
        ),
        (["optimizer"], "which optimizer? pbgml show optimizer/NAME"),
        (["adamx"], "Did you mean optimizer/adamw?"),
    ],
)
def test_show_mistakes_exit_2_with_the_fix(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = _out(capsys, "show", *argv)
    assert code == 2
    assert out == ""
    assert message in err
    assert "Traceback" not in err


def test_argparse_mistakes_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _out(capsys, "show", "a", "b", "c")
    assert code == 2
    assert "unrecognized arguments: c" in err
    code, out, _ = _out(capsys, "list", "--help")
    assert code == 0
    assert out.startswith("usage: pbgml list")


# -- check --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def full_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The digits preset as one complete YAML file, with a typo'd key (optimizer.lrr)."""
    text = pbgml.to_yaml(pbgml.hydra.presets("experiment")["digits_mlp"])
    lines = text.splitlines()
    at = lines.index("optimizer:") + 1
    lines.insert(at + 1, "  lrr: 0.5")
    path = tmp_path_factory.mktemp("check") / "exp.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_check_a_valid_preset_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["digits_mlp"], ["experiment=digits_mlp", "optimizer.lr=0.1"]):
        code, out, _ = _out(capsys, "check", *argv)
        assert code == 0
        assert out.startswith("ok: experiment digits_mlp")
        assert out.rstrip().endswith("is valid")


def test_check_a_typo_exits_2_with_every_problem(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _out(
        capsys, "check", "digits_mlp", "optimizer.lrr=0.1", "model.in_features=abc"
    )
    assert code == 2
    assert out.splitlines()[0] == "pbgml check: 2 problems in experiment digits_mlp (2 overrides)"
    assert "  optimizer.lrr: unknown key for" in out
    assert "did you mean 'lr'?" in out
    assert "  model.in_features: expected int, got 'abc'" in out
    assert "Traceback" not in out + err


def test_check_a_file_names_the_line(capsys: pytest.CaptureFixture[str], full_tree: Path) -> None:
    code, out, _ = _out(capsys, "check", str(full_tree))
    assert code == 2
    line = full_tree.read_text().splitlines().index("  lrr: 0.5") + 1
    assert "optimizer.lrr: unknown key for" in out
    assert f"did you mean 'lr'? ({full_tree}, line {line})" in out


def test_check_a_file_with_overrides(capsys: pytest.CaptureFixture[str], full_tree: Path) -> None:
    code, out, _ = _out(capsys, "check", str(full_tree), "~optimizer.lrr", "optimizer.lr=0.05")
    assert (code, out) == (0, f"ok: {full_tree} (2 overrides) is valid\n")
    # a group picked by name is the registered component's whole config
    code, out, _ = _out(
        capsys, "check", str(full_tree), "~optimizer.lrr", "optimizer=sgd", "optimizer.momentum=0.9"
    )
    assert code == 0, out
    code, out, _ = _out(capsys, "check", str(full_tree), "~optimizer.lrr", "scheduler=step_lr")
    assert code == 2
    assert "scheduler.step_size: missing required value" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["digits_mlp", "a=[1,"], "bad override 'a=[1,'"),
        (["digits_mlp", "optimizer.lr=0.1,0.2"], "sweeps run with pbgml train -m"),
        (
            ["digits_mlx"],
            "no such file or experiment preset 'digits_mlx'. Did you mean 'digits_mlp'?",
        ),
        (["missing.yaml"], "no such file or directory: missing.yaml"),
        ([], "what to check?"),
    ],
)
def test_check_mistakes_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = _out(capsys, "check", *argv)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_check_an_unknown_option_says_did_you_mean(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _out(capsys, "check", "digits_mlp", "optimizer=adamx")
    assert code == 2
    assert "'adamx'" in out + err
    assert "did you mean 'adamw'?" in (out + err).lower()
    assert "Traceback" not in out + err


def test_check_a_hydra_experiment_file_says_how(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("defaults:\n  - override /model: mlp\nseed: 1\n")
    code, _, err = _out(capsys, "check", str(path))
    assert code == 2
    assert "has a Hydra defaults list" in err
    assert "experiment=mine" in err


# -- real processes -----------------------------------------------------------------------
def test_python_m_pbgml_list_is_light() -> None:
    code = (
        "import sys; from pbgml.cli import main; main(['list', 'experiment']); "
        "main(['list', 'optimizer']); "
        "print(sorted(m for m in ('hydra', 'hydra_zen', 'omegaconf') if m in sys.modules))"
    )
    done = _run(sys.executable, "-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"  # neither Hydra nor a config was built
    done = _run(sys.executable, "-m", "pbgml", "list", "experiment")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:3] == ["cifar10_lenet", "digits_mlp", "mnist_lenet"]


@pytest.mark.skipif(not PBGML_SCRIPT.exists(), reason="the pbgml console script is not installed")
def test_the_pbgml_script_exits_2_without_a_traceback(full_tree: Path) -> None:
    done = _run(str(PBGML_SCRIPT), "check", str(full_tree))
    assert done.returncode == 2
    assert "optimizer.lrr: unknown key" in done.stdout
    assert "did you mean 'lr'" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    done = _run(str(PBGML_SCRIPT), "show", "optimizer/adamx")
    assert done.returncode == 2
    assert "Did you mean 'adamw'?" in done.stderr
    assert "Traceback" not in done.stderr
    done = _run(str(PBGML_SCRIPT), "list", "--no-such-flag")
    assert done.returncode == 2
    assert "unrecognized arguments: --no-such-flag" in done.stderr
    assert "Traceback" not in done.stderr


def test_check_a_users_own_experiment(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user project's conf/experiment/my_exp.yaml (a Hydra defaults list) is composed."""
    folder = tmp_path / "conf" / "experiment"
    folder.mkdir(parents=True)
    (folder / "my_exp.yaml").write_text(
        "# @package _global_\n"
        "defaults:\n  - override /model: mlp\n  - override /data: digits\n"
        "  - override /optimizer: sgd\n"
        "model:\n  in_features: 64\n  out_features: 10\n"
        "optimizer:\n  lr: 0.05\n  momentum: 0.9\n"
    )
    monkeypatch.chdir(tmp_path)
    code, out, _ = _out(capsys, "check", "experiment=my_exp")
    assert (code, out) == (0, "ok: experiment my_exp is valid\n")
    code, out, _ = _out(capsys, "check", "conf/experiment/my_exp.yaml")
    assert (code, out) == (0, "ok: conf/experiment/my_exp.yaml is valid\n")
    code, out, _ = _out(capsys, "check", "my_exp", "optimizer.lrr=1", "data.batch_size=0")
    assert code == 2
    assert out.splitlines() == [
        "pbgml check: 2 problems in experiment my_exp (2 overrides)",
        "  optimizer.lrr: unknown key for pbgml.optim.SGD; did you mean 'lr'?",
        "  data.batch_size: batch_size=0 must be an int >= 1",
    ]


def test_every_registered_component_shows_as_its_own_yaml() -> None:
    """Registry-driven: each entry's commented YAML is its config's YAML, every field documented."""
    from pbgml.cli._show import show_component

    for group, reg in pbgml.registry.groups().items():
        for name in reg.names():
            text = show_component(group, name)
            conf = config_for(group, name)
            assert yaml.safe_load(text) == yaml.safe_load(pbgml.to_yaml(conf)), (group, name)
            for field in dataclasses.fields(conf):
                if not field.name.startswith("_"):
                    assert f"\n# {field.name} (" in text, (group, name, field.name)


def test_list_names_a_plugin_entry_without_importing_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    reg = pbgml.registry.loss
    problem = reg._add_pending("zz_plugin_loss", "zz_no_such_module:Loss", "zz-dist")
    assert problem is None
    try:
        code, out, _ = _out(capsys, "list", "loss", "zz_plugin*")
        assert code == 0
        assert "zz_plugin_loss  (plugin, not imported yet: zz_no_such_module.Loss)" in out
        assert "zz_no_such_module" not in sys.modules
    finally:
        reg._drop("zz_plugin_loss")
