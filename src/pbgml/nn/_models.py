"""pbgml's models: LeNet, SmallCNN, ResNet, TransformerClassifier, torchvision's classifiers."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from pbgml._errors import PluginWarning
from pbgml._optional import probe
from pbgml.nn._activations import ActivationLike
from pbgml.nn._checks import choice, non_negative_int, positive_int, positive_ints, probability
from pbgml.nn._errors import InvalidArgumentError, ShapeMismatchError
from pbgml.nn._layers import ConvBlock, GlobalAvgPool, ResidualBlock

if TYPE_CHECKING:
    from pbgml._registry import Registry

__all__ = ["LeNet", "ResNet", "SmallCNN", "TransformerClassifier"]

_LENET_TOO_SMALL = (
    "LeNet: input_size={value!r} is too small; two 5x5 convolutions and two 2x2 "
    "poolings need images of at least 16x16 pixels."
)
_BAD_DEPTH = (
    "ResNet: depth={value!r} is invalid; a CIFAR ResNet has depth = 6n + 2 with n >= 1 "
    "residual blocks per stage (8, 14, 20, 32, 44, 56, 110, ...).{hint}"
)
_HEADS_DO_NOT_DIVIDE = (
    "TransformerClassifier: d_model={d_model!r} is not divisible by nhead={nhead!r}; "
    "each attention head gets d_model / nhead features."
)
_TOO_LONG = (
    "TransformerClassifier: got sequences of {length} tokens, more than max_len={max_len}; "
    "raise max_len or truncate the sequences."
)
_NOT_TOKENS = "TransformerClassifier expects token ids of shape (batch, length), got shape {shape}."
_TORCHVISION_BROKEN = "torchvision is installed but its models could not be listed: {error}"


def _lenet_side(input_size: int) -> int:
    """The feature map's side after LeNet's conv(5) -> pool(2) -> conv(5) -> pool(2)."""
    return ((input_size - 4) // 2 - 4) // 2


class LeNet(nn.Module):
    """The course's LeNet-style network for small images.

    ``Conv2d(in, 6, 5)``, ReLU, ``MaxPool2d(2, 2)``, ``Conv2d(6, 16, 5)``, ReLU,
    ``MaxPool2d(2, 2)``, flatten, ``Linear(16*5*5, 120)``, ReLU, ``Linear(120, 84)``,
    ReLU, ``Linear(84, num_classes)``. The flattened size follows ``input_size``
    (``16*4*4`` for MNIST's 28x28). Registered as the model ``lenet`` (config
    :class:`~pbgml.configs.LeNetConf`).

    Parameters
    ----------
    in_channels
        Image channels (3 for CIFAR-10, 1 for MNIST).
    num_classes
        Output logits.
    input_size
        Height and width of the (square) images, at least 16.

    Examples
    --------
    >>> import torch
    >>> from pbgml.nn import LeNet
    >>> sum(p.numel() for p in LeNet().parameters())
    62006
    >>> LeNet(in_channels=1, input_size=28)(torch.randn(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 10, input_size: int = 32) -> None:
        super().__init__()
        self.in_channels = positive_int(in_channels, owner="LeNet", key="in_channels")
        self.input_size = positive_int(input_size, owner="LeNet", key="input_size")
        num_classes = positive_int(num_classes, owner="LeNet", key="num_classes")
        side = _lenet_side(self.input_size)
        if side < 1:
            raise InvalidArgumentError(_LENET_TOO_SMALL.format(value=input_size))
        self.features = nn.Sequential(
            nn.Conv2d(self.in_channels, 6, 5),
            nn.ReLU(),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(6, 16, 5),
            nn.ReLU(),
            nn.MaxPool2d(2, 2),
        )
        self.flatten = nn.Flatten(1)
        self.classifier = nn.Sequential(
            nn.Linear(16 * side * side, 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(batch, in_channels, input_size, input_size)`` to ``(batch, num_classes)``."""
        out: torch.Tensor = self.classifier(self.flatten(self.features(x)))
        return out


class SmallCNN(nn.Module):
    """A small CNN: one :class:`~pbgml.nn.ConvBlock` (with 2x2 max-pool) per width, then a head.

    The head is global average pooling, optional dropout and a linear layer, so the
    network takes images of any size that survives the poolings. Registered as the
    model ``small_cnn`` (config :class:`~pbgml.configs.SmallCNNConf`).

    Parameters
    ----------
    in_channels
        Image channels.
    num_classes
        Output logits.
    widths
        Output channels of each block; the number of blocks is ``len(widths)``.
    kernel_size
        Kernel size of every convolution.
    norm
        ``"batch"``, ``"layer"`` or ``None`` (see :class:`~pbgml.nn.ConvBlock`).
    activation
        See :func:`~pbgml.nn.get_activation`.
    dropout
        Dropout probability before the linear head.

    Examples
    --------
    >>> import torch
    >>> from pbgml.nn import SmallCNN
    >>> SmallCNN(in_channels=1, widths=(8, 16))(torch.randn(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 10,
        widths: Sequence[int] = (32, 64),
        kernel_size: int = 3,
        *,
        norm: str | None = "batch",
        activation: ActivationLike = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.in_channels = positive_int(in_channels, owner=owner, key="in_channels")
        num_classes = positive_int(num_classes, owner=owner, key="num_classes")
        sizes = positive_ints(widths, owner=owner, key="widths", allow_empty=False)
        rate = probability(dropout, owner=owner, key="dropout")
        blocks: list[nn.Module] = []
        channels = self.in_channels
        for width in sizes:
            blocks.append(
                ConvBlock(channels, width, kernel_size, norm=norm, activation=activation, pool=2)
            )
            channels = width
        self.features = nn.Sequential(*blocks)
        self.pool = GlobalAvgPool()
        self.dropout: nn.Module = nn.Dropout(rate) if rate > 0 else nn.Identity()
        self.head = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(batch, in_channels, H, W)`` to ``(batch, num_classes)``."""
        out: torch.Tensor = self.head(self.dropout(self.pool(self.features(x))))
        return out


def _blocks_per_stage(depth: object) -> int:
    if isinstance(depth, int) and not isinstance(depth, bool) and depth >= 8 and depth % 6 == 2:
        return (depth - 2) // 6
    hint = ""
    if isinstance(depth, int) and not isinstance(depth, bool):
        below = max(8, depth - (depth - 2) % 6)
        above = below + 6 if below < depth else below
        hint = f" The closest valid depths are {below} and {above}."
        if below == above:
            hint = f" The smallest valid depth is {below}."
    raise InvalidArgumentError(_BAD_DEPTH.format(value=depth, hint=hint))


class ResNet(nn.Module):
    """A CIFAR-style ResNet (He et al., 2016): ``depth = 6n + 2``.

    A 3x3 stem, three stages of ``n`` :class:`~pbgml.nn.ResidualBlock` with
    ``width``, ``2*width`` and ``4*width`` channels (the second and third start with
    stride 2), global average pooling and a linear head. ``ResNet(depth=20)`` is
    ResNet-20. Registered as the model ``resnet`` (config
    :class:`~pbgml.configs.ResNetConf`).

    Parameters
    ----------
    depth
        Total depth ``6n + 2`` (8, 14, 20, 32, 44, 56, 110...).
    in_channels
        Image channels.
    num_classes
        Output logits.
    width
        Channels of the first stage.

    Examples
    --------
    >>> import torch
    >>> from pbgml.nn import ResNet
    >>> ResNet(depth=8, width=4)(torch.randn(2, 3, 16, 16)).shape
    torch.Size([2, 10])
    >>> try:
    ...     ResNet(depth=21)
    ... except ValueError as err:
    ...     print(err)  # doctest: +ELLIPSIS
    ResNet: depth=21 is invalid; a CIFAR ResNet has depth = 6n + 2 ... are 20 and 26.
    """

    def __init__(
        self, depth: int = 20, in_channels: int = 3, num_classes: int = 10, width: int = 16
    ) -> None:
        super().__init__()
        n = _blocks_per_stage(depth)
        self.in_channels = positive_int(in_channels, owner="ResNet", key="in_channels")
        num_classes = positive_int(num_classes, owner="ResNet", key="num_classes")
        width = positive_int(width, owner="ResNet", key="width")
        self.stem = nn.Sequential(
            nn.Conv2d(self.in_channels, width, 3, 1, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
        )
        stages: list[nn.Module] = []
        channels = width
        for stage, out in enumerate((width, 2 * width, 4 * width)):
            blocks = [
                ResidualBlock(channels if i == 0 else out, out, 2 if i == 0 and stage else 1)
                for i in range(n)
            ]
            stages.append(nn.Sequential(*blocks))
            channels = out
        self.stages = nn.Sequential(*stages)
        self.pool = GlobalAvgPool()
        self.head = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(batch, in_channels, H, W)`` to ``(batch, num_classes)``."""
        out: torch.Tensor = self.head(self.pool(self.stages(self.stem(x))))
        return out


class TransformerClassifier(nn.Module):
    """A Transformer encoder that classifies token sequences.

    Token embeddings plus learned positional embeddings go through a pre-norm
    :class:`~torch.nn.TransformerEncoder`; padding tokens (``pad_id``) are masked out
    of attention and of the pooling. Registered as the model
    ``transformer_classifier`` (config :class:`~pbgml.configs.TransformerClassifierConf`).

    Parameters
    ----------
    vocab_size
        Number of token ids (``pad_id`` included).
    num_classes
        Output logits.
    d_model, nhead, num_layers, dim_feedforward, dropout
        As in :class:`torch.nn.TransformerEncoderLayer` (``d_model % nhead == 0``).
    max_len
        The longest sequence the positional embeddings cover.
    pooling
        ``"mean"``: average the non-padding positions; ``"cls"``: a learned token
        prepended to each sequence, whose output is used.
    pad_id
        The padding token id.

    Examples
    --------
    >>> import torch
    >>> from pbgml.nn import TransformerClassifier
    >>> model = TransformerClassifier(vocab_size=100, num_classes=3, d_model=16, nhead=2)
    >>> tokens = torch.tensor([[5, 7, 9, 0, 0], [4, 4, 2, 8, 1]])  # 0 pads
    >>> model(tokens).shape
    torch.Size([2, 3])
    """

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        d_model: int = 64,
        nhead: int = 4,
        num_layers: int = 2,
        dim_feedforward: int = 128,
        max_len: int = 512,
        dropout: float = 0.1,
        pooling: str = "mean",
        pad_id: int = 0,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.vocab_size = positive_int(vocab_size, owner=owner, key="vocab_size")
        num_classes = positive_int(num_classes, owner=owner, key="num_classes")
        d_model = positive_int(d_model, owner=owner, key="d_model")
        nhead = positive_int(nhead, owner=owner, key="nhead")
        if d_model % nhead:
            raise InvalidArgumentError(_HEADS_DO_NOT_DIVIDE.format(d_model=d_model, nhead=nhead))
        self.max_len = positive_int(max_len, owner=owner, key="max_len")
        self.pooling = choice(
            pooling, ("mean", "cls"), owner=owner, key="pooling", what="a pooling"
        )
        self.pad_id = non_negative_int(pad_id, owner=owner, key="pad_id")
        if self.pad_id >= self.vocab_size:
            raise InvalidArgumentError(
                f"{owner}: pad_id={pad_id!r} is invalid; expected an id below "
                f"vocab_size={vocab_size!r}."
            )
        extra = 1 if self.pooling == "cls" else 0
        self.embed = nn.Embedding(self.vocab_size, d_model, padding_idx=self.pad_id)
        self.position = nn.Embedding(self.max_len + extra, d_model)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d_model)) if extra else None
        layer = nn.TransformerEncoderLayer(
            d_model,
            nhead,
            dim_feedforward=positive_int(dim_feedforward, owner=owner, key="dim_feedforward"),
            dropout=probability(dropout, owner=owner, key="dropout"),
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(
            layer,
            positive_int(num_layers, owner=owner, key="num_layers"),
            norm=nn.LayerNorm(d_model),
            enable_nested_tensor=False,
        )
        self.head = nn.Linear(d_model, num_classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Map token ids ``(batch, length)`` to logits ``(batch, num_classes)``."""
        if tokens.dim() != 2:
            raise ShapeMismatchError(_NOT_TOKENS.format(shape=tuple(tokens.shape)))
        batch, length = tokens.shape
        if length > self.max_len:
            raise ShapeMismatchError(_TOO_LONG.format(length=length, max_len=self.max_len))
        pad = tokens == self.pad_id
        x = self.embed(tokens)
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(batch, -1, -1), x], dim=1)
            pad = torch.cat([pad.new_zeros(batch, 1), pad], dim=1)
        else:  # an all-padding sequence attends to its padding rather than to nothing (NaN)
            pad = pad & ~pad.all(dim=1, keepdim=True)
        x = x + self.position(torch.arange(x.shape[1], device=tokens.device))
        x = self.encoder(x, src_key_padding_mask=pad)
        if self.cls_token is not None:
            pooled = x[:, 0]
        else:
            keep = (~pad).unsqueeze(-1).to(x.dtype)
            pooled = (x * keep).sum(dim=1) / keep.sum(dim=1).clamp_min(1)
        out: torch.Tensor = self.head(pooled)
        return out


def _load_torchvision(reg: Registry[Any]) -> list[str]:
    """Register torchvision's classification models as ``tv_<name>``, when installed.

    Returns the names registered: none when torchvision is missing (no error then).
    """
    models: Any = probe("torchvision.models", extra="torchvision")
    if models is None:
        return []
    try:
        names = sorted(models.list_models(module=models))
        builders = {name: models.get_model_builder(name) for name in names}
    except Exception as err:  # a torchvision too old or too new for this listing
        warnings.warn(
            PluginWarning(_TORCHVISION_BROKEN.format(error=f"{type(err).__name__}: {err}")),
            stacklevel=2,
        )
        return []
    added = []
    for name, builder in builders.items():
        entry = f"tv_{name}"
        if entry in reg:
            continue
        doc = f"torchvision.models.{name} (weights=None by default: nothing is downloaded)."
        reg.register(builder, name=entry, doc=doc)
        added.append(entry)
    return added


def _load_models(reg: Registry[Any]) -> None:
    """Loader of the ``model`` group: pbgml's models."""
    from pbgml.nn._layers import MLP

    reg.register(MLP, name="mlp", aliases=["MLP"])
    reg.register(LeNet, name="lenet", aliases=["LeNet"])
    reg.register(SmallCNN, name="small_cnn", aliases=["SmallCNN"])
    reg.register(ResNet, name="resnet", aliases=["ResNet"])
    reg.register(
        TransformerClassifier, name="transformer_classifier", aliases=["TransformerClassifier"]
    )
