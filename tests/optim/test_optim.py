from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from typing import Any

import hydra.utils
import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from pbgml import PbgmlError, registry
from pbgml.configs import (
    AdamWConf,
    ParamGroupsConf,
    ReduceLROnPlateauConf,
    SGDConf,
    StepLRConf,
    WarmupCosineLRConf,
    config_for,
)
from pbgml.optim import (
    OptimConfigError,
    OptimizerFactory,
    ParamGroups,
    ScheduledLR,
    WarmupCosineLR,
    finalize_optimizer,
    finalize_scheduler,
    freeze_norm_stats,
)


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.backbone = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU())
        self.norm = nn.LayerNorm(8)
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.norm(self.backbone(self.embed(x))))
        return out


def _adamw(**kw: Any) -> functools.partial[torch.optim.AdamW]:
    return functools.partial(torch.optim.AdamW, lr=0.1, weight_decay=0.5, **kw)


def _names(groups: list[dict[str, Any]]) -> dict[str, list[str]]:
    return {g["name"]: g["param_names"] for g in groups}


# -- parameter groups ----------------------------------------------------------------


def test_default_is_one_group_with_every_trainable_parameter() -> None:
    model = Net()
    (group,) = OptimizerFactory(_adamw()).param_groups(model)
    assert group["name"] == "default"
    assert group["param_names"] == [n for n, _ in model.named_parameters()]
    assert group["lr"] == 0.1
    assert group["weight_decay"] == 0.5


def test_no_decay_kinds_bias_norm_embedding() -> None:
    spec = ParamGroups(no_decay=("bias", "norm", "embedding"))
    groups = _names(OptimizerFactory(_adamw(), spec).param_groups(Net()))
    assert groups == {
        "default": ["backbone.0.weight", "head.weight"],
        "default/no_decay": [
            "embed.weight",
            "backbone.0.bias",
            "backbone.1.weight",
            "backbone.1.bias",
            "norm.weight",
            "norm.bias",
            "head.bias",
        ],
    }


@pytest.mark.parametrize(
    "norm",
    [
        nn.BatchNorm2d(4),
        nn.LayerNorm(4),
        nn.GroupNorm(2, 4),
        nn.InstanceNorm1d(4, affine=True),
        nn.RMSNorm(4),
        nn.SyncBatchNorm(4),
    ],
    ids=lambda m: type(m).__name__,
)
def test_norm_kind_covers_every_normalization_layer(norm: nn.Module) -> None:
    model = nn.Sequential(nn.Linear(4, 4, bias=False), norm)
    groups = _names(OptimizerFactory(_adamw(), ParamGroups(no_decay=("norm",))).param_groups(model))
    assert groups["default"] == ["0.weight"]
    assert groups["default/no_decay"] == [f"1.{n}" for n, _ in norm.named_parameters()]


def test_kind_that_finds_nothing_is_fine() -> None:
    model = nn.Sequential(nn.Linear(2, 2, bias=False))
    spec = ParamGroups(no_decay=("bias", "norm", "embedding"))
    assert _names(OptimizerFactory(_adamw(), spec).param_groups(model)) == {"default": ["0.weight"]}


def test_no_decay_pattern_on_names() -> None:
    spec = ParamGroups(no_decay=("head.*",))
    groups = _names(OptimizerFactory(_adamw(), spec).param_groups(Net()))
    assert groups["default/no_decay"] == ["head.weight", "head.bias"]


def test_lr_mult_first_match_wins_and_multiplies_lr() -> None:
    spec = ParamGroups(no_decay=("bias",), lr_mult={"backbone.0": 0.1, "backbone.*": 0.5})
    groups = OptimizerFactory(_adamw(), spec).param_groups(Net())
    by_name = {g["name"]: g for g in groups}
    assert by_name["backbone.0"]["param_names"] == ["backbone.0.weight"]
    assert by_name["backbone.0"]["lr"] == pytest.approx(0.01)
    assert by_name["backbone.0/no_decay"]["param_names"] == ["backbone.0.bias"]
    assert by_name["backbone.0/no_decay"]["weight_decay"] == 0.0
    assert by_name["backbone.*"]["param_names"] == ["backbone.1.weight"]
    assert by_name["backbone.*"]["lr"] == pytest.approx(0.05)
    assert by_name["default"]["lr"] == 0.1
    assert by_name["default"]["weight_decay"] == 0.5


