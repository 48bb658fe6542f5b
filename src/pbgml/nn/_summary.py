"""``summary``: a model's layers, output shapes and parameter counts, computed on meta."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from pbgml.nn._meta import build_on_meta, check_shape, first_shape
from pbgml.nn._shapes import forward_or_explain

__all__ = ["LayerSummary", "ModelSummary", "summary"]

_HEADERS = ("Layer", "Type", "Output shape", "Params")


@dataclass(frozen=True)
class LayerSummary:
    """One row of a :class:`ModelSummary`.

    Attributes
    ----------
    name
        The submodule's dotted name in the model (``"features.0"``).
    type
        Its class name (``"Conv2d"``).
    output_shape
        The shape of its output (the first tensor of a tuple or dict) for the
        summary's batch, or ``None`` when it did not run in the forward pass.
    num_parameters
        Its own parameters (not its children's).

    Examples
    --------
    >>> from pbgml.nn import LeNet, summary
    >>> summary(LeNet(), (3, 32, 32)).layers[0]
    LayerSummary(name='features.0', type='Conv2d', output_shape=(1, 6, 28, 28), num_parameters=456)
    """

    name: str
    type: str
    output_shape: tuple[int, ...] | None
    num_parameters: int


@dataclass(frozen=True)
class ModelSummary:
    """What :func:`summary` found: shapes and parameter counts; ``str()`` is a table.

    Attributes
    ----------
    model
        The model's class name.
    input_shape, output_shape
        The input batch's shape and the output's (the first tensor of a tuple/dict).
    num_parameters, num_trainable
        All parameters, and those with ``requires_grad`` (shared ones counted once).
    parameter_bytes
        The parameters' memory at their dtype.
    layers
        One row per leaf module and per module holding parameters of its own, in the
        order they ran (those that did not run come last).

    Examples
    --------
    >>> from pbgml.nn import LeNet, summary
    >>> info = summary(LeNet(), (3, 32, 32))
    >>> info.output_shape, info.num_parameters, len(info.layers)
    ((1, 10), 62006, 12)
    """

    model: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...] | None
    num_parameters: int
    num_trainable: int
    parameter_bytes: int
    layers: tuple[LayerSummary, ...]

    def __str__(self) -> str:
        rows = [
            (
                row.name,
                row.type,
                _shape_text(row.output_shape),
                f"{row.num_parameters:,}",
            )
            for row in self.layers
        ]
        widths = [max(len(r[i]) for r in [_HEADERS, *rows]) for i in range(4)]

        def line(cells: tuple[str, str, str, str]) -> str:
            left = "  ".join(c.ljust(w) for c, w in zip(cells[:3], widths[:3], strict=True))
            return f"{left}  {cells[3].rjust(widths[3])}"

        rule = "  ".join("-" * w for w in widths)
        head = (
            f"{self.model}: input {_shape_text(self.input_shape)} -> "
            f"output {_shape_text(self.output_shape)}"
        )
        total = (
            f"Total params: {self.num_parameters:,} (trainable: {self.num_trainable:,}), "
            f"{_size_text(self.parameter_bytes)}"
        )
        return "\n".join([head, line(_HEADERS), rule, *map(line, rows), rule, total])


def _shape_text(shape: tuple[int, ...] | None) -> str:
    return "-" if shape is None else str(shape)


def _size_text(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def summary(
    model: object,
    input_shape: tuple[int, ...],
    *,
    dtype: torch.dtype = torch.float32,
    batch_size: int = 1,
    model_cfg: object = None,
) -> ModelSummary:
    """Describe a model without allocating its weights.

    The forward pass runs on PyTorch's meta device: tensors have shapes and dtypes
    but no memory, so a model of billions of parameters is summarised in
    milliseconds. A callable or a name is built on the meta device; a module keeps
    its weights where they are, meta tensors stand in for them during the pass (in
    eval mode, restored afterwards).

    Parameters
    ----------
    model
        A :class:`torch.nn.Module`; a zero-argument callable returning one
        (``lambda: MLP(...)``); or a registered model name (``"resnet"``). For a model
        config, use :func:`pbgml.summary`, which builds it on meta and calls this.
    input_shape
        One sample's shape, without the batch dimension.
    dtype
        The input's dtype: ``torch.long`` for token ids.
    batch_size
        The batch the shapes are reported for.
    model_cfg
        The model's config (a dict or a dataclass), read to name the field that
        disagrees with the input when the forward pass fails.

    Returns
    -------
    ModelSummary
        Output shape, parameter counts and a row per layer; print it for a table.

    Raises
    ------
    ShapeMismatchError
        The model cannot take inputs of that shape; the message names the config
        field that disagrees (``in_features``, ``in_channels``...).

    Examples
    --------
    >>> from pbgml.nn import LeNet, summary
    >>> summary(LeNet(), (3, 32, 32)).num_parameters
    62006
    >>> print(summary(LeNet(), (3, 32, 32)))
    LeNet: input (1, 3, 32, 32) -> output (1, 10)
    Layer         Type       Output shape     Params
    ------------  ---------  ---------------  ------
    features.0    Conv2d     (1, 6, 28, 28)      456
    features.1    ReLU       (1, 6, 28, 28)        0
    features.2    MaxPool2d  (1, 6, 14, 14)        0
    features.3    Conv2d     (1, 16, 10, 10)   2,416
    features.4    ReLU       (1, 16, 10, 10)       0
    features.5    MaxPool2d  (1, 16, 5, 5)         0
    flatten       Flatten    (1, 400)              0
    classifier.0  Linear     (1, 120)         48,120
    classifier.1  ReLU       (1, 120)              0
    classifier.2  Linear     (1, 84)          10,164
    classifier.3  ReLU       (1, 84)               0
    classifier.4  Linear     (1, 10)             850
    ------------  ---------  ---------------  ------
    Total params: 62,006 (trainable: 62,006), 242.2 KiB

    A registered name works too:

    >>> summary("lenet", (3, 32, 32)).num_parameters
    62006
    """
    shape = check_shape(input_shape, key="input_shape")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        from pbgml.nn._errors import InvalidArgumentError

        raise InvalidArgumentError(f"batch_size={batch_size!r} is invalid; expected an int >= 1.")
    module, built_from = build_on_meta(model)
    config = model_cfg if model_cfg is not None else built_from
    seen: dict[str, tuple[int, ...] | None] = {}

    def record(name: str, sub: nn.Module, output: Any) -> None:
        if name not in seen:
            seen[name] = first_shape(output)

    output = forward_or_explain(
        module,
        shape,
        config,
        dtype=dtype,
        batch_size=batch_size,
        model_key="model",
        data_key="the input",
        hook=record,
    )
    rows = []
    for name, sub in module.named_modules():
        own = sum(p.numel() for p in sub.parameters(recurse=False))
        is_leaf = next(sub.children(), None) is None
        if (is_leaf and name) or own:
            row = LayerSummary(name or "(self)", type(sub).__name__, seen.get(name), own)
            rows.append(row)
    order = {name: i for i, name in enumerate(seen)}
    rows.sort(key=lambda r: order.get("" if r.name == "(self)" else r.name, len(order)))
    params = list(module.parameters())
    return ModelSummary(
        model=type(module).__name__,
        input_shape=(batch_size, *shape),
        output_shape=first_shape(output),
        num_parameters=sum(p.numel() for p in params),
        num_trainable=sum(p.numel() for p in params if p.requires_grad),
        parameter_bytes=sum(p.numel() * p.element_size() for p in params),
        layers=tuple(rows),
    )
