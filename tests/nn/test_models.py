from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from pbgml import PluginWarning, Registry
from pbgml.nn import (
    InvalidArgumentError,
    LeNet,
    ResidualBlock,
    ResNet,
    ShapeMismatchError,
    SmallCNN,
    TransformerClassifier,
)
from pbgml.nn._models import _load_torchvision as _register_torchvision


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _leaves(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if next(m.children(), None) is None]


# -- LeNet -------------------------------------------------------------------------------


def test_lenet_is_exactly_the_course_net() -> None:
    net = LeNet()
    assert _count(net) == 62006
    layers = _leaves(net)
    assert [type(m) for m in layers] == [
        nn.Conv2d,
        nn.ReLU,
        nn.MaxPool2d,
        nn.Conv2d,
        nn.ReLU,
        nn.MaxPool2d,
        nn.Flatten,
        nn.Linear,
        nn.ReLU,
        nn.Linear,
        nn.ReLU,
        nn.Linear,
    ]
    conv1, conv2 = (m for m in layers if isinstance(m, nn.Conv2d))
    assert (conv1.in_channels, conv1.out_channels, conv1.kernel_size) == (3, 6, (5, 5))
    assert (conv2.in_channels, conv2.out_channels, conv2.kernel_size) == (6, 16, (5, 5))
    pools = [m for m in layers if isinstance(m, nn.MaxPool2d)]
    assert all((p.kernel_size, p.stride) == (2, 2) for p in pools)
    linears = [(m.in_features, m.out_features) for m in layers if isinstance(m, nn.Linear)]
    assert linears == [(400, 120), (120, 84), (84, 10)]


def test_lenet_computes_the_same_function_as_the_course_code() -> None:
    torch.manual_seed(0)
    net = LeNet().eval()
    conv1, _, _, conv2, *_ = net.features
    fc1, _, fc2, _, fc3 = net.classifier
    x = torch.randn(4, 3, 32, 32)
    # the course's forward, written functionally with the same weights
    y = F.max_pool2d(F.relu(conv1(x)), 2, 2)
    y = F.max_pool2d(F.relu(conv2(y)), 2, 2)
    y = torch.flatten(y, 1)
    expected = fc3(F.relu(fc2(F.relu(fc1(y)))))
    assert torch.allclose(net(x), expected)


