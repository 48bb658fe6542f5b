"""Registry-driven: every layer and model pbgml.nn registers builds, trains and round-trips."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

import pbgml
from pbgml import registry
from pbgml.configs import config_for
from pbgml.nn import ConvBlock, GlobalAvgPool


def _images(channels: int = 3, side: int = 8) -> torch.Tensor:
    return torch.randn(2, channels, side, side)


def _tokens() -> torch.Tensor:
    return torch.tensor([[3, 4, 5, 0], [7, 1, 2, 9]])


@dataclass
class Example:
    """Small arguments for one entry: for the Python call and for its config."""

    kwargs: dict[str, Any]
    inputs: Callable[[], torch.Tensor]
    config: dict[str, Any] = field(default_factory=dict)  # when it differs from kwargs

    def config_kwargs(self) -> dict[str, Any]:
        return self.config or self.kwargs


EXAMPLES: dict[tuple[str, str], Example] = {
    ("layer", "conv_block"): Example({"in_channels": 3, "out_channels": 4, "pool": 2}, _images),
    ("layer", "residual_block"): Example({"channels": 3, "out_channels": 4, "stride": 2}, _images),
    ("layer", "global_avg_pool"): Example({}, _images),
    ("layer", "sequential"): Example(
        {"layers": [ConvBlock(3, 4), GlobalAvgPool(), nn.Linear(4, 2)]},
        _images,
        config={
            "layers": [
                {"_target_": "pbgml.nn.ConvBlock", "in_channels": 3, "out_channels": 4},
                {"_target_": "pbgml.nn.GlobalAvgPool"},
                {"_target_": "torch.nn.Linear", "in_features": 4, "out_features": 2},
            ]
        },
    ),
    ("model", "mlp"): Example(
        {"in_features": 192, "out_features": 3, "hidden": (16, 8), "norm": "batch"}, _images
    ),
    ("model", "lenet"): Example(
        {"in_channels": 1, "input_size": 16, "num_classes": 3}, lambda: _images(1, 16)
    ),
    ("model", "small_cnn"): Example({"widths": (4, 8), "num_classes": 3}, _images),
    ("model", "resnet"): Example({"depth": 8, "width": 4, "num_classes": 3}, _images),
    ("model", "transformer_classifier"): Example(
        {"vocab_size": 10, "num_classes": 3, "d_model": 8, "nhead": 2, "max_len": 8}, _tokens
    ),
}


def _pbgml_entries() -> list[tuple[str, str]]:
    found = []
    for group in ("layer", "model"):
        reg = registry.groups()[group]
        for name in reg.names():
            if reg.entry(name).origin.startswith("pbgml.nn."):  # not Sequential
                found.append((group, name))
    return found


ENTRIES = _pbgml_entries()


def test_every_pbgml_nn_entry_has_an_example() -> None:
    assert set(ENTRIES) == set(EXAMPLES), "add an Example for each new pbgml.nn entry"


def test_sequential_short_name_is_pbgml_and_torch_keeps_its_class_name() -> None:
    assert registry.layer.get("sequential") is pbgml.nn.Sequential
    assert registry.layer.get("Sequential") is nn.Sequential  # nothing overwritten
    assert registry.layer.get("flatten") is nn.Flatten  # torch's Flatten is kept


# Importing pbgml.nn registers torchvision's models only when find_spec finds it: each
# case runs in a fresh interpreter, with find_spec (and sys.modules) faking the machine.
_FAKE_FIND_SPEC = """
import importlib.machinery, importlib.util, sys, types, warnings
import torch  # torch's own imports are not pbgml's business

asked, imported = [], []
real_find_spec = importlib.util.find_spec

def find_spec(name, package=None):
    if name.partition(".")[0] == "torchvision":
        asked.append(name)
        return SPEC
    return real_find_spec(name, package)

class Watch:  # records (and refuses) any real import of torchvision
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "torchvision":
            imported.append(name)
            raise ModuleNotFoundError(name)
        return None

