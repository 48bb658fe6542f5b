"""Config hardening: mistakes that used to pass, hostile inputs, causes named."""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf

import pbgml
from pbgml import ConfigError
from pbgml.configs import DigitsDataConf, ExperimentConf, MLPConf

MODEL = {"_target_": "mlp", "in_features": 4, "out_features": 2}
DATA = {"_target_": "synthetic_classification"}


def problems(cfg: object, **kwargs: object) -> list[pbgml.ConfigIssue]:
    with pytest.raises(ConfigError) as info:
        pbgml.check(cfg, **kwargs)  # type: ignore[arg-type]
    return list(info.value.errors)


# -- no silently ignored mistake ----------------------------------------------------


def test_unknown_top_level_key_of_an_experiment() -> None:
    (issue,) = problems({"model": MODEL, "data": DATA, "optimzer": {"_target_": "sgd"}})
    assert issue.key == "optimzer"
    assert issue.suggestion == "optimizer"
    assert "did you mean 'optimizer'?" in issue.message


def test_unknown_key_of_the_trainer_settings() -> None:
    (issue,) = problems({"model": MODEL, "data": DATA, "trainer": {"max_epoch": 3}})
    assert issue.key == "trainer.max_epoch"
    assert issue.suggestion == "max_epochs"


def test_settings_are_type_checked() -> None:
    (issue,) = problems({"model": MODEL, "data": DATA, "seed": "twelve"})
    assert (issue.key, issue.kind) == ("seed", "type")
    assert "expected int or None, got 'twelve'" in issue.message


@pytest.mark.parametrize("value", [["adamw"], "adamw"])
def test_a_string_or_list_where_a_node_belongs(value: object) -> None:
    (issue,) = problems({"model": MODEL, "data": DATA, "optimizer": value})
    assert (issue.key, issue.kind) == ("optimizer", "type")
    assert "expected a optimizer config" in issue.message or "expected an" in issue.message


def test_missing_required_groups_and_an_empty_file(tmp_path: Path) -> None:
    found = problems({"optimizer": {"_target_": "sgd"}})
    assert {(e.key, e.kind) for e in found} == {("model", "missing"), ("data", "missing")}
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n")
    (issue,) = problems(empty)
    assert issue.kind == "syntax"
    assert "empty" in issue.message
    assert issue.source == str(empty)


def test_typed_experiment_is_checked_against_its_schema() -> None:
    cfg = ExperimentConf(model=MLPConf(in_features=64, out_features=10), data=DigitsDataConf())
    pbgml.check(cfg)
    node = OmegaConf.structured(cfg)
    node.seed = None
    pbgml.check(node)


