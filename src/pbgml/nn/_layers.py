"""pbgml's layers: MLP, ConvBlock, ResidualBlock, Sequential, pooling."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from pbgml.nn._activations import ActivationLike, _fresh_activation
from pbgml.nn._checks import choice, positive_int, positive_ints, probability
from pbgml.nn._errors import InvalidArgumentError, ShapeMismatchError

if TYPE_CHECKING:
    from pbgml._registry import Registry

__all__ = [
    "ConvBlock",
    "GlobalAvgPool",
    "MLP",
    "ResidualBlock",
    "Sequential",
]

_NORMS = ("batch", "layer")

_NOT_A_MODULE = (
    "Sequential: layers[{index}] is {kind}, not a torch.nn.Module. Build each layer first "
    "(pbgml.instantiate builds the elements of a layer list for you)."
)
_POOL_NEEDS_SPATIAL = (
    "GlobalAvgPool expects a (batch, channels, *spatial) tensor, got shape {shape}: "
    "there is nothing to pool over."
)


def _norm_1d(norm: str | None, features: int) -> nn.Module | None:
    if norm == "batch":
        return nn.BatchNorm1d(features)
    if norm == "layer":
        return nn.LayerNorm(features)
    return None


def _norm_2d(norm: str | None, channels: int) -> nn.Module | None:
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "layer":  # layer norm over (C, H, W): one group
        return nn.GroupNorm(1, channels)
    return None


def _check_norm(norm: object, owner: str) -> str | None:
    return choice(norm, _NORMS, owner=owner, key="norm", what="a normalization", allow_none=True)


class MLP(nn.Module):
    """A multi-layer perceptron: ``Linear -> [norm] -> activation -> [dropout]`` per hidden layer.

    Registered as the model ``mlp`` (config :class:`~pbgml.configs.MLPConf`).

    Parameters
    ----------
    in_features
        Input features per sample (after flattening when ``flatten`` is true).
    out_features
        Output features (the number of classes for a classifier).
    hidden
        The width of each hidden layer; ``()`` makes a single linear layer.
    activation
        The activation after each hidden layer (see :func:`get_activation`).
    norm
        ``"batch"`` (:class:`~torch.nn.BatchNorm1d`), ``"layer"``
        (:class:`~torch.nn.LayerNorm`) or ``None``, after each hidden linear layer.
    dropout
        Dropout probability after each hidden activation; ``0`` adds no dropout layer.
    flatten
        Flatten each sample to one dimension first, so images go in directly.

    Examples
    --------
    >>> import torch
    >>> from pbgml.nn import MLP
    >>> mlp = MLP(in_features=64, hidden=(128, 128), out_features=10)
    >>> mlp(torch.randn(4, 8, 8)).shape
    torch.Size([4, 10])
    >>> [type(m).__name__ for m in MLP(4, 2, hidden=(8,), norm="layer", dropout=0.1).layers]
    ['Linear', 'LayerNorm', 'ReLU', 'Dropout', 'Linear']
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden: Sequence[int] = (128,),
        *,
        activation: ActivationLike = "relu",
        norm: str | None = None,
        dropout: float = 0.0,
        flatten: bool = True,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.in_features = positive_int(in_features, owner=owner, key="in_features")
        self.out_features = positive_int(out_features, owner=owner, key="out_features")
        self.hidden = positive_ints(hidden, owner=owner, key="hidden")
        checked_norm = _check_norm(norm, owner)
        rate = probability(dropout, owner=owner, key="dropout")
        self.flatten: nn.Module = nn.Flatten(1) if flatten else nn.Identity()
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        width = self.in_features
        for i, size in enumerate(self.hidden):
            layers[f"fc{i}"] = nn.Linear(width, size)
            normalization = _norm_1d(checked_norm, size)
            if normalization is not None:
                layers[f"norm{i}"] = normalization
            layers[f"act{i}"] = _fresh_activation(activation)
            if rate > 0:
                layers[f"drop{i}"] = nn.Dropout(rate)
            width = size
        layers["out"] = nn.Linear(width, self.out_features)
        self.layers = nn.Sequential(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(batch, *features)`` to ``(batch, out_features)``."""
        out: torch.Tensor = self.layers(self.flatten(x))
        return out


class ConvBlock(nn.Module):
    """``Conv2d -> [norm] -> activation -> [max-pool]``: the unit of small CNNs.

    Registered as the layer ``conv_block`` (config :class:`~pbgml.configs.ConvBlockConf`).

    Parameters
    ----------
    in_channels, out_channels
        Channels in and out.
    kernel_size, stride
        The convolution's kernel size and stride.
    padding
        ``None`` pads by ``kernel_size // 2`` ("same" size for odd kernels at stride 1).
    norm
        ``"batch"`` (:class:`~torch.nn.BatchNorm2d`; the convolution then has no bias),
        ``"layer"`` (:class:`~torch.nn.GroupNorm` with one group) or ``None``.
    activation
        See :func:`get_activation`.
    pool
        Max-pool kernel size (and stride) after the activation; ``None`` for none.

    Examples
    --------
    >>> import torch
    >>> from pbgml.nn import ConvBlock
    >>> block = ConvBlock(3, 16, pool=2)
    >>> [type(m).__name__ for m in block.children()]
    ['Conv2d', 'BatchNorm2d', 'ReLU', 'MaxPool2d']
    >>> block(torch.randn(2, 3, 32, 32)).shape
    torch.Size([2, 16, 16, 16])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int | None = None,
        *,
        norm: str | None = "batch",
        activation: ActivationLike = "relu",
        pool: int | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        in_channels = positive_int(in_channels, owner=owner, key="in_channels")
        out_channels = positive_int(out_channels, owner=owner, key="out_channels")
        kernel_size = positive_int(kernel_size, owner=owner, key="kernel_size")
        stride = positive_int(stride, owner=owner, key="stride")
        if padding is None:
            padding = kernel_size // 2
        elif isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
            raise InvalidArgumentError(
                f"{owner}: padding={padding!r} is invalid; expected an int >= 0 or None (same)."
            )
        checked_norm = _check_norm(norm, owner)
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride, padding, bias=checked_norm != "batch"
        )
        normalization = _norm_2d(checked_norm, out_channels)
        if normalization is not None:
            self.norm = normalization
        self.act = _fresh_activation(activation)
        if pool is not None:
            self.pool = nn.MaxPool2d(positive_int(pool, owner=owner, key="pool"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(batch, in_channels, H, W)`` to ``(batch, out_channels, H', W')``."""
        for layer in self.children():
            x = layer(x)
        return x


class ResidualBlock(nn.Module):
    """A basic ResNet block: two 3x3 convolutions plus a shortcut, then the activation.

    The shortcut is the identity when the shape is kept, else a 1x1 convolution (with
    the block's stride) and a normalization: the "projection" shortcut.
    Registered as the layer ``residual_block`` (config
    :class:`~pbgml.configs.ResidualBlockConf`).

    Parameters
    ----------
    channels
        Input channels.
    out_channels
        Output channels; ``None`` keeps ``channels``.
    stride
        The first convolution's stride (2 halves the height and width).
    norm
        ``"batch"``, ``"layer"`` (one-group :class:`~torch.nn.GroupNorm`) or ``None``.
    activation
        See :func:`get_activation`.

    Examples
    --------
    >>> import torch
    >>> from pbgml.nn import ResidualBlock
    >>> block = ResidualBlock(16, 32, stride=2)
    >>> block(torch.randn(2, 16, 8, 8)).shape
    torch.Size([2, 32, 4, 4])
    >>> isinstance(ResidualBlock(16).shortcut, torch.nn.Identity)
    True
    """

    def __init__(
        self,
        channels: int,
        out_channels: int | None = None,
        stride: int = 1,
        *,
        norm: str | None = "batch",
        activation: ActivationLike = "relu",
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        channels = positive_int(channels, owner=owner, key="channels")
        out = channels if out_channels is None else out_channels
        out = positive_int(out, owner=owner, key="out_channels")
        stride = positive_int(stride, owner=owner, key="stride")
        checked_norm = _check_norm(norm, owner)
        bias = checked_norm is None
        self.conv1 = nn.Conv2d(channels, out, 3, stride, 1, bias=bias)
        self.norm1 = _norm_2d(checked_norm, out) or nn.Identity()
        self.act1 = _fresh_activation(activation)
        self.conv2 = nn.Conv2d(out, out, 3, 1, 1, bias=bias)
        self.norm2 = _norm_2d(checked_norm, out) or nn.Identity()
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or out != channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(channels, out, 1, stride, bias=bias),
                _norm_2d(checked_norm, out) or nn.Identity(),
            )
        self.act = _fresh_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(batch, channels, H, W)`` to ``(batch, out_channels, H/stride, W/stride)``."""
        y = self.act1(self.norm1(self.conv1(x)))
        y = self.norm2(self.conv2(y))
        out: torch.Tensor = self.act(y + self.shortcut(x))
        return out


def _kind(value: object) -> str:
    return f"a {type(value).__name__} ({value!r})" if not callable(value) else repr(value)


class Sequential(nn.Sequential):
    """Layers applied in order, given as a list (or a name-to-layer mapping) of modules.

    :class:`torch.nn.Sequential` takes its layers as ``*args``, which a config cannot
    spell; this subclass takes one ``layers`` argument, so a network can be written
    in YAML layer by layer. It is registered as the layer ``sequential`` (config
    :class:`~pbgml.configs.SequentialConf`); torch's stays registered under its class
    name, ``Sequential``. Everything else is
    :class:`torch.nn.Sequential`'s (indexing, slicing, ``append``).

    .. code-block:: yaml

        model:
          _target_: pbgml.nn.Sequential
          layers:
            - {_target_: pbgml.nn.ConvBlock, in_channels: 3, out_channels: 16, pool: 2}
            - {_target_: pbgml.nn.GlobalAvgPool}
            - {_target_: torch.nn.Linear, in_features: 16, out_features: 10}

    Parameters
    ----------
    layers
        The modules, in order; a mapping names them (``{"conv": ..., "head": ...}``).

    Examples
    --------
    >>> import torch
    >>> from pbgml.nn import ConvBlock, GlobalAvgPool, Sequential
    >>> net = Sequential([ConvBlock(3, 16, pool=2), GlobalAvgPool(), torch.nn.Linear(16, 10)])
    >>> net(torch.randn(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    >>> type(net[:2]).__name__, len(net[:2])
    ('Sequential', 2)
    """

    def __init__(self, layers: Sequence[nn.Module] | Mapping[str, nn.Module]) -> None:
        if isinstance(layers, Mapping):
            items = [(str(k), v) for k, v in layers.items()]
        elif isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence):
            raise InvalidArgumentError(
                f"Sequential: layers={layers!r} is invalid; expected a list of torch.nn.Module."
            )
        else:
            items = [(str(i), v) for i, v in enumerate(layers)]
        for index, (name, layer) in enumerate(items):
            if not isinstance(layer, nn.Module):
                shown = repr(name) if isinstance(layers, Mapping) else index
                raise InvalidArgumentError(_NOT_A_MODULE.format(index=shown, kind=_kind(layer)))
        super().__init__(OrderedDict(items))


class GlobalAvgPool(nn.Module):
    """Average over every spatial dimension and flatten: ``(B, C, *spatial) -> (B, C)``.

    Registered as the layer ``global_avg_pool``.

    Examples
    --------
    >>> import torch
    >>> from pbgml.nn import GlobalAvgPool
    >>> GlobalAvgPool()(torch.ones(2, 8, 4, 4)).shape
    torch.Size([2, 8])
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the mean over all dimensions after the first two."""
        if x.dim() < 3:
            raise ShapeMismatchError(_POOL_NEEDS_SPATIAL.format(shape=tuple(x.shape)))
        return torch.flatten(x, 2).mean(dim=2)


def _load_layers(reg: Registry[Any]) -> None:
    """Loader of the ``layer`` group: pbgml's layers (before torch's catalogue, so the
    short name ``sequential`` is pbgml's; torch's stays ``Sequential``)."""
    reg.register(ConvBlock, name="conv_block", aliases=["ConvBlock"])
    reg.register(ResidualBlock, name="residual_block", aliases=["ResidualBlock"])
    reg.register(GlobalAvgPool, name="global_avg_pool", aliases=["GlobalAvgPool"])
    # torch's Sequential takes *args, which YAML cannot spell: the short name is pbgml's
    reg.register(Sequential, name="sequential")
