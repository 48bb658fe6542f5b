from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from pbgml import PbgmlError, UnknownNameError, registry
from pbgml.nn import (
    MLP,
    ConvBlock,
    GlobalAvgPool,
    InvalidArgumentError,
    ResidualBlock,
    Sequential,
    ShapeMismatchError,
    get_activation,
)
from pbgml.nn._activations import _activation_choices


def _types(module: nn.Module) -> list[str]:
    return [type(m).__name__ for m in module.children()]


# -- activations ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("relu", nn.ReLU),
        ("gelu", nn.GELU),
        ("leaky_relu", nn.LeakyReLU),
        ("silu", nn.SiLU),
        ("tanh", nn.Tanh),
        ("identity", nn.Identity),
        ("ReLU", nn.ReLU),
    ],
)
def test_activation_by_name(name: str, cls: type[nn.Module]) -> None:
    assert type(get_activation(name)) is cls


def test_activation_module_class_and_none() -> None:
    module = nn.LeakyReLU(0.2)
    assert get_activation(module) is module
    assert isinstance(get_activation(nn.Mish), nn.Mish)
    assert isinstance(get_activation(None), nn.Identity)
    assert get_activation("relu") is not get_activation("relu")


def test_user_registered_layer_is_not_an_activation_by_name(
    scratch_registry_names: list[tuple[str, str]],
) -> None:
    class Square(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * x

    registry.layer.register(Square, name="test_square")
    scratch_registry_names.append(("layer", "test_square"))
    with pytest.raises(InvalidArgumentError, match=r"activation='test_square' is the layer .*Sq"):
        MLP(2, 1, hidden=(3,), activation="test_square")
    # a custom activation is given as a class or a module instead
    assert isinstance(MLP(2, 1, hidden=(3,), activation=Square).layers.act0, Square)
    assert isinstance(MLP(2, 1, hidden=(3,), activation=Square()).layers.act0, Square)


_ACTIVATIONS_WANTED = (
    "relu",
    "gelu",
    "silu",
    "tanh",
    "sigmoid",
    "leaky_relu",
    "elu",
    "selu",
    "mish",
    "softplus",
    "hardswish",
    "identity",
)


def test_activation_choices_are_torch_activations_and_identity() -> None:
    from torch.nn.modules import activation as torch_activations

    choices = _activation_choices()
    assert set(_ACTIVATIONS_WANTED) <= set(choices)
    for name in choices:
        module = get_activation(name)
        assert type(module) is nn.Identity or type(module).__module__ == torch_activations.__name__
    assert not {"dropout", "linear", "flatten", "batch_norm1d", "threshold"} & set(choices)


@pytest.mark.parametrize("name", ["dropout", "Dropout", "linear", "flatten", "batch_norm1d"])
@pytest.mark.parametrize(
    "build",
    [
        lambda act: MLP(4, 2, hidden=(3,), activation=act),
        lambda act: ConvBlock(3, 4, activation=act),
        lambda act: ResidualBlock(4, activation=act),
    ],
    ids=["MLP", "ConvBlock", "ResidualBlock"],
)
def test_a_layer_that_is_not_an_activation_is_refused(
    name: str, build: Callable[[str], nn.Module]
) -> None:
    # before the fix, any argument-free layer was accepted: MLP(activation="dropout")
    # silently built a linear network
    with pytest.raises(InvalidArgumentError) as info:
        build(name)
    message = str(info.value)
    assert message.startswith(f"activation={name!r} is the layer torch.nn.")
    assert ", not an activation." in message
    assert "Activations: 'celu'" in message
    assert "'relu'" in message
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, PbgmlError)


def test_a_refused_layer_suggests_the_closest_activation() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        get_activation("gru", key="hidden_act")
    assert str(info.value).startswith(
        "hidden_act='gru' is the layer torch.nn.GRU, not an activation. Did you mean 'glu'?"
    )


def test_a_torch_activation_that_needs_arguments_says_so() -> None:
    with pytest.raises(InvalidArgumentError, match=r"activation='threshold' is the layer torch"):
        get_activation("threshold")
    with pytest.raises(InvalidArgumentError, match=r"cannot be built without arguments"):
        get_activation("threshold")


