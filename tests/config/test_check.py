from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from omegaconf import OmegaConf

import pbgml
from pbgml import ConfigError, registry
from pbgml._names import snake_case
from pbgml.configs import AdamWConf, SGDConf, StepLRConf, config_for


def problems(cfg: Any, **kw: Any) -> list[pbgml.ConfigIssue]:
    with pytest.raises(ConfigError) as info:
        pbgml.check(cfg, **kw)
    return list(info.value.errors)


class Marked(torch.nn.Module):
    """A component whose constructor leaves a marker: check must never call it."""

    marker: Path | None = None

    def __init__(self, width: int, depth: int = 2) -> None:
        super().__init__()
        assert Marked.marker is not None
        Marked.marker.write_text("constructed")


@pytest.fixture
def marked(tmp_path: Path, scratch_registry_names: list[tuple[str, str]]) -> Path:
    Marked.marker = tmp_path / "constructed.txt"
    registry.model.register(Marked, name="marked_model")
    scratch_registry_names.append(("model", "marked_model"))
    return Marked.marker


# an experiment needs data: a small synthetic data module stands in where a test is about
# the other fields
DATA = {"_target_": "synthetic_classification"}


def test_check_constructs_nothing(marked: Path) -> None:
    pbgml.check({"model": {"_target_": "marked_model", "width": 3}, "data": DATA})
    pbgml.check({"_target_": f"{Marked.__module__}.Marked", "width": 3})
    assert not marked.exists()
    pbgml.instantiate({"_target_": "marked_model", "width": 3}, key="model")
    assert marked.exists()  # the marker works: instantiate does call it


