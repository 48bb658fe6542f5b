"""Typed configs for pbgml.nn: layers and models."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pbgml.configs._core import LayerConf, ModelConf

__all__ = [
    "ConvBlockConf",
    "LeNetConf",
    "MLPConf",
    "ResNetConf",
    "ResidualBlockConf",
    "SequentialConf",
    "SmallCNNConf",
    "TransformerClassifierConf",
]


# -- models ------------------------------------------------------------------------


@dataclass(kw_only=True)
class MLPConf(ModelConf):
    """:class:`pbgml.nn.MLP`: a multi-layer perceptron (the model ``mlp``).

    Examples
    --------
    >>> from omegaconf import OmegaConf
    >>> from pbgml.configs import MLPConf
    >>> cfg = MLPConf(in_features=64, hidden=(128, 128), out_features=10)
    >>> print(OmegaConf.to_yaml(cfg), end="")
    _target_: pbgml.nn.MLP
    in_features: 64
    out_features: 10
    hidden:
    - 128
    - 128
    activation: relu
    norm: null
    dropout: 0.0
    flatten: true
    """

    _target_: str = field(default="pbgml.nn.MLP", init=False, repr=False)
    in_features: int
    out_features: int
    hidden: tuple[int, ...] = (128,)
    activation: str | None = "relu"
    norm: str | None = None
    dropout: float = 0.0
    flatten: bool = True


@dataclass(kw_only=True)
class LeNetConf(ModelConf):
    """:class:`pbgml.nn.LeNet`: the course's LeNet-style CNN (the model ``lenet``).

    Examples
    --------
    >>> from pbgml.configs import LeNetConf
    >>> LeNetConf(in_channels=1, input_size=28)
    LeNetConf(in_channels=1, num_classes=10, input_size=28)
    """

    _target_: str = field(default="pbgml.nn.LeNet", init=False, repr=False)
    in_channels: int = 3
    num_classes: int = 10
    input_size: int = 32


@dataclass(kw_only=True)
class SmallCNNConf(ModelConf):
    """:class:`pbgml.nn.SmallCNN`: conv blocks and a pooled linear head (the model ``small_cnn``).

    Examples
    --------
    >>> from pbgml.configs import SmallCNNConf
    >>> SmallCNNConf(widths=(16, 32, 64), dropout=0.2).norm
    'batch'
    """

    _target_: str = field(default="pbgml.nn.SmallCNN", init=False, repr=False)
    in_channels: int = 3
    num_classes: int = 10
    widths: tuple[int, ...] = (32, 64)
    kernel_size: int = 3
    norm: str | None = "batch"
    activation: str | None = "relu"
    dropout: float = 0.0


@dataclass(kw_only=True)
class ResNetConf(ModelConf):
    """:class:`pbgml.nn.ResNet`: a CIFAR-style ResNet, ``depth = 6n + 2`` (the model ``resnet``).

    Examples
    --------
    >>> from pbgml.configs import ResNetConf
    >>> ResNetConf(depth=32)
    ResNetConf(depth=32, in_channels=3, num_classes=10, width=16)
    """

    _target_: str = field(default="pbgml.nn.ResNet", init=False, repr=False)
    depth: int = 20
    in_channels: int = 3
    num_classes: int = 10
    width: int = 16


@dataclass(kw_only=True)
class TransformerClassifierConf(ModelConf):
    """:class:`pbgml.nn.TransformerClassifier`: classify token sequences.

    The model ``transformer_classifier``; ``vocab_size`` and ``num_classes`` are required.

    Examples
    --------
    >>> from pbgml.configs import TransformerClassifierConf
    >>> cfg = TransformerClassifierConf(vocab_size=5000, num_classes=2, pooling="cls")
    >>> cfg.d_model, cfg.nhead, cfg.max_len
    (64, 4, 512)
    """

    _target_: str = field(default="pbgml.nn.TransformerClassifier", init=False, repr=False)
    vocab_size: int
    num_classes: int
    d_model: int = 64
    nhead: int = 4
    num_layers: int = 2
    dim_feedforward: int = 128
    max_len: int = 512
    dropout: float = 0.1
    pooling: str = "mean"
    pad_id: int = 0


# -- layers ------------------------------------------------------------------------


@dataclass(kw_only=True)
class ConvBlockConf(LayerConf):
    """:class:`pbgml.nn.ConvBlock`: conv, norm, activation, max-pool (the layer ``conv_block``).

    Examples
    --------
    >>> from pbgml.configs import ConvBlockConf
    >>> ConvBlockConf(in_channels=3, out_channels=16, pool=2).padding is None
    True
    """

    _target_: str = field(default="pbgml.nn.ConvBlock", init=False, repr=False)
    in_channels: int
    out_channels: int
    kernel_size: int = 3
    stride: int = 1
    padding: int | None = None
    norm: str | None = "batch"
    activation: str | None = "relu"
    pool: int | None = None


@dataclass(kw_only=True)
class ResidualBlockConf(LayerConf):
    """:class:`pbgml.nn.ResidualBlock`: a basic ResNet block (the layer ``residual_block``).

    Examples
    --------
    >>> from pbgml.configs import ResidualBlockConf
    >>> ResidualBlockConf(channels=16, out_channels=32, stride=2)
    ResidualBlockConf(channels=16, out_channels=32, stride=2, norm='batch', activation='relu')
    """

    _target_: str = field(default="pbgml.nn.ResidualBlock", init=False, repr=False)
    channels: int
    out_channels: int | None = None
    stride: int = 1
    norm: str | None = "batch"
    activation: str | None = "relu"


@dataclass(kw_only=True)
class SequentialConf(LayerConf):
    """:class:`pbgml.nn.Sequential`: a network written layer by layer (the layer ``sequential``).

    Each element of ``layers`` is a layer config; instantiation builds them in order.

    Examples
    --------
    >>> from omegaconf import OmegaConf
    >>> from pbgml.configs import ConvBlockConf, SequentialConf
    >>> cfg = SequentialConf(
    ...     layers=[
    ...         ConvBlockConf(in_channels=1, out_channels=8, pool=2),
    ...         {"_target_": "pbgml.nn.GlobalAvgPool"},
    ...         {"_target_": "torch.nn.Linear", "in_features": 8, "out_features": 10},
    ...     ]
    ... )
    >>> [layer["_target_"] for layer in OmegaConf.structured(cfg).layers]
    ['pbgml.nn.ConvBlock', 'pbgml.nn.GlobalAvgPool', 'torch.nn.Linear']
    """

    _target_: str = field(default="pbgml.nn.Sequential", init=False, repr=False)
    layers: list[Any]