def test_built_optimizer_carries_the_groups() -> None:
    spec = ParamGroups(no_decay=("bias", "norm"), lr_mult={"head": 2.0})
    factory = OptimizerFactory(_adamw(), spec)
    model = Net()
    expected = factory.param_groups(model)
    optimizer = factory(model)
    assert isinstance(optimizer, torch.optim.AdamW)
    assert len(optimizer.param_groups) == len(expected)
    for got, want in zip(optimizer.param_groups, expected, strict=True):
        for key in ("name", "param_names", "lr", "weight_decay"):
            assert got[key] == want[key]
        assert all(a is b for a, b in zip(got["params"], want["params"], strict=True))


def test_no_decay_parameters_are_not_decayed() -> None:
    model = nn.Sequential(nn.Linear(3, 3), nn.LayerNorm(3))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    factory = finalize_optimizer(_adamw(), param_groups=ParamGroups(no_decay=("bias", "norm")))
    optimizer = factory(model)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)  # only weight decay moves the parameters
    optimizer.step()
    after = dict(model.named_parameters())
    assert torch.allclose(after["0.weight"], before["0.weight"] * (1 - 0.1 * 0.5))
    for name in ("0.bias", "1.weight", "1.bias"):
        assert torch.equal(after[name], before[name]), name


def test_freeze_sets_requires_grad_and_leaves_parameters_out() -> None:
    model = Net()
    factory = OptimizerFactory(_adamw(), ParamGroups(freeze=("embed", "backbone.*")))
    groups = factory.param_groups(model)
    assert all(p.requires_grad for p in model.parameters())  # inspecting freezes nothing
    assert _names(groups) == {"default": ["norm.weight", "norm.bias", "head.weight", "head.bias"]}
    optimizer = factory(model)
    assert not model.embed.weight.requires_grad
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert model.head.weight.requires_grad
    optimized = {id(p) for g in optimizer.param_groups for p in g["params"]}
    assert id(model.embed.weight) not in optimized


def test_parameters_already_frozen_are_left_out() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    model[0].requires_grad_(False)
    assert _names(OptimizerFactory(_adamw()).param_groups(model)) == {
        "default": ["1.weight", "1.bias"]
    }


def test_freezing_everything_is_an_error() -> None:
    model = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(OptimConfigError, match=r"param_groups\.freeze: no trainable"):
        OptimizerFactory(_adamw(), ParamGroups(freeze=("*",)))(model)


@pytest.mark.parametrize(
    ("spec", "key", "pattern", "suggestion"),
    [
        (ParamGroups(lr_mult={"backbon.*": 0.1}), "lr_mult", "backbon.*", "backbone.*"),
        (ParamGroups(freeze=("encoder.*",)), "freeze", "encoder.*", None),
        (ParamGroups(no_decay=("nrom",)), "no_decay", "nrom", "norm"),
        (ParamGroups(freeze=("hed",)), "freeze", "hed", "head"),
    ],
)
def test_pattern_matching_nothing_is_an_error(
    spec: ParamGroups, key: str, pattern: str, suggestion: str | None
) -> None:
    with pytest.raises(OptimConfigError) as info:
        OptimizerFactory(_adamw(), spec).param_groups(Net())
    message = str(info.value)
    assert message.startswith(f"param_groups.{key}: the pattern {pattern!r}")
    assert info.value.param == f"param_groups.{key}"
    assert "top-level modules: 'embed', 'backbone', 'norm', 'head'" in message
    if suggestion is None:
        assert "Did you mean" not in message
    else:
        assert f"Did you mean {suggestion!r}?" in message
    assert isinstance(info.value, PbgmlError)
    assert isinstance(info.value, ValueError)