def test_lenet_for_mnist_computes_the_flatten_size() -> None:
    net = LeNet(in_channels=1, input_size=28)
    assert net.classifier[0].in_features == 16 * 4 * 4
    assert _count(net) == 156 + 2416 + (256 * 120 + 120) + 10164 + 850
    assert net(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_lenet_rejects_images_too_small() -> None:
    with pytest.raises(InvalidArgumentError, match=r"LeNet: input_size=15 is too small.*16x16"):
        LeNet(input_size=15)
    assert LeNet(input_size=16)(torch.randn(1, 3, 16, 16)).shape == (1, 10)


# -- SmallCNN ------------------------------------------------------------------------------


def test_small_cnn_has_one_block_per_width_and_any_input_size() -> None:
    net = SmallCNN(in_channels=1, num_classes=4, widths=(4, 8, 16), dropout=0.2)
    assert len(net.features) == 3
    assert [b.conv.out_channels for b in net.features] == [4, 8, 16]
    assert isinstance(net.dropout, nn.Dropout)
    assert net.dropout.p == 0.2
    for side in (8, 13, 32):
        assert net(torch.randn(2, 1, side, side)).shape == (2, 4)
    with pytest.raises(InvalidArgumentError, match=r"SmallCNN: widths=\(\) is invalid"):
        SmallCNN(widths=())


# -- ResNet --------------------------------------------------------------------------------


def test_resnet20_shape_and_size() -> None:
    net = ResNet(depth=20)
    blocks = [m for m in net.modules() if isinstance(m, ResidualBlock)]
    assert len(blocks) == 9
    # ResNet-20 has 269,722 parameters with parameter-free shortcuts; the two projection
    # shortcuts (1x1 conv + batch norm) add 16*32+64 and 32*64+128
    assert _count(net) == 269_722 + (16 * 32 + 64) + (32 * 64 + 128)
    stem = net.stem(torch.randn(2, 3, 32, 32))
    shapes = []
    for stage in net.stages:
        stem = stage(stem)
        shapes.append(tuple(stem.shape[1:]))
    assert shapes == [(16, 32, 32), (32, 16, 16), (64, 8, 8)]
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize(
    ("depth", "hint"),
    [
        (21, "The closest valid depths are 20 and 26."),
        (22, "The closest valid depths are 20 and 26."),
        (2, "The smallest valid depth is 8."),
        (5, "The smallest valid depth is 8."),
        ("20", ""),
    ],
)
def test_resnet_depth_must_be_6n_plus_2(depth: Any, hint: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        ResNet(depth=depth)
    message = str(info.value)
    assert message.startswith(f"ResNet: depth={depth!r} is invalid")
    assert "depth = 6n + 2" in message
    assert message.endswith(hint or "...).")


# -- TransformerClassifier ------------------------------------------------------------------


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_transformer_ignores_padding(pooling: str) -> None:
    torch.manual_seed(0)
    model = TransformerClassifier(20, 3, d_model=16, nhead=2, max_len=10, pooling=pooling).eval()
    tokens = torch.tensor([[5, 6, 7], [8, 9, 0]])
    padded = torch.cat([tokens, torch.zeros(2, 4, dtype=torch.long)], dim=1)
    assert torch.allclose(model(tokens), model(padded), atol=1e-5)
    assert not torch.allclose(model(tokens)[0], model(torch.tensor([[5, 6, 8]]))[0])


def test_transformer_cls_pooling_adds_a_token_and_a_position() -> None:
    mean = TransformerClassifier(20, 3, d_model=8, nhead=2, max_len=10)
    cls = TransformerClassifier(20, 3, d_model=8, nhead=2, max_len=10, pooling="cls")
    assert mean.cls_token is None
    assert cls.cls_token is not None
    assert _count(cls) - _count(mean) == 8 + 8


def test_transformer_all_padding_sequence_is_finite() -> None:
    model = TransformerClassifier(20, 3, d_model=8, nhead=2).eval()
    assert torch.isfinite(model(torch.zeros(2, 5, dtype=torch.long))).all()


def test_transformer_argument_errors() -> None:
    with pytest.raises(InvalidArgumentError, match=r"d_model=10 is not divisible by nhead=4"):
        TransformerClassifier(20, 3, d_model=10)
    with pytest.raises(InvalidArgumentError, match=r"pooling='max' is not a pooling.*'mean'"):
        TransformerClassifier(20, 3, pooling="max")
    with pytest.raises(InvalidArgumentError, match=r"Did you mean 'cls'"):
        TransformerClassifier(20, 3, pooling="clss")
    with pytest.raises(InvalidArgumentError, match=r"pad_id=20 is invalid.*vocab_size=20"):
        TransformerClassifier(20, 3, pad_id=20)


def test_transformer_input_errors() -> None:
    model = TransformerClassifier(20, 3, d_model=8, nhead=2, max_len=4)
    with pytest.raises(ShapeMismatchError, match=r"5 tokens, more than max_len=4"):
        model(torch.ones(1, 5, dtype=torch.long))
    with pytest.raises(ShapeMismatchError, match=r"shape \(4,\)"):
        model(torch.ones(4, dtype=torch.long))


# -- torchvision --------------------------------------------------------------------------


_REAL_FIND_SPEC = importlib.util.find_spec


def _torchvision_spec(
    monkeypatch: pytest.MonkeyPatch, spec: importlib.machinery.ModuleSpec | None
) -> list[str]:
    """Make ``find_spec`` answer ``spec`` for torchvision, whatever is installed here.

    Returns the torchvision names asked for, so a test can see the check was made.
    """
    asked: list[str] = []

    def find_spec(name: str, package: str | None = None) -> importlib.machinery.ModuleSpec | None:
        if name.partition(".")[0] == "torchvision":
            asked.append(name)
            return spec
        return _REAL_FIND_SPEC(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    return asked


def test_torchvision_missing_registers_nothing_without_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = _torchvision_spec(monkeypatch, None)
    for name in [m for m in sys.modules if m.partition(".")[0] == "torchvision"]:
        monkeypatch.delitem(sys.modules, name)
    imported: list[str] = []
    real_import = importlib.import_module

    def import_module(name: str, package: str | None = None) -> types.ModuleType:
        imported.append(name)
        return real_import(name, package)

    monkeypatch.setattr(importlib, "import_module", import_module)
    reg: Registry[nn.Module] = Registry("model")
    assert _register_torchvision(reg) == []  # no error, and no warning (warnings are errors)
    assert asked == ["torchvision"]  # the cheap check was made...
    assert imported == []  # ...and nothing was imported
    assert reg.names("tv_*") == []


def _fake_torchvision(monkeypatch: pytest.MonkeyPatch, models: types.ModuleType) -> None:
    """Install a fake torchvision (in sys.modules, and found by find_spec)."""
    spec = importlib.machinery.ModuleSpec("torchvision", None)
    package = types.ModuleType("torchvision")
    package.__spec__ = spec
    package.models = models  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torchvision", package)
    monkeypatch.setitem(sys.modules, "torchvision.models", models)
    _torchvision_spec(monkeypatch, spec)


def _fake_models(builders: dict[str, Callable[..., nn.Module]]) -> types.ModuleType:
    """A torchvision.models with the surface pbgml uses: list_models, get_model(_builder)."""
    models = types.ModuleType("torchvision.models")
    models.list_models = lambda module=None: sorted(builders)  # type: ignore[attr-defined]
    models.get_model_builder = builders.__getitem__  # type: ignore[attr-defined]
    models.get_model = lambda name, **kw: builders[name](**kw)  # type: ignore[attr-defined]
    return models


def _resnet18(*, weights: Any = None, progress: bool = True, num_classes: int = 1000) -> nn.Module:
    """ResNet-18."""
    return nn.Linear(2, num_classes)


def test_torchvision_models_register_as_tv_names(monkeypatch: pytest.MonkeyPatch) -> None:
    def vit_b_16(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> nn.Module:
        """ViT-B/16."""
        return nn.Identity()

    _fake_torchvision(monkeypatch, _fake_models({"resnet18": _resnet18, "vit_b_16": vit_b_16}))
    reg: Registry[nn.Module] = Registry("model")
    assert _register_torchvision(reg) == ["tv_resnet18", "tv_vit_b_16"]
    assert reg.get("tv_resnet18") is _resnet18
    assert reg.get("tv_vit_b_16") is vit_b_16
    assert "nothing is downloaded" in reg.entry("tv_resnet18").doc
    built = reg.build("tv_resnet18", num_classes=3)
    assert isinstance(built, nn.Linear)
    assert built.out_features == 3
    assert _register_torchvision(reg) == []  # already there: not registered twice


def test_broken_torchvision_warns_and_registers_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    models = types.ModuleType("torchvision.models")  # no list_models: an old or broken install
    _fake_torchvision(monkeypatch, models)
    with pytest.warns(PluginWarning, match=r"torchvision is installed but its models"):
        assert _register_torchvision(Registry("model")) == []


def test_torchvision_failing_to_import_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    # found by find_spec but its import fails (built for another torch, say)
    spec = importlib.machinery.ModuleSpec("torchvision", None)
    _torchvision_spec(monkeypatch, spec)
    for name in [m for m in sys.modules if m.partition(".")[0] == "torchvision"]:
        monkeypatch.delitem(sys.modules, name)
    real_import = importlib.import_module

    def import_module(name: str, package: str | None = None) -> types.ModuleType:
        if name.partition(".")[0] == "torchvision":
            raise OSError("undefined symbol: _ZN3c10")
        return real_import(name, package)

    monkeypatch.setattr(importlib, "import_module", import_module)
    monkeypatch.setattr("pbgml._optional._warned", set())
    with pytest.warns(PluginWarning, match=r"failed to import \(OSError: undefined symbol"):
        assert _register_torchvision(Registry("model")) == []
    # once per package and process: a second probe stays quiet
    assert _register_torchvision(Registry("model")) == []
