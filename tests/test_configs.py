from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import pytest
import torch
from omegaconf import OmegaConf

from pbgml import configs, registry
from pbgml._names import public_path
from pbgml.configs import (
    AdamWConf,
    ComponentConf,
    CrossEntropyLossConf,
    ExperimentConf,
    SGDConf,
    StepLRConf,
    TrainerConf,
    config_for,
)
from pbgml.optim._factories import LENGTH_ARGUMENTS

TYPED = [
    obj
    for name in configs.__all__
    if isinstance(obj := getattr(configs, name), type)
    and issubclass(obj, ComponentConf)
    and obj.__dataclass_fields__["_target_"].default
]


def _locate(path: str) -> Any:
    module, _, attr = path.rpartition(".")
    return getattr(__import__(module, fromlist=[attr]), attr)


def _fields(conf: type[Any]) -> dict[str, dataclasses.Field[Any]]:
    return {f.name: f for f in dataclasses.fields(conf) if not f.name.startswith("_")}


def _meta_keys(target: Any) -> tuple[str, ...]:
    """The registry ``meta`` keys of the group whose entries include ``target``."""
    return tuple(
        key
        for reg in registry.groups().values()
        if any(reg.get(name) is target for name in reg.names())
        for key in reg.meta
    )


@pytest.mark.parametrize("conf", TYPED, ids=lambda c: c.__name__)
def test_typed_config_matches_target_signature(conf: type[Any]) -> None:
    target = _locate(conf.__dataclass_fields__["_target_"].default)
    params = inspect.signature(target).parameters
    meta = _meta_keys(target)
    for name, f in _fields(conf).items():
        if name in meta:  # pbgml's settings (pbgml's classes take them as keywords too)
            continue
        assert name in params, f"{conf.__name__}.{name} is not a parameter of {target}"
        default = params[name].default
        sized = [
            a
            for c, a in LENGTH_ARGUMENTS.items()
            if isinstance(target, type) and issubclass(target, c)
        ]
        if name in sized:  # None: the trainer sizes it from the run
            assert f.default is None, f"{conf.__name__}.{name} should default to None"
        elif default is inspect.Parameter.empty:
            assert f.default is dataclasses.MISSING, f"{name} is required in torch"
        elif f.default is not dataclasses.MISSING:
            assert f.default == default, f"{conf.__name__}.{name}: {f.default!r} != {default!r}"


@pytest.mark.parametrize("conf", TYPED, ids=lambda c: c.__name__)
def test_typed_config_is_what_the_registry_returns(conf: type[Any]) -> None:
    path = conf.__dataclass_fields__["_target_"].default
    target = _locate(path)
    assert public_path(target) == path
    found = [
        config_for(group, name)
        for group, reg in registry.groups().items()
        for name in reg.names()
        if reg.get(name) is target
    ]
    assert found == [conf]


def test_partial_configs_for_optimizers_and_schedulers() -> None:
    assert OmegaConf.structured(AdamWConf)._partial_ is True
    assert OmegaConf.structured(StepLRConf(step_size=2))._partial_ is True
    assert "_partial_" not in OmegaConf.structured(CrossEntropyLossConf)


def test_target_cannot_be_passed_to_typed_config() -> None:
    with pytest.raises(TypeError):
        AdamWConf(_target_="os.system")  # type: ignore[call-arg]


def test_required_fields_are_missing_in_yaml() -> None:
    node = OmegaConf.structured(StepLRConf)
    assert OmegaConf.is_missing(node, "step_size")
    with pytest.raises(TypeError):
        StepLRConf()  # type: ignore[call-arg]


def test_omegaconf_validates_typed_fields() -> None:
    node = OmegaConf.structured(SGDConf)
    with pytest.raises(Exception, match="could not be converted"):
        node.lr = "fast"
    trainer = OmegaConf.structured(TrainerConf)
    with pytest.raises(Exception, match="could not be converted"):
        trainer.max_epochs = "ten"


def test_experiment_conf_defaults() -> None:
    node = OmegaConf.structured(ExperimentConf)
    assert OmegaConf.is_missing(node, "model")
    assert OmegaConf.is_missing(node, "data")
    assert node.loss._target_ == "pbgml.losses.CrossEntropyLoss"
    assert node.optimizer._target_ == "pbgml.optim.AdamW"
    assert node.scheduler is None
    assert node.trainer.max_epochs == 10
    assert set(node) == {
        "model",
        "loss",
        "optimizer",
        "scheduler",
        "metrics",
        "data",
        "task",
        "trainer",
        "callbacks",
        "logger",
        "seed",
        "name",
        "resume",
        "optimized_metric",
    }


def _fill_required(reg_group: str, name: str, conf: type[Any]) -> dict[str, Any]:
    node = OmegaConf.structured(conf)
    return {k: None for k in node if not k.startswith("_") and OmegaConf.is_missing(node, k)}


ALL_ENTRIES = [(g, n) for g, reg in registry.groups().items() for n in reg.names()]


@pytest.mark.parametrize(("group", "name"), ALL_ENTRIES, ids=lambda v: str(v))
def test_every_entry_has_a_config_that_round_trips(group: str, name: str) -> None:
    reg = registry.groups()[group]
    conf = config_for(group, name)
    node = OmegaConf.structured(conf)
    assert _locate(node._target_) is reg.get(name)
    assert node.get("_partial_", False) is reg.partial
    for excluded in reg.exclude:
        assert excluded not in node
    again = OmegaConf.create(OmegaConf.to_yaml(node))
    assert again == node


def test_generated_config_keeps_required_params_of_partials() -> None:
    node = OmegaConf.structured(config_for("scheduler", "multi_step_lr"))
    assert OmegaConf.is_missing(node, "milestones")
    assert "optimizer" not in node


def test_generated_config_has_every_parameter() -> None:
    node = OmegaConf.structured(config_for("layer", "conv2d"))
    params = set(inspect.signature(torch.nn.Conv2d).parameters)
    assert set(node) - {"_target_"} == params
    assert node._target_ == "torch.nn.Conv2d"