def test_params_and_group_dicts_pass_through_unchanged() -> None:
    model = Net()
    factory = OptimizerFactory(_adamw(), ParamGroups(no_decay=("bias",), freeze=("head",)))
    optimizer = factory(model.parameters())
    assert len(optimizer.param_groups) == 1
    assert model.head.weight.requires_grad
    groups = [{"params": list(model.head.parameters()), "lr": 0.3}]
    assert factory(groups).param_groups[0]["lr"] == 0.3


def test_lr_mult_without_an_lr_is_an_error() -> None:
    def make(params: Any, momentum: float = 0.0) -> torch.optim.Optimizer:
        return torch.optim.SGD(params, lr=0.1, momentum=momentum)

    factory = OptimizerFactory(make, ParamGroups(lr_mult={"head": 0.5}))
    with pytest.raises(OptimConfigError, match="has no 'lr' argument"):
        factory.param_groups(Net())
    (group,) = OptimizerFactory(make).param_groups(nn.Linear(1, 1))
    assert "lr" not in group
    assert "weight_decay" not in group


def test_lr_and_weight_decay_default_to_the_optimizer_signature() -> None:
    (group,) = OptimizerFactory(torch.optim.AdamW).param_groups(nn.Linear(1, 1))
    assert group["lr"] == 1e-3
    assert group["weight_decay"] == 1e-2


def test_optimizer_state_dict_round_trips_with_names() -> None:
    factory = OptimizerFactory(_adamw(), ParamGroups(no_decay=("bias", "norm")))
    model = Net()
    optimizer = factory(model)
    model(torch.tensor([1, 2])).sum().backward()
    optimizer.step()
    fresh = factory(model)
    fresh.load_state_dict(optimizer.state_dict())
    assert [g["name"] for g in fresh.param_groups] == ["default", "default/no_decay"]
    assert fresh.state_dict()["param_groups"][1]["param_names"][0] == "backbone.0.bias"
    assert fresh.state_dict()["state"].keys() == optimizer.state_dict()["state"].keys()


# -- specs: ParamGroups, ParamGroupsConf, mappings, YAML -------------------------------


def test_spec_from_conf_dict_and_yaml() -> None:
    conf = ParamGroupsConf(no_decay=("bias",), lr_mult={"head": 0.1}, freeze=("embed",))
    yaml = "no_decay: [bias]\nlr_mult: {head: 0.1}\nfreeze: [embed]\n"
    expected = ParamGroups(no_decay=("bias",), lr_mult={"head": 0.1}, freeze=("embed",))
    for given in (conf, OmegaConf.structured(conf), OmegaConf.create(yaml), expected):
        assert finalize_optimizer(_adamw(), param_groups=given).spec == expected


def test_spec_normalizes_a_single_pattern() -> None:
    assert ParamGroups(no_decay="bias", freeze="head").no_decay == ("bias",)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (
            {"nodecay": ["bias"]},
            r"param_groups\.nodecay: unknown key\. Did you mean 'no_decay'\?",
        ),
        ({"lr_mult": {"head": "fast"}}, r"lr_mult\['head'\]: expected a number >= 0, got 'fast'"),
        ({"lr_mult": ["head"]}, r"lr_mult: expected a mapping of pattern to multiplier"),
        ({"freeze": [1]}, r"freeze: expected a list of names or patterns, got 1"),
        (42, r"param_groups: expected a mapping"),
    ],
)
def test_bad_specs_name_the_key(given: Any, message: str) -> None:
    with pytest.raises(OptimConfigError, match=message):
        finalize_optimizer(_adamw(), param_groups=given)


def test_finalize_absent_param_groups_is_the_optimizers_default() -> None:
    no_decay = ParamGroups(no_decay=("bias", "norm"))
    assert finalize_optimizer(_adamw()).spec == no_decay
    assert finalize_optimizer(torch.optim.AdamW, param_groups="default").spec == no_decay
    assert finalize_optimizer(functools.partial(torch.optim.SGD, lr=0.1)).spec is None
    assert finalize_optimizer(torch.optim.Adam, param_groups="default").spec is None