def test_accepts_every_input_kind(tmp_path: Path) -> None:
    good = {"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.1}
    path = tmp_path / "opt.yaml"
    path.write_text(OmegaConf.to_yaml(good))
    for cfg in (SGDConf(lr=0.1), SGDConf, OmegaConf.create(good), good, path, str(path)):
        pbgml.check(cfg)
    for cfg in (
        AdamWConf(lr="fast"),
        OmegaConf.create({**good, "lr": "fast"}),
        {**good, "lr": "x"},
    ):  # type: ignore[arg-type]
        assert [e.kind for e in problems(cfg)] == ["type"]


def test_unknown_key_with_did_you_mean() -> None:
    (issue,) = problems(
        {"_target_": "torch.optim.AdamW", "_partial_": True, "lrr": 1e-3}, key="optimizer"
    )
    assert issue.key == "optimizer.lrr"
    assert issue.kind == "unknown_key"
    assert issue.suggestion == "lr"
    assert str(issue) == "optimizer.lrr: unknown key for torch.optim.AdamW; did you mean 'lr'?"


def test_no_absurd_suggestion_below_cutoff() -> None:
    (issue,) = problems({"_target_": "torch.optim.AdamW", "_partial_": True, "banana": 1})
    assert issue.suggestion is None
    assert "did you mean" not in issue.message
    assert "its parameters are:" in issue.message
    assert "weight_decay" in issue.message


def test_wrong_types_against_signature_and_typed_config() -> None:
    cfg = {
        "model": {"_target_": "torch.nn.Linear", "in_features": "abc", "out_features": 2},
        "optimizer": {"_target_": "pbgml.optim.AdamW", "_partial_": True, "lr": "fast"},
        "loss": {"_target_": "torch.nn.MSELoss", "reduction": 3},
        "scheduler": {"_target_": "step_lr", "_partial_": True, "step_size": 2.5},
        "data": DATA,
    }
    found = {e.key: e.message for e in problems(cfg)}
    assert found == {
        "model.in_features": "expected int, got 'abc'",
        "optimizer.lr": "expected float, got 'fast'",  # AdamWConf's type
        "loss.reduction": "expected str, got 3",
        "scheduler.step_size": "expected int, got 2.5",
    }
    # torch's own class (old files say torch.optim.AdamW): the same typed config
    cfg["optimizer"]["_target_"] = "torch.optim.AdamW"
    assert {e.key: e.message for e in problems(cfg)}["optimizer.lr"] == "expected float, got 'fast'"
    cfg["optimizer"]["_target_"] = "torch.optim.RAdam"  # no typed config: torch's signature
    assert {e.key: e.message for e in problems(cfg)}["optimizer.lr"] == (
        "expected float or Tensor, got 'fast'"
    )


def test_missing_required_values() -> None:
    found = problems({"model": {"_target_": "torch.nn.Linear", "in_features": 3}, "data": "???"})
    assert {(e.key, e.kind) for e in found} == {
        ("model.out_features", "missing"),
        ("data", "missing"),
    }
    (issue,) = problems(OmegaConf.structured(StepLRConf), key="scheduler")
    assert (issue.key, issue.kind) == ("scheduler.step_size", "missing")


def test_partials_whose_arguments_cannot_be_supplied_later() -> None:
    pbgml.check({"_target_": "torch.optim.SGD", "_partial_": True}, key="optimizer")  # params later
    (issue,) = problems({"_target_": "step_lr", "_partial_": True}, key="scheduler")
    assert issue.key == "scheduler.step_size"
    assert issue.kind == "partial"
    assert "only 'optimizer' is passed in" in issue.message


def test_unknown_registry_names() -> None:
    (issue,) = problems(
        {
            "optimizer": {"_target_": "adamx", "_partial_": True},
            "model": {"_target_": "mlp", "in_features": 2, "out_features": 2},
            "data": DATA,
        }
    )
    assert issue.key == "optimizer._target_"
    assert issue.kind == "unknown_name"
    assert issue.suggestion == "adamw"
    assert "unknown optimizer 'adamx'. Did you mean 'adamw'?" in issue.message


def test_all_errors_at_once_with_full_paths() -> None:
    cfg = {
        "optimizer": {"_target_": "torch.optim.AdamW", "_partial_": True, "lrr": 1, "eps": "x"},
        "model": {
            "_target_": "torch.nn.Sequential",
            "_args_": [
                {"_target_": "torch.nn.Linear", "in_features": 2},
                {"_target_": "os.system", "command": "true"},
            ],
        },
        "data": DATA,
    }
    err = problems(cfg)
    keys = [e.key for e in err]
    assert keys == [
        "optimizer.lrr",
        "optimizer.eps",
        "model._args_.0.out_features",
        "model._args_.1._target_",
    ]
    with pytest.raises(ConfigError) as info:
        pbgml.check(cfg)
    lines = str(info.value).splitlines()
    assert lines[0] == "4 problems in the config"
    assert all(line.startswith("  ") for line in lines[1:])


def test_yaml_file_name_and_line(tmp_path: Path) -> None:
    path = tmp_path / "experiment.yaml"
    path.write_text(
        "optimizer:\n"
        "  _target_: torch.optim.AdamW\n"
        "  _partial_: true\n"
        "  lrr: 0.1\n"
        "model:\n"
        "  _target_: torch.nn.Linear\n"
        "  in_features: abc\n"
        "  out_features: 2\n"
        "data:\n"
        "  _target_: synthetic_classification\n"
    )
    with pytest.raises(ConfigError) as info:
        pbgml.check(path)
    err = info.value
    assert str(err).splitlines() == [
        f"2 problems in {path}",
        f"  optimizer.lrr: unknown key for torch.optim.AdamW; did you mean 'lr'? ({path}, line 4)",
        f"  model.in_features: expected int, got 'abc' ({path}, line 7)",
    ]
    assert [(e.source, e.line) for e in err.errors] == [(str(path), 4), (str(path), 7)]


def test_missing_yaml_file_and_bad_yaml(tmp_path: Path) -> None:
    (issue,) = problems(tmp_path / "nope.yaml")
    assert issue.kind == "not_found"
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    (issue,) = problems(bad)
    assert issue.kind == "syntax"
    assert issue.source == str(bad)


def test_interpolations_are_resolved_or_reported() -> None:
    cfg = OmegaConf.create(
        {
            "hidden": 4,  # a tree of components (not an experiment) may hold variables
            "net": {"_target_": "torch.nn.Linear", "in_features": "${hidden}", "out_features": 1},
        }
    )
    pbgml.check(cfg)
    broken = OmegaConf.create(
        {"net": {"_target_": "torch.nn.Linear", "in_features": "${nope}", "out_features": 1}}
    )
    (issue,) = problems(broken)
    assert issue.kind == "interpolation"
    assert issue.key == "net.in_features"


def test_allowlist_in_config_is_rejected() -> None:
    found = problems({"_allow_": ["os"], "x": {"_target_": "os.system", "command": "true"}})
    assert [e.key for e in found] == ["_allow_", "x._target_"]
    assert "pass it in code" in found[0].message


def test_error_records_are_structured() -> None:
    err = problems({"_target_": "torch.optim.SGD", "_partial_": True, "lrr": 1})[0]
    assert (err.key, err.kind, err.suggestion, err.source, err.line) == (
        "lrr",
        "unknown_key",
        "lr",
        None,
        None,
    )


def test_check_of_every_registered_config() -> None:
    """Every entry's config passes check once its required fields are filled."""
    for group, reg in registry.groups().items():
        for name in reg.names():
            node = OmegaConf.structured(config_for(group, name))
            missing = [
                k for k in node if not str(k).startswith("_") and OmegaConf.is_missing(node, k)
            ]
            if missing and not reg.partial:
                issues = problems(node, key=group)
                assert {e.key for e in issues} == {f"{group}.{k}" for k in missing}, name
            elif not missing and snake_case(name) != "reduce_lr_on_plateau":  # needs a monitor
                pbgml.check(node, key=group)


def test_design_example_checks_and_builds() -> None:
    from pbgml.configs import DigitsDataConf, ExperimentConf, MLPConf, TrainerConf

    cfg = ExperimentConf(
        model=MLPConf(in_features=64, hidden=(128, 128), out_features=10),
        optimizer=AdamWConf(lr=3e-3),
        data=DigitsDataConf(batch_size=64),
        trainer=TrainerConf(max_epochs=20),
    )
    pbgml.check(cfg)
    built = pbgml.instantiate(cfg)
    model = built["model"]
    optimizer = built["optimizer"](model)
    names = {g["name"]: g["weight_decay"] for g in optimizer.param_groups}
    assert names == {"default": 0.01, "default/no_decay": 0.0}
    assert built["data"].sample_shape == (64,)
    assert model(torch.zeros(2, 64)).shape == (2, 10)


@pytest.mark.parametrize(
    ("cfg", "key", "message"),
    [
        (
            {"_target_": "reduce_lr_on_plateau", "_partial_": True},
            "scheduler.monitor",
            "ReduceLROnPlateau steps on a metric",
        ),
        (
            {"_target_": "step_lr", "_partial_": True, "step_size": 2, "interval": "epok"},
            "scheduler.interval",
            "Did you mean 'epoch'?",
        ),
        (
            {"_target_": "adamw", "_partial_": True, "param_groups": {"nodecay": ["bias"]}},
            "optimizer.param_groups.nodecay",
            "Did you mean 'no_decay'?",
        ),
    ],
)
def test_meta_keys_are_checked_without_building(
    cfg: dict[str, Any], key: str, message: str
) -> None:
    group = key.split(".")[0]
    (issue,) = problems(cfg, key=group)
    assert issue.key == key
    assert message in issue.message