importlib.util.find_spec = find_spec
sys.meta_path.insert(0, Watch())
"""

_ABSENT = """
SPEC = None
with warnings.catch_warnings():
    warnings.simplefilter("error")
    import pbgml.nn
    from pbgml import registry
    tv = registry.model.names("tv_*")
assert asked == ["torchvision"], asked
assert imported == [], imported
assert not [m for m in sys.modules if m.partition(".")[0] == "torchvision"]
assert tv == [], tv
assert "lenet" in registry.model
print("ok")
"""

_PRESENT = """
SPEC = importlib.machinery.ModuleSpec("torchvision", None)
def fakenet(*, weights=None, progress=True, num_classes=1000):
    return torch.nn.Linear(2, num_classes)
models = types.ModuleType("torchvision.models")
models.list_models = lambda module=None: ["fakenet"]
models.get_model_builder = {"fakenet": fakenet}.__getitem__
models.get_model = lambda name, **kw: fakenet(**kw)
package = types.ModuleType("torchvision")
package.__spec__, package.models = SPEC, models
sys.modules["torchvision"], sys.modules["torchvision.models"] = package, models
with warnings.catch_warnings():
    warnings.simplefilter("error")
    import pbgml.nn
    from pbgml import registry
    tv = registry.model.names("tv_*")
assert asked == ["torchvision"], asked
assert imported == [], imported
assert tv == ["tv_fakenet"], tv
assert registry.model.get("tv_fakenet") is fakenet
assert registry.model.build("tv_fakenet", num_classes=3).out_features == 3
print("ok")
"""


def _run_fresh(script: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _FAKE_FIND_SPEC + script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_import_without_torchvision_does_not_import_it_nor_register_tv_models() -> None:
    _run_fresh(_ABSENT)


def test_import_with_torchvision_registers_its_models_as_tv_names() -> None:
    _run_fresh(_PRESENT)


@pytest.mark.parametrize(("group", "name"), ENTRIES, ids=lambda v: str(v))
def test_entry_builds_runs_forward_and_backward(group: str, name: str) -> None:
    torch.manual_seed(0)
    example = EXAMPLES[group, name]
    module = registry.groups()[group].build(name, **example.kwargs)
    assert isinstance(module, nn.Module)
    module.train()
    x = example.inputs()
    if x.is_floating_point():
        x.requires_grad_(True)
    out = module(x)
    assert out.shape[0] == 2
    assert torch.isfinite(out).all()
    out.square().mean().backward()
    if x.is_floating_point():
        assert x.grad is not None
        assert x.grad.abs().sum() > 0
    params = list(module.parameters())
    if params:
        grads = [p.grad for p in params if p.grad is not None]
        assert grads, f"{name}: no parameter received a gradient"
        assert any(g.abs().sum() > 0 for g in grads)


def _param_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(("group", "name"), ENTRIES, ids=lambda v: str(v))
def test_entry_config_round_trips_through_yaml_and_builds(group: str, name: str) -> None:
    reg = registry.groups()[group]
    example = EXAMPLES[group, name]
    conf = config_for(group, name)
    node = OmegaConf.structured(conf(**example.config_kwargs()))
    assert node._target_ == f"pbgml.nn.{type(reg.build(name, **example.kwargs)).__name__}"
    again = OmegaConf.create(OmegaConf.to_yaml(node))
    assert again == node
    built = pbgml.instantiate(again)
    assert type(built) is reg.get(name)
    assert _param_count(built) == _param_count(reg.build(name, **example.kwargs))
    assert built(example.inputs()).shape[0] == 2


@pytest.mark.parametrize(("group", "name"), ENTRIES, ids=lambda v: str(v))
def test_entry_summarises_on_meta(group: str, name: str) -> None:
    example = EXAMPLES[group, name]
    x = example.inputs()
    info = pbgml.nn.summary(
        lambda: registry.groups()[group].build(name, **example.kwargs),
        tuple(x.shape[1:]),
        dtype=x.dtype,
    )
    real = registry.groups()[group].build(name, **example.kwargs).eval()
    assert info.output_shape == (1, *real(x[:1]).shape[1:])
    assert info.num_parameters == _param_count(real)