@pytest.mark.parametrize(
    ("key", "suggestion"), [("_taget_", "_target_"), ("_partial", "_partial_")]
)
def test_typos_of_reserved_keys(key: str, suggestion: str) -> None:
    cfg: dict[str, object] = {"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.1}
    if key == "_taget_":
        cfg = {"_taget_": "torch.optim.SGD", "lr": 0.1}
    else:
        cfg[key] = True
    found = problems(cfg)
    assert any(e.suggestion == suggestion and e.key == key for e in found), found


@pytest.mark.parametrize(
    ("key", "value"), [("_recursive_", "false"), ("_convert_", "everything"), ("_partial_", 1)]
)
def test_invalid_values_of_reserved_keys(key: str, value: object) -> None:
    (issue,) = problems(
        {"_target_": "torch.nn.Linear", "in_features": 2, "out_features": 1, key: value}
    )
    assert (issue.key, issue.kind) == (key, "type")


def test_optimizer_and_scheduler_of_an_experiment_are_partial_without_saying_so() -> None:
    cfg = {
        "model": MODEL,
        "data": DATA,
        "optimizer": {"_target_": "sgd", "lr": 0.1},  # no _partial_: true
        "scheduler": {"_target_": "step_lr", "step_size": 2},
    }
    pbgml.check(cfg)
    parts = pbgml.instantiate(cfg)
    optimizer = parts["optimizer"](parts["model"])
    assert optimizer.defaults["lr"] == 0.1
    assert parts["scheduler"](optimizer).interval == "epoch"


def test_outside_an_experiment_a_missing_params_says_how_to_fix() -> None:
    (issue,) = problems({"_target_": "torch.optim.SGD", "lr": 0.1}, key="optimizer")
    assert issue.key == "optimizer.params"
    assert "set _partial_: true" in issue.message


# -- causes named -------------------------------------------------------------------


def test_an_import_error_inside_an_allowed_module_surfaces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "brokenpkg_for_pbgml"
    package.mkdir()
    (package / "__init__.py").write_text("import libfoo_that_is_not_installed\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    (issue,) = problems({"_target_": "brokenpkg_for_pbgml.Model"}, allow=["brokenpkg_for_pbgml"])
    assert issue.kind == "import_error"
    assert "ModuleNotFoundError: No module named 'libfoo_that_is_not_installed'" in issue.message
    sys.modules.pop("brokenpkg_for_pbgml", None)


def test_yaml_syntax_errors_name_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  _target_: mlp\n  hidden: [1, 2\n")
    (issue,) = problems(path)
    assert issue.kind == "syntax"
    assert issue.source == str(path)
    assert issue.line is not None
    assert "column" in issue.message


def test_a_long_value_is_shortened_in_messages() -> None:
    (issue,) = problems(
        {"_target_": "torch.nn.Linear", "in_features": "x" * 10_000, "out_features": 1}
    )
    assert len(issue.message) < 200


# -- hostile input ------------------------------------------------------------------


def test_lookup_runs_no_finder_of_a_module_that_is_not_allowed() -> None:
    script = textwrap.dedent(
        """
        import sys, pbgml
        try:
            pbgml.check({"_target_": "distutils.core.run_setup"})
        except pbgml.ConfigError as err:
            print(err.errors[0].kind)
        print("setuptools" in sys.modules)
        """
    )
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert out == ["not_allowed", "False"]


def test_lookup_never_calls_a_module_getattr_hook() -> None:
    (issue,) = problems({"_target_": "torch.classes.some_ns.SomeClass"})
    assert issue.kind == "not_found"


def test_deep_yaml_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("a: " + "[" * 3000 + "]" * 3000 + "\n")
    start = time.perf_counter()
    (issue,) = problems(path)
    assert time.perf_counter() - start < 5
    assert issue.kind == "syntax"
    assert "deeper than" in issue.message
    assert len(str(issue)) < 400
    indented = tmp_path / "indented.yaml"
    indented.write_text("".join(f"{'  ' * i}k{i}:\n" for i in range(400)) + "  " * 400 + "x: 1\n")
    (issue,) = problems(indented)
    assert "deeper than" in issue.message
    assert len(str(issue)) < 400


# -- interpolations: allowed resolvers, bounded expansion, exact round trip -----------


def test_only_allowed_resolvers_run(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def evil(text: str) -> str:
        calls.append(text)
        return "pwned"

    OmegaConf.register_new_resolver("eval_for_pbgml_test", evil)
    try:
        cfg = {"net": {"_target_": "torch.nn.Linear", "in_features": 2, "out_features": 1}}
        cfg["note"] = "${eval_for_pbgml_test:rm -rf}"  # type: ignore[assignment]
        (issue,) = problems(cfg)
        assert issue.kind == "interpolation"
        assert "'eval_for_pbgml_test' is not allowed" in issue.message
        with pytest.raises(ConfigError):
            pbgml.instantiate(OmegaConf.create(cfg))
        with pytest.raises(ConfigError):
            pbgml.load_yaml("a: ${eval_for_pbgml_test:x}\n")
        assert calls == []  # refused, never called
    finally:
        OmegaConf.clear_resolver("eval_for_pbgml_test")


def test_the_environment_is_read_only_when_enabled_in_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PBGML_TEST_WIDTH", "7")
    cfg = {
        "_target_": "torch.nn.Linear",
        "in_features": "${oc.env:PBGML_TEST_WIDTH}",
        "out_features": 1,
    }
    (issue,) = problems(cfg)
    assert "resolvers=['oc.env']" in issue.message
    layer = pbgml.instantiate(
        {**cfg, "in_features": "${oc.decode:${oc.env:PBGML_TEST_WIDTH}}"}, resolvers=["oc.env"]
    )
    assert layer.in_features == 7
    assert pbgml.load_yaml("w: ${oc.env:PBGML_TEST_WIDTH}", resolvers=["oc.env"]).w == "7"


def test_safe_resolvers_and_plain_references_still_work() -> None:
    cfg = OmegaConf.create(
        {
            "width": 3,
            "net": {"_target_": "torch.nn.Linear", "in_features": "${width}", "out_features": 1},
            "keys": "${oc.dict.keys:net}",
        }
    )
    assert pbgml.instantiate(cfg)["net"].in_features == 3


def test_interpolation_expansion_is_bounded(tmp_path: Path) -> None:
    lines = ["a0: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for i in range(1, 9):
        prev = f"'${{a{i - 1}}}'"
        lines.append(f"a{i}: [{', '.join([prev] * 10)}]")
    path = tmp_path / "laughs.yaml"
    path.write_text("\n".join(lines) + "\n")
    assert len(path.read_text()) < 1000
    start = time.perf_counter()
    (issue,) = problems(path)
    assert time.perf_counter() - start < 5
    assert issue.kind == "interpolation"
    assert "expand to more than" in issue.message
    strings = tmp_path / "strings.yaml"
    strings.write_text(
        "s0: xxxxxxxxxx\n"
        + "".join(f"s{i}: ${{s{i - 1}}}${{s{i - 1}}}${{s{i - 1}}}\n" for i in range(1, 20))
    )
    (issue,) = problems(strings)
    assert "expand to more than" in issue.message


def test_to_yaml_writes_interpolations_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PBGML_SECRET", "hunter2")
    node = OmegaConf.create(
        {"token": "${oc.env:PBGML_SECRET}", "width": 2, "w2": "${width}", "raw": "\\${x}"}
    )
    text = pbgml.to_yaml(node)
    assert "hunter2" not in text
    assert "${oc.env:PBGML_SECRET}" in text
    assert "w2: ${width}" in text
    again = OmegaConf.create(text)
    assert again.raw == "${x}"  # still escaped: reads back as the literal text
    assert OmegaConf.to_container(again, resolve=False) == OmegaConf.to_container(
        node, resolve=False
    )


def test_a_registry_name_gets_the_meta_defaults_of_its_typed_config() -> None:
    from pbgml.configs import WarmupCosineLRConf

    node = {"_target_": "warmup_cosine", "_partial_": True, "warmup_steps": 2, "total_steps": 9}
    assert WarmupCosineLRConf(warmup_steps=2).interval == "step"
    assert pbgml.instantiate(node, key="scheduler").interval == "step"  # as the typed config
    assert pbgml.instantiate({**node, "interval": "epoch"}, key="scheduler").interval == "epoch"
    plain = {"_target_": "step_lr", "_partial_": True, "step_size": 2}
    assert pbgml.instantiate(plain, key="scheduler").interval == "epoch"  # the group's


def test_load_yaml_with_a_schema_types_a_node_named_by_its_registry_name() -> None:
    with pytest.raises(ConfigError, match=r"optimizer\.learning_rate"):
        pbgml.load_yaml("optimizer: {_target_: adamw, learning_rate: 0.1}", schema=ExperimentConf)
    with pytest.raises(ConfigError, match=r"optimizer\.eps"):
        pbgml.load_yaml("optimizer: {_target_: adamw, eps: small}", schema=ExperimentConf)
    cfg = pbgml.load_yaml("optimizer: {_target_: sgd, lr: 0.5}", schema=ExperimentConf)
    assert cfg.optimizer._target_ == "sgd"
    assert cfg.optimizer.momentum == 0.0  # SGDConf's fields, not AdamWConf's
    assert "betas" not in cfg.optimizer


def test_a_missing_extra_is_reported_by_check(monkeypatch: pytest.MonkeyPatch) -> None:
    import pbgml._optional

    real = pbgml._optional.installed
    monkeypatch.setattr(pbgml._optional, "installed", lambda m: m != "sklearn" and real(m))
    found = problems({"model": MODEL, "data": {"_target_": "digits"}})
    (issue,) = [e for e in found if e.kind == "missing_extra"]
    assert issue.key == "data"
    assert "needs scikit-learn" in issue.message
    assert "pip install pbgml[sklearn]" in issue.message
    monkeypatch.setattr(pbgml._optional, "installed", real)
    pbgml.check({"model": MODEL, "data": {"_target_": "digits"}})  # installed here: fine


@pytest.mark.parametrize(
    ("cfg", "key", "expected"),
    [
        ({"_target_": "digits", "batch_size": 0}, "data.batch_size", "must be an int >= 1"),
        ({"_target_": "digits", "val_split": 1.5}, "data.val_split", "fraction in (0, 1)"),
        ({"_target_": "datamodule", "num_workers": -1}, "data.num_workers", ">= 0"),
        ({"_target_": "adamw", "_partial_": True, "lr": -0.1}, "optimizer.lr", ">= 0"),
        ({"_target_": "sgd", "_partial_": True, "momentum": -1}, "optimizer.momentum", ">= 0"),
    ],
)
def test_value_rules_of_components_are_checked_before_building(
    cfg: dict[str, object], key: str, expected: str
) -> None:
    group = key.partition(".")[0]
    (issue,) = problems(cfg, key=group)
    assert (issue.key, issue.kind) == (key, "value")
    assert expected in issue.message


def test_the_rule_lives_in_the_component() -> None:
    from pbgml.data import DataError, DataModule, digits

    with pytest.raises(DataError, match="batch_size=0 must be an int >= 1"):
        DataModule(batch_size=0)
    with pytest.raises(DataError, match="batch_size=0 must be an int >= 1"):
        digits(batch_size=0)
    import torch

    with pytest.raises(ValueError, match="Invalid learning rate"):  # torch's own rule
        torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=-0.1)
    pbgml.check(
        {"_target_": "adamw", "_partial_": True, "lr": "${oc.select:x,0.1}"}, key="optimizer"
    )


# -- found in review: resolver policy enforced at resolve time, depth, later arguments --

_SNEAKY = [
    "n: evil_for_pbgml\na: ${${n}:1}\n",  # a resolver name built from an interpolation
    "x: env\na: ${oc.${x}:PBGML_SECRET}\n",
    "n: oc.env\na: ${${n}:PBGML_SECRET}\n",
    "a: \\\\${oc.env:PBGML_SECRET}\n",  # an escaped backslash, then a live interpolation
    "a: ${oc.decode:'\\${oc.env:PBGML_SECRET}'}\n",  # a string oc.decode resolves itself
    "a: ${oc.decode:'\\${evil_for_pbgml:2}'}\n",
]


@pytest.mark.parametrize("text", _SNEAKY)
def test_no_spelling_of_a_resolver_gets_past_the_policy(
    text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []
    monkeypatch.setenv("PBGML_SECRET", "s3cr3t")
    OmegaConf.register_new_resolver("evil_for_pbgml", lambda *a: calls.append(a) or "x")
    try:
        with pytest.raises(ConfigError) as info:
            pbgml.load_yaml(text)
        assert "s3cr3t" not in str(info.value)
        path = tmp_path / "c.yaml"
        path.write_text(text)
        with pytest.raises(ConfigError):
            pbgml.check(path)
        assert calls == []
    finally:
        OmegaConf.clear_resolver("evil_for_pbgml")


def test_escaped_text_stays_text_in_what_load_yaml_returns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PBGML_SECRET", "s3cr3t")
    node = pbgml.load_yaml("a: \\${oc.env:PBGML_SECRET}\n")
    assert node.a == "${oc.env:PBGML_SECRET}"  # read later: still text, never resolved


def test_a_decode_bomb_is_refused_fast(tmp_path: Path) -> None:
    lines = ["a0: 1"]
    for i in range(1, 8):
        inner = ",".join([f"\\${{a{i - 1}}}"] * 10)
        lines.append(f"a{i}: ${{oc.decode:'[{inner}]'}}")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    start = time.perf_counter()
    with pytest.raises(ConfigError):
        pbgml.check(path)
    assert time.perf_counter() - start < 5


def test_compact_block_nesting_is_bounded_too() -> None:
    with pytest.raises(ConfigError, match="deeper than"):
        pbgml.load_yaml("a:\n  " + "- " * 500 + "x\n")
    with pytest.raises(ConfigError, match="not a config value"):
        pbgml.load_yaml("a: !!set {x, y}\n")


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ({"optimizer": {"_target_": "adamw", "params": []}}, "optimizer.params"),
        (
            {"scheduler": {"_target_": "step_lr", "step_size": 1, "optimizer": 1}},
            "scheduler.optimizer",
        ),
        ({"task": {"_target_": "classification", "model": MODEL}}, "task.model"),
        ({"trainer": {"callbacks": []}}, "trainer.callbacks"),
        ({"callbacks": {"b": {}}}, "callbacks.b"),
        ({"logger": {"csv": "csv"}}, "logger.csv"),
    ],
)
def test_what_the_run_supplies_cannot_be_set_in_a_node(extra: dict[str, object], key: str) -> None:
    (issue,) = problems({"model": MODEL, "data": DATA, **extra})
    assert issue.key == key


def test_trainer_and_callback_value_rules_are_checked_before_anything_is_built() -> None:
    """``check`` applies the Trainer's and the callbacks' own rules to literal values."""
    from pbgml.configs import DigitsDataConf, ExperimentConf, MLPConf, TrainerConf

    cfg = ExperimentConf(
        model=MLPConf(in_features=64, out_features=10),
        data=DigitsDataConf(),
        trainer=TrainerConf(
            precision="16", max_epochs=-3, strategy="dpp", limit_val_batches=1.5, accelerator="cuad"
        ),
        callbacks={
            "es": {"_target_": "early_stopping", "monitor": "val/loss", "mode": "mn"},
            "ck": {"_target_": "model_checkpoint", "save_top_k": -2},
            "bar": {"_target_": "progress_bar", "refresh_rate": 0},
        },
    )
    with pytest.raises(pbgml.ConfigError) as info:
        pbgml.check(cfg)
    found = {e.key: e.message for e in info.value.errors}
    assert set(found) == {
        "trainer.precision",
        "trainer.max_epochs",
        "trainer.strategy",
        "trainer.limit_val_batches",
        "trainer.accelerator",
        "callbacks.es.mode",
        "callbacks.ck.save_top_k",
        "callbacks.bar.refresh_rate",
    }
    assert "Did you mean '16-mixed'?" in found["trainer.precision"]
    assert "Did you mean 'ddp'?" in found["trainer.strategy"]
    assert "Did you mean 'cuda'?" in found["trainer.accelerator"]
    assert "Did you mean 'min'?" in found["callbacks.es.mode"]
    # the same values are refused by the components themselves (the rule lives once)
    from pbgml.train import EarlyStopping, ModelCheckpoint, Trainer

    with pytest.raises(ValueError, match="save_top_k"):
        ModelCheckpoint(save_top_k=-2)
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(monitor="val/loss", mode="mn")
    with pytest.raises(ValueError, match="precision"):
        Trainer(precision="16")
    good = ExperimentConf(
        model=MLPConf(in_features=64, out_features=10),
        data=DigitsDataConf(),
        trainer=TrainerConf(precision="bf16-mixed", limit_val_batches=3, max_epochs=-1),
    )
    pbgml.check(good)
    good.trainer.precision = 32  # an int, as an unquoted YAML 32 reads: the Trainer takes it
    pbgml.check(good)
    good.trainer.precision = 16
    with pytest.raises(pbgml.ConfigError, match="Did you mean '16-mixed'"):
        pbgml.check(good)