def test_finalize_null_param_groups_is_one_plain_group() -> None:
    factory = finalize_optimizer(_adamw(), param_groups=None)
    assert factory.spec is None
    (group,) = factory.param_groups(Net())
    assert group["weight_decay"] == 0.5


def test_finalize_rejects_other_strings() -> None:
    with pytest.raises(OptimConfigError, match=r"param_groups: .* Did you mean 'default'"):
        finalize_optimizer(_adamw(), param_groups="defualt")


class _MyAdamW(torch.optim.AdamW):
    """An AdamW subclass, registered by a user: its config is generated."""


def test_yaml_adamw_without_param_groups_does_not_decay_bias_and_norm() -> None:
    import pbgml

    text = "_target_: torch.optim.AdamW\n_partial_: true\nlr: 0.1\nweight_decay: 0.5\n"
    groups = _names(pbgml.instantiate(OmegaConf.create(text)).param_groups(Net()))
    assert groups == {
        "default": ["embed.weight", "backbone.0.weight", "head.weight"],
        "default/no_decay": [
            "backbone.0.bias",
            "backbone.1.weight",
            "backbone.1.bias",
            "norm.weight",
            "norm.bias",
            "head.bias",
        ],
    }
    opt_out = pbgml.instantiate(OmegaConf.create(text + "param_groups: null\n"))
    assert [g["name"] for g in opt_out.param_groups(Net())] == ["default"]
    sgd = pbgml.instantiate(OmegaConf.create("_target_: torch.optim.SGD\n_partial_: true\n"))
    assert [g["name"] for g in sgd.param_groups(Net())] == ["default"]


def test_configs_from_the_registry_keep_adamws_default() -> None:
    import pbgml

    assert config_for("optimizer", "adamw") is AdamWConf
    factory = pbgml.instantiate(OmegaConf.structured(config_for("optimizer", "adamw")))
    assert factory.spec == ParamGroups(no_decay=("bias", "norm"))
    radam = OmegaConf.structured(config_for("optimizer", "radam"))
    assert radam.param_groups == "default"
    assert pbgml.instantiate(radam).spec is None
    registry.optimizer.register(_MyAdamW, name="my_adamw_for_test")
    try:
        node = OmegaConf.structured(config_for("optimizer", "my_adamw_for_test"))
        assert node.param_groups == "default"
        factory = pbgml.instantiate(node)
        assert factory.spec == ParamGroups(no_decay=("bias", "norm"))
        assert isinstance(factory(Net()), _MyAdamW)
        node.param_groups = None
        assert pbgml.instantiate(node).spec is None
    finally:
        registry.optimizer.unregister("my_adamw_for_test")


def _instantiate_like_pbgml(node: Any, meta: Iterable[str], finalize: Any) -> Any:
    """What pbgml.instantiate does for a group with meta keys: pop, build, finalize."""
    node = OmegaConf.create(OmegaConf.to_container(node))  # untyped, so keys can be popped
    values = {k: node.pop(k) for k in meta if k in node}
    return finalize(hydra.utils.instantiate(node), **values)


def test_adamw_conf_through_hydra_and_finalize() -> None:
    assert tuple(registry.optimizer.meta) == ("param_groups",)
    node = OmegaConf.create(OmegaConf.to_yaml(OmegaConf.structured(AdamWConf(lr=0.1))))
    factory = _instantiate_like_pbgml(node, registry.optimizer.meta, finalize_optimizer)
    assert isinstance(factory, OptimizerFactory)
    assert factory.spec == ParamGroups(no_decay=("bias", "norm"))
    optimizer = factory(Net())
    assert [g["name"] for g in optimizer.param_groups] == ["default", "default/no_decay"]
    assert optimizer.param_groups[0]["lr"] == 0.1


def test_sgd_conf_defaults_to_one_group() -> None:
    node = OmegaConf.structured(SGDConf(lr=0.001, momentum=0.9))
    factory = _instantiate_like_pbgml(node, registry.optimizer.meta, finalize_optimizer)
    optimizer = factory(Net())
    assert len(optimizer.param_groups) == 1
    assert optimizer.param_groups[0]["momentum"] == 0.9