def test_unknown_activation_suggests_the_closest() -> None:
    with pytest.raises(UnknownNameError) as info:
        get_activation("rellu")
    message = str(info.value)
    assert message.startswith("Unknown activation='rellu'. Did you mean 'relu'?")
    assert "'gelu'" in message
    assert "'tanh'" in message
    assert "'linear'" not in message  # only activations are listed
    assert info.value.suggestion == "relu"
    assert isinstance(info.value, KeyError)
    assert isinstance(info.value, PbgmlError)


def test_unknown_activation_names_the_key() -> None:
    with pytest.raises(UnknownNameError, match=r"Unknown hidden_act='geluu'\. Did you mean 'gelu'"):
        get_activation("geluu", key="hidden_act")


def test_layer_that_needs_arguments_is_not_an_activation() -> None:
    with pytest.raises(
        InvalidArgumentError,
        match=r"activation='linear' is the layer torch\.nn\.Linear, not an activation",
    ):
        get_activation("linear")


def test_activation_of_the_wrong_type() -> None:
    with pytest.raises(InvalidArgumentError, match=r"activation=3 is not an activation"):
        get_activation(3)  # type: ignore[arg-type]


# -- MLP -----------------------------------------------------------------------------


def test_mlp_structure_and_forward() -> None:
    mlp = MLP(in_features=64, hidden=(128, 128), out_features=10)
    assert _types(mlp.layers) == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert [m.out_features for m in mlp.layers if isinstance(m, nn.Linear)] == [128, 128, 10]
    assert mlp(torch.randn(5, 8, 8)).shape == (5, 10)


@pytest.mark.parametrize(
    ("norm", "dropout", "expected"),
    [
        (None, 0.0, ["Linear", "ReLU", "Linear"]),
        ("batch", 0.0, ["Linear", "BatchNorm1d", "ReLU", "Linear"]),
        ("layer", 0.0, ["Linear", "LayerNorm", "ReLU", "Linear"]),
        (None, 0.5, ["Linear", "ReLU", "Dropout", "Linear"]),
        ("batch", 0.25, ["Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear"]),
    ],
)
def test_mlp_norm_and_dropout_variants(
    norm: str | None, dropout: float, expected: list[str]
) -> None:
    mlp = MLP(6, 2, hidden=(4,), norm=norm, dropout=dropout)
    assert _types(mlp.layers) == expected
    for m in mlp.layers:
        if isinstance(m, nn.Dropout):
            assert m.p == dropout
    assert mlp(torch.randn(3, 6)).shape == (3, 2)


def test_mlp_dropout_is_active_in_training_only() -> None:
    mlp = MLP(8, 8, hidden=(256,), dropout=0.5)
    x = torch.randn(4, 8)
    mlp.eval()
    assert torch.equal(mlp(x), mlp(x))
    mlp.train()
    assert not torch.equal(mlp(x), mlp(x))


def test_mlp_without_hidden_layers_is_linear() -> None:
    mlp = MLP(3, 2, hidden=())
    assert _types(mlp.layers) == ["Linear"]


def test_mlp_without_flatten_maps_the_last_dimension() -> None:
    mlp = MLP(4, 2, hidden=(3,), flatten=False)
    assert mlp(torch.randn(5, 7, 4)).shape == (5, 7, 2)


def test_mlp_copies_an_activation_module_per_layer() -> None:
    mlp = MLP(4, 2, hidden=(3, 3), activation=nn.PReLU())
    first, second = mlp.layers.act0, mlp.layers.act1
    assert isinstance(first, nn.PReLU)
    assert first is not second
    assert first.weight is not second.weight


def test_mlp_takes_a_yaml_list() -> None:
    hidden = OmegaConf.create({"h": [5, 6]}).h
    assert MLP(4, 2, hidden=hidden).hidden == (5, 6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"in_features": 0}, r"MLP: in_features=0 is invalid; expected a positive int"),
        ({"out_features": True}, r"MLP: out_features=True is invalid"),
        ({"hidden": [8, 0]}, r"MLP: hidden=\[8, 0\] is invalid; expected a list of positive ints"),
        ({"hidden": 8}, r"MLP: hidden=8 is invalid"),
        ({"dropout": 1.0}, r"MLP: dropout=1\.0 is invalid; expected a probability in \[0, 1\)"),
        (
            {"norm": "bach"},
            r"MLP: norm='bach' is not a normalization; expected 'batch', 'layer' or None\. "
            r"Did you mean 'batch'\?",
        ),
    ],
)
def test_mlp_rejects_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"in_features": 4, "out_features": 2, **kwargs}
    with pytest.raises(InvalidArgumentError, match=message) as info:
        MLP(**arguments)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, PbgmlError)