# -- schedulers --------------------------------------------------------------------


def _optimizer(lr: float = 1.0) -> torch.optim.Optimizer:
    return torch.optim.SGD(nn.Linear(2, 1).parameters(), lr=lr)


def test_scheduler_factory_builds_a_scheduled_lr() -> None:
    factory = finalize_scheduler(
        functools.partial(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5),
        interval="step",
        frequency=2,
    )
    optimizer = _optimizer()
    scheduled = factory(optimizer)
    assert isinstance(scheduled, ScheduledLR)
    assert (scheduled.interval, scheduled.frequency, scheduled.monitor) == ("step", 2, None)
    optimizer.step()
    scheduled.step()
    assert optimizer.param_groups[0]["lr"] == 1.0  # frequency 2: not yet
    scheduled.step()
    assert optimizer.param_groups[0]["lr"] == 0.5
    with pytest.raises(AttributeError):
        scheduled.interval = "epoch"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"interval": "epochs"}, r"interval: .* got 'epochs'\. Did you mean 'epoch'\?"),
        ({"interval": "batch"}, r"interval: expected 'epoch' or 'step', got 'batch'\.$"),
        ({"frequency": 0}, r"frequency: expected an integer >= 1, got 0"),
        ({"frequency": 1.5}, r"frequency: expected an integer >= 1, got 1\.5"),
        ({"monitor": ""}, r"monitor: expected a metric name"),
    ],
)
def test_bad_scheduler_settings(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(OptimConfigError, match=message):
        finalize_scheduler(torch.optim.lr_scheduler.ConstantLR, **kwargs)


def test_plateau_needs_monitor() -> None:
    plateau = functools.partial(torch.optim.lr_scheduler.ReduceLROnPlateau, patience=0)
    with pytest.raises(OptimConfigError) as info:
        finalize_scheduler(plateau)
    assert str(info.value) == (
        "monitor: ReduceLROnPlateau steps on a metric: set the scheduler's monitor, "
        "e.g. 'val/loss'."
    )
    assert info.value.param == "monitor"
    optimizer = _optimizer()
    scheduled = finalize_scheduler(plateau, monitor="val/loss")(optimizer)
    scheduled.step({"val/loss": torch.tensor(1.0)})
    scheduled.step({"val/loss": 2.0, "val/acc": 0.5})  # worse: patience 0 -> reduce
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1)
    with pytest.raises(OptimConfigError, match=r"'val/loss' is not among .*'val/acc'"):
        scheduled.step({"val/acc": 0.5})


def test_scheduler_confs_through_hydra_and_finalize() -> None:
    assert tuple(registry.scheduler.meta) == ("interval", "frequency", "monitor")
    meta, finalize = registry.scheduler.meta, finalize_scheduler
    node = OmegaConf.structured(StepLRConf(step_size=3, interval="step", frequency=2))
    scheduled = _instantiate_like_pbgml(node, meta, finalize)(_optimizer())
    assert isinstance(scheduled.scheduler, torch.optim.lr_scheduler.StepLR)
    assert (scheduled.interval, scheduled.frequency) == ("step", 2)
    node = OmegaConf.structured(ReduceLROnPlateauConf(monitor="val/acc", mode="max"))
    scheduled = _instantiate_like_pbgml(node, meta, finalize)(_optimizer())
    assert scheduled.monitor == "val/acc"
    assert scheduled.scheduler.mode == "max"
    node = OmegaConf.structured(ReduceLROnPlateauConf())
    with pytest.raises(OptimConfigError, match=r"set the scheduler's monitor"):
        _instantiate_like_pbgml(node, meta, finalize)


# -- WarmupCosineLR ------------------------------------------------------------------


def _curve(scheduler: torch.optim.lr_scheduler.LRScheduler, steps: int) -> list[float]:
    optimizer = scheduler.optimizer
    rates = []
    for _ in range(steps):
        rates.append(float(optimizer.param_groups[0]["lr"]))
        optimizer.step()
        scheduler.step()
    return rates


def test_warmup_cosine_curve() -> None:
    base, warmup, total, eta_min = 0.4, 10, 110, 0.04
    scheduler = WarmupCosineLR(_optimizer(base), warmup, total, eta_min=eta_min)
    rates = _curve(scheduler, total + 5)
    assert rates[0] == 0.0
    assert rates[5] == pytest.approx(base * 0.5)
    assert rates[warmup] == pytest.approx(base)
    assert rates[warmup + 50] == pytest.approx((base + eta_min) / 2)  # cosine midpoint
    assert rates[warmup + 25] == pytest.approx(
        eta_min + (base - eta_min) * (1 + math.cos(math.pi / 4)) / 2
    )
    assert rates[total] == pytest.approx(eta_min)
    assert rates[-1] == pytest.approx(eta_min)  # stays at the floor after the end
    assert all(a >= b for a, b in zip(rates[warmup:], rates[warmup + 1 :], strict=False))


def test_warmup_start_factor_and_no_warmup() -> None:
    rates = _curve(WarmupCosineLR(_optimizer(1.0), 4, 8, warmup_start_factor=0.2), 5)
    assert rates[:5] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    rates = _curve(WarmupCosineLR(_optimizer(1.0), 0, 2), 3)
    assert rates == pytest.approx([1.0, 0.5, 0.0])


def test_warmup_cosine_scales_every_group() -> None:
    factory = OptimizerFactory(
        functools.partial(torch.optim.SGD, lr=1.0), ParamGroups(lr_mult={"0": 0.1})
    )
    optimizer = factory(nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1)))
    scheduler = WarmupCosineLR(optimizer, warmup_steps=2, total_steps=4)
    optimizer.step()
    scheduler.step()
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([0.05, 0.5])


def test_warmup_cosine_scales_eta_min_with_each_groups_rate() -> None:
    factory = OptimizerFactory(
        functools.partial(torch.optim.SGD, lr=1.0),
        ParamGroups(lr_mult={"0": 0.0, "1": 0.5}),
    )
    optimizer = factory(nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2), nn.Linear(2, 1)))
    assert [g["lr"] for g in optimizer.param_groups] == [0.0, 0.5, 1.0]
    scheduler = WarmupCosineLR(optimizer, warmup_steps=2, total_steps=6, eta_min=0.1)
    history = []
    for _ in range(8):
        optimizer.step()
        scheduler.step()
        history.append([g["lr"] for g in optimizer.param_groups])
    assert all(rates[0] == 0.0 for rates in history)  # lr_mult 0 stays frozen to the end
    assert history[-1] == pytest.approx([0.0, 0.05, 0.1])  # the floors keep the ratios
    for rates in history:
        assert rates[1] == pytest.approx(rates[2] / 2)


def test_warmup_cosine_resumes_from_state_dict() -> None:
    first = WarmupCosineLR(_optimizer(1.0), 5, 20, eta_min=0.1)
    _curve(first, 8)
    state = first.state_dict()
    expected = _curve(first, 6)
    optimizer = _optimizer(1.0)
    resumed = WarmupCosineLR(optimizer, 5, 20, eta_min=0.1)
    resumed.load_state_dict(state)
    for group in optimizer.param_groups:  # the optimizer's state carries the last rate
        group["lr"] = resumed.get_last_lr()[0]
    assert _curve(resumed, 6) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"warmup_steps": -1, "total_steps": 5},
            r"warmup_steps: expected an integer >= 0",
        ),
        (
            {"warmup_steps": 1, "total_steps": 0},
            r"total_steps: expected an integer greater than warmup_steps=1",
        ),
        (
            {"warmup_steps": 6, "total_steps": 5},
            r"total_steps: .* greater than warmup_steps=6 .* got 5\.$",
        ),
        (
            {"warmup_steps": 5, "total_steps": 5},
            r"total_steps: .* greater than warmup_steps=5",
        ),
        (
            {"warmup_steps": "10", "total_steps": 50},
            r"warmup_steps: expected an integer >= 0, got '10'",
        ),
        (
            {"warmup_steps": 1, "total_steps": 5.0},
            r"total_steps: expected an integer .* got 5\.0",
        ),
        (
            {"warmup_steps": 1, "total_steps": 5, "warmup_start_factor": 2.0},
            r"warmup_start_factor: expected a number in \[0, 1\], got 2\.0",
        ),
        (
            {"warmup_steps": 1, "total_steps": 5, "warmup_start_factor": "0.1"},
            r"warmup_start_factor: expected a number in \[0, 1\], got '0\.1'",
        ),
        (
            {"warmup_steps": 1, "total_steps": 5, "eta_min": "0"},
            r"eta_min: expected a number >= 0, got '0'",
        ),
        (
            {"warmup_steps": 1, "total_steps": 5, "eta_min": 2.0},
            r"eta_min: expected a number in \[0, 1\.0\] .* got 2\.0",
        ),
        (
            {"warmup_steps": 1, "total_steps": 5, "eta_min": -0.1},
            r"eta_min: expected a number in \[0, 1\.0\]",
        ),
    ],
)
def test_warmup_cosine_rejects_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(OptimConfigError, match=message):
        WarmupCosineLR(_optimizer(), **kwargs)