# -- ConvBlock and ResidualBlock -------------------------------------------------------


def test_conv_block_same_padding_norm_and_pool() -> None:
    block = ConvBlock(3, 8, kernel_size=5, pool=2)
    assert _types(block) == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"]
    assert block.conv.padding == (2, 2)
    assert block.conv.bias is None
    assert block(torch.randn(2, 3, 10, 10)).shape == (2, 8, 5, 5)


def test_conv_block_without_norm_has_a_bias_and_options() -> None:
    block = ConvBlock(3, 8, stride=2, padding=0, norm=None, activation="gelu")
    assert _types(block) == ["Conv2d", "GELU"]
    assert block.conv.bias is not None
    assert block(torch.randn(1, 3, 9, 9)).shape == (1, 8, 4, 4)
    assert isinstance(ConvBlock(3, 8, norm="layer").norm, nn.GroupNorm)


def test_conv_block_rejects_bad_arguments() -> None:
    with pytest.raises(InvalidArgumentError, match=r"ConvBlock: padding=-1 is invalid"):
        ConvBlock(3, 8, padding=-1)
    with pytest.raises(InvalidArgumentError, match=r"ConvBlock: pool=0 is invalid"):
        ConvBlock(3, 8, pool=0)
    with pytest.raises(InvalidArgumentError, match=r"ConvBlock: norm='group'"):
        ConvBlock(3, 8, norm="group")


def test_residual_block_identity_and_projection_shortcuts() -> None:
    same = ResidualBlock(8)
    assert isinstance(same.shortcut, nn.Identity)
    x = torch.randn(2, 8, 6, 6)
    assert same(x).shape == x.shape
    down = ResidualBlock(8, 16, stride=2)
    assert _types(down.shortcut) == ["Conv2d", "BatchNorm2d"]
    assert down(x).shape == (2, 16, 3, 3)
    assert isinstance(ResidualBlock(8, 16).shortcut, nn.Sequential)


def test_residual_block_adds_the_input() -> None:
    block = ResidualBlock(4, norm=None, activation="identity")
    for conv in (block.conv1, block.conv2):
        nn.init.zeros_(conv.weight)
        assert conv.bias is not None
        nn.init.zeros_(conv.bias)
    x = torch.randn(1, 4, 5, 5)
    assert torch.equal(block(x), x)


# -- Sequential and GlobalAvgPool ------------------------------------------------------


def test_sequential_from_a_list_and_slicing() -> None:
    net = Sequential([nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)])
    assert isinstance(net, nn.Sequential)
    assert net(torch.randn(5, 4)).shape == (5, 2)
    head = net[:2]
    assert type(head) is Sequential
    assert len(head) == 2
    assert head[0] is net[0]


def test_sequential_from_a_mapping_names_the_layers() -> None:
    net = Sequential(OrderedDict(body=nn.Linear(4, 3), act=nn.ReLU()))
    assert [name for name, _ in net.named_children()] == ["body", "act"]


def test_sequential_rejects_unbuilt_layers() -> None:
    with pytest.raises(
        InvalidArgumentError, match=r"layers\[1\] is a dict .*not a torch\.nn\.Module"
    ):
        Sequential([nn.ReLU(), {"_target_": "torch.nn.ReLU"}])  # type: ignore[list-item]
    with pytest.raises(InvalidArgumentError, match=r"layers\['b'\] is a int"):
        Sequential({"a": nn.ReLU(), "b": 3})  # type: ignore[dict-item]
    with pytest.raises(InvalidArgumentError, match=r"layers='relu' is invalid"):
        Sequential("relu")  # type: ignore[arg-type]


def test_global_avg_pool_averages_every_spatial_dimension() -> None:
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5)
    assert torch.allclose(GlobalAvgPool()(x), x.mean(dim=(2, 3)))
    assert GlobalAvgPool()(torch.randn(2, 3, 7)).shape == (2, 3)
    with pytest.raises(ShapeMismatchError, match=r"got shape \(2, 3\)"):
        GlobalAvgPool()(torch.randn(2, 3))