def test_warmup_cosine_is_registered_with_its_typed_config() -> None:
    assert registry.scheduler.get("warmup_cosine") is WarmupCosineLR
    assert registry.scheduler.get("WarmupCosineLR") is WarmupCosineLR
    assert config_for("scheduler", "warmup_cosine") is WarmupCosineLRConf
    node = OmegaConf.structured(WarmupCosineLRConf(warmup_steps=2, total_steps=10))
    assert node.interval == "step"
    scheduled = _instantiate_like_pbgml(node, registry.scheduler.meta, finalize_scheduler)(
        _optimizer()
    )
    assert isinstance(scheduled.scheduler, WarmupCosineLR)
    assert scheduled.interval == "step"
    assert config_for("scheduler", "reduce_lr_on_plateau") is ReduceLROnPlateauConf


# -- through pbgml.instantiate (the registry's meta keys and finalize hooks) ------------


def test_pbgml_instantiate_finalizes_optimizer_and_scheduler_configs() -> None:
    import pbgml

    conf = AdamWConf(
        lr=0.1, param_groups=ParamGroupsConf(no_decay=("bias", "norm"), lr_mult={"head": 0.5})
    )
    factory = pbgml.instantiate(conf)
    assert isinstance(factory, OptimizerFactory)
    optimizer = factory(Net())
    assert {g["name"]: g["lr"] for g in optimizer.param_groups} == {
        "default": 0.1,
        "default/no_decay": 0.1,
        "head": 0.05,
        "head/no_decay": 0.05,
    }
    scheduled = pbgml.instantiate(WarmupCosineLRConf(warmup_steps=2, total_steps=4))(optimizer)
    assert isinstance(scheduled.scheduler, WarmupCosineLR)
    assert scheduled.interval == "step"
    assert [g["lr"] for g in optimizer.param_groups] == [0.0, 0.0, 0.0, 0.0]
    with pytest.raises(pbgml.ConfigError, match=r"set the scheduler's monitor") as info:
        pbgml.instantiate(ReduceLROnPlateauConf(), key="scheduler")  # caught by the check
    assert info.value.errors[0].key == "scheduler.monitor"


# -- ScheduledLR.frequency and resuming ---------------------------------------------


def _halving(frequency: int) -> tuple[torch.optim.Optimizer, ScheduledLR]:
    optimizer = _optimizer(1.0)
    halve = functools.partial(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5)
    return optimizer, finalize_scheduler(halve, frequency=frequency)(optimizer)


@pytest.mark.parametrize("frequency", [1, 2, 3])
def test_scheduled_lr_steps_every_frequency_calls(frequency: int) -> None:
    optimizer, scheduled = _halving(frequency)
    rates = []
    for _ in range(7):
        optimizer.step()
        scheduled.step()
        rates.append(optimizer.param_groups[0]["lr"])
    assert scheduled.calls == 7
    assert rates == [0.5 ** ((i + 1) // frequency) for i in range(7)]


def test_scheduled_lr_frequency_with_plateau_reads_the_metric_on_its_calls_only() -> None:
    plateau = functools.partial(torch.optim.lr_scheduler.ReduceLROnPlateau, patience=0)
    optimizer = _optimizer(1.0)
    scheduled = finalize_scheduler(plateau, frequency=2, monitor="val/loss")(optimizer)
    scheduled.step()  # first call: no step, so no metric needed
    scheduled.step({"val/loss": 1.0})
    scheduled.step()
    scheduled.step({"val/loss": 2.0})  # worse, patience 0: reduce
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1)
    scheduled.step()
    with pytest.raises(OptimConfigError, match=r"'val/loss' is not among"):
        scheduled.step({})


def test_scheduled_lr_state_dict_resumes_on_the_same_calls() -> None:
    optimizer, scheduled = _halving(3)
    for _ in range(4):
        optimizer.step()
        scheduled.step()
    state = scheduled.state_dict()
    assert state["calls"] == 4
    expected = []
    for _ in range(5):
        optimizer.step()
        scheduled.step()
        expected.append(optimizer.param_groups[0]["lr"])

    fresh, resumed = _halving(3)
    fresh.param_groups[0]["lr"] = 0.5  # the optimizer's own state carries the rate
    resumed.load_state_dict(state)
    assert resumed.calls == 4
    got = []
    for _ in range(5):
        fresh.step()
        resumed.step()
        got.append(fresh.param_groups[0]["lr"])
    assert got == expected == [0.5, 0.25, 0.25, 0.25, 0.125]


def test_scheduled_lr_load_state_dict_checks_its_input() -> None:
    _, scheduled = _halving(2)
    with pytest.raises(OptimConfigError, match=r"with 'scheduler' and 'calls'"):
        scheduled.load_state_dict(scheduled.scheduler.state_dict())
    with pytest.raises(OptimConfigError, match=r"calls=-1"):
        scheduled.load_state_dict({"scheduler": scheduled.scheduler.state_dict(), "calls": -1})


# -- freezing and normalization statistics ------------------------------------------


class _BNNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(3, 4))
        self.bn = nn.BatchNorm1d(4)  # part of the frozen backbone: "backbone*"
        self.head = nn.Linear(4, 4)
        self.head_bn = nn.BatchNorm1d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head_bn(self.head(self.bn(self.backbone(x))))
        return out


def _mean(bn: nn.BatchNorm1d) -> torch.Tensor:
    assert bn.running_mean is not None
    return bn.running_mean


def test_freeze_stops_gradients_only_norm_statistics_still_update() -> None:
    model = _BNNet()
    OptimizerFactory(_adamw(), ParamGroups(freeze=("backbone", "bn")))(model)
    assert not model.bn.weight.requires_grad
    before = _mean(model.bn).clone()
    model.train()(torch.randn(16, 3))
    assert not torch.equal(_mean(model.bn), before)  # documented: buffers still move
    assert model.bn.training


def test_freeze_norm_stats_keeps_them_in_eval_mode_across_train_calls() -> None:
    model = _BNNet()
    OptimizerFactory(_adamw(), ParamGroups(freeze=("backbone", "bn")))(model)
    assert freeze_norm_stats(model.bn) == [""]
    assert freeze_norm_stats(model.bn) == [""]  # twice is harmless
    frozen_before = {k: v.clone() for k, v in model.bn.state_dict().items()}
    free_before = _mean(model.head_bn).clone()
    for _ in range(2):
        model.train()  # what a trainer does every epoch
        model(torch.randn(16, 3))
    assert not model.bn.training
    for key, value in model.bn.state_dict().items():
        assert torch.equal(value, frozen_before[key]), key
    assert model.head_bn.training
    assert not torch.equal(_mean(model.head_bn), free_before)
    assert len(model.bn._forward_pre_hooks) == 1
    assert freeze_norm_stats(model) == ["bn", "head_bn"]
