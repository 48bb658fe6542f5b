"""Losses: torch's weighted losses that read weights from YAML, focal loss, weighted sums.

Plain PyTorch, no Hydra. Every ``torch.nn`` loss is in :data:`pbgml.registry.loss`;
the short names ``cross_entropy``, ``nll`` and ``bce_with_logits`` are this module's
subclasses, whose ``weight`` / ``pos_weight`` may be a list of floats (what a YAML
file holds) as well as a tensor (torch's own classes stay registered under their
class names, ``CrossEntropyLoss``...). It adds ``focal`` and ``weighted_sum``.

Examples
--------
>>> import torch
>>> from pbgml import registry
>>> loss = registry.loss.build("cross_entropy", weight=[1.0, 3.0])
>>> loss.weight
tensor([1., 3.])
>>> registry.loss.get("focal").__name__
'FocalLoss'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor, nn

from pbgml._errors import PbgmlError, did_you_mean

if TYPE_CHECKING:
    from pbgml._registry import Registry

__all__ = [
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "FocalLoss",
    "LossConfigError",
    "NLLLoss",
    "WeightedSumLoss",
]

_REDUCTIONS = ("none", "mean", "sum")

WeightLike = Tensor | Sequence[float] | None


class LossConfigError(PbgmlError, ValueError):
    """A loss was given a bad argument; the message names the argument and the value.

    Examples
    --------
    >>> from pbgml.losses import FocalLoss, LossConfigError
    >>> try:
    ...     FocalLoss(reduction="avg")
    ... except LossConfigError as err:
    ...     print(err)
    FocalLoss: reduction='avg' is not one of 'none', 'mean', 'sum'.
    """


def _tensor(owner: str, name: str, value: WeightLike) -> Tensor | None:
    """A weight given as a tensor, a list of numbers (YAML) or ``None``, as a float tensor."""
    if value is None or isinstance(value, Tensor):
        return value
    if isinstance(value, str | Mapping) or not isinstance(value, Iterable):
        raise LossConfigError(
            f"{owner}: {name} must be a list of numbers or a tensor, got {value!r}."
        )
    try:
        items = [float(v) for v in value]
    except (TypeError, ValueError):
        raise LossConfigError(
            f"{owner}: {name} must be a list of numbers or a tensor, got {value!r}."
        ) from None
    return torch.tensor(items, dtype=torch.get_default_dtype())


def _reduction(owner: str, reduction: str) -> str:
    if reduction not in _REDUCTIONS:
        choices = ", ".join(repr(r) for r in _REDUCTIONS)
        raise LossConfigError(
            f"{owner}: reduction={reduction!r} is not one of {choices}."
            + did_you_mean(str(reduction), _REDUCTIONS)
        )
    return reduction


def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)


def _label_smoothing(value: float) -> float:
    if not _is_number(value) or not 0.0 <= value <= 1.0:
        raise LossConfigError(
            f"CrossEntropyLoss: label_smoothing must be a number in [0, 1], got {value!r}."
        )
    return float(value)


def _ignore_index(owner: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise LossConfigError(
            f"{owner}: ignore_index must be an integer (a target value to skip, "
            f"-100 by default), got {value!r}."
        )
    return value


def _reduce(values: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values


class CrossEntropyLoss(nn.CrossEntropyLoss):
    """:class:`torch.nn.CrossEntropyLoss` whose class ``weight`` may be a list of floats.

    Registered as the loss ``cross_entropy`` in place of torch's, so
    ``loss.weight: [1.0, 2.0]`` works from YAML. The weight is a buffer: it moves
    with ``.to(device)``.

    Parameters
    ----------
    weight
        A weight per class, as a list of floats or a tensor, or ``None``.
    ignore_index
        A target value that is ignored.
    reduction
        ``"mean"``, ``"sum"`` or ``"none"``.
    label_smoothing
        The amount of smoothing in ``[0, 1]``; checked when the loss is made.

    Examples
    --------
    >>> import torch
    >>> from pbgml.losses import CrossEntropyLoss
    >>> loss = CrossEntropyLoss(weight=[1.0, 1.0, 2.0], label_smoothing=0.1)
    >>> loss.weight, loss.label_smoothing
    (tensor([1., 1., 2.]), 0.1)
    >>> round(loss(torch.zeros(4, 3), torch.tensor([0, 1, 2, 2])).item(), 4)
    1.0864
    """

    def __init__(
        self,
        weight: WeightLike = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(
            weight=_tensor("CrossEntropyLoss", "weight", weight),
            ignore_index=_ignore_index("CrossEntropyLoss", ignore_index),
            reduction=_reduction("CrossEntropyLoss", reduction),
            label_smoothing=_label_smoothing(label_smoothing),
        )


class NLLLoss(nn.NLLLoss):
    """:class:`torch.nn.NLLLoss` whose class ``weight`` may be a list of floats.

    Registered as the loss ``nll`` in place of torch's.

    Parameters
    ----------
    weight
        A weight per class, as a list of floats or a tensor, or ``None``.
    ignore_index
        A target value that is ignored.
    reduction
        ``"mean"``, ``"sum"`` or ``"none"``.

    Examples
    --------
    >>> import torch
    >>> from pbgml.losses import NLLLoss
    >>> log_probs = torch.log_softmax(torch.zeros(2, 2), dim=1)
    >>> NLLLoss(weight=[1.0, 0.0])(log_probs, torch.tensor([0, 1])).item()  # doctest: +ELLIPSIS
    0.6931...
    """

    def __init__(
        self, weight: WeightLike = None, ignore_index: int = -100, reduction: str = "mean"
    ) -> None:
        super().__init__(
            weight=_tensor("NLLLoss", "weight", weight),
            ignore_index=ignore_index,
            reduction=_reduction("NLLLoss", reduction),
        )


class BCEWithLogitsLoss(nn.BCEWithLogitsLoss):
    """:class:`torch.nn.BCEWithLogitsLoss` whose ``weight`` and ``pos_weight`` may be lists.

    Registered as the loss ``bce_with_logits`` in place of torch's.
    ``pos_weight: [3.0]`` weighs the positives of a rare class three times.

    Parameters
    ----------
    weight
        A rescaling weight broadcast over the batch (per class for multi-label).
    reduction
        ``"mean"``, ``"sum"`` or ``"none"``.
    pos_weight
        A weight of the positive examples, per class.

    Examples
    --------
    >>> import torch
    >>> from pbgml.losses import BCEWithLogitsLoss
    >>> loss = BCEWithLogitsLoss(pos_weight=[3.0])
    >>> loss(torch.zeros(2, 1), torch.tensor([[1.0], [0.0]])).item()  # doctest: +ELLIPSIS
    1.3862...
    """

    def __init__(
        self,
        weight: WeightLike = None,
        reduction: str = "mean",
        pos_weight: WeightLike = None,
    ) -> None:
        super().__init__(
            weight=_tensor("BCEWithLogitsLoss", "weight", weight),
            reduction=_reduction("BCEWithLogitsLoss", reduction),
            pos_weight=_tensor("BCEWithLogitsLoss", "pos_weight", pos_weight),
        )


class FocalLoss(nn.Module):
    """Focal loss for multi-class logits, which down-weights the easy examples.

    ``loss = -alpha[y] * (1 - p_y) ** gamma * log(p_y)`` for each example, where
    ``p_y`` is the softmax probability of the true class (Lin et al., 2017). With
    ``gamma=0`` and no ``alpha`` it is the cross-entropy.

    ``1 - p_y`` is computed as ``-expm1(log p_y)`` and kept above the smallest
    positive float, so the gradient stays finite for any ``gamma >= 0`` even when
    an example is classified with certainty (``(1 - p) ** 0.5`` has an infinite
    slope at ``p = 1``).

    Parameters
    ----------
    gamma
        The focusing parameter (>= 0); larger values down-weight easy examples more.
    alpha
        A weight for every class (a number) or one per class (a list of ``C``
        numbers, checked against the logits' classes at the first call), or ``None``.
    reduction
        ``"mean"`` (over the examples not ignored), ``"sum"`` or ``"none"`` (0 for
        the ignored examples).
    ignore_index
        A target value that is ignored, as in :class:`torch.nn.CrossEntropyLoss`
        (``-100``, the padding of segmentation masks and token sequences).

    Examples
    --------
    >>> import torch
    >>> from pbgml.losses import FocalLoss
    >>> logits, target = torch.tensor([[2.0, 0.0], [0.0, 2.0]]), torch.tensor([0, 0])
    >>> FocalLoss(gamma=0.0)(logits, target).item() == torch.nn.functional.cross_entropy(
    ...     logits, target
    ... ).item()
    True
    >>> round(FocalLoss(gamma=2.0)(logits, target).item(), 4)
    0.8259
    >>> FocalLoss(reduction="none")(logits, torch.tensor([0, -100]))[1].item()
    0.0
    """

    def __init__(
        self,
        gamma: float = 2.0,
        alpha: float | list[float] | None = None,
        reduction: str = "mean",
        ignore_index: int = -100,
    ) -> None:
        super().__init__()
        if not _is_number(gamma) or gamma < 0:
            raise LossConfigError(f"FocalLoss: gamma must be a number >= 0, got {gamma!r}.")
        self.gamma = float(gamma)
        self.reduction = _reduction("FocalLoss", reduction)
        self.ignore_index = _ignore_index("FocalLoss", ignore_index)
        alpha_tensor: Tensor | None
        if isinstance(alpha, bool):
            raise LossConfigError(f"FocalLoss: alpha must be a number or a list, got {alpha!r}.")
        if isinstance(alpha, int | float):
            alpha_tensor = torch.tensor(float(alpha))
        else:
            alpha_tensor = _tensor("FocalLoss", "alpha", alpha)
        if alpha_tensor is not None and alpha_tensor.ndim > 1:
            raise LossConfigError(
                f"FocalLoss: alpha must be a number or a list of one weight per class, "
                f"got a tensor of shape {tuple(alpha_tensor.shape)}."
            )
        self.register_buffer("alpha", alpha_tensor)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """Return the focal loss of ``logits`` ``(N, C, ...)`` for class indices ``target``.

        Examples
        --------
        >>> import torch
        >>> from pbgml.losses import FocalLoss
        >>> FocalLoss(reduction="none")(torch.zeros(3, 2), torch.tensor([0, 1, 1])).shape
        torch.Size([3])
        """
        if logits.ndim < 2 or logits.shape[:1] + logits.shape[2:] != target.shape:
            raise LossConfigError(
                f"FocalLoss: logits of shape {tuple(logits.shape)} do not fit target of shape "
                f"{tuple(target.shape)}; expected logits (N, C, ...) and target (N, ...)."
            )
        num_classes = logits.shape[1]
        alpha = self._buffers["alpha"]
        if alpha is not None and alpha.ndim == 1 and alpha.numel() != num_classes:
            raise LossConfigError(
                f"FocalLoss: alpha has {alpha.numel()} weights but the logits have "
                f"C={num_classes} classes; give one weight per class or a single number."
            )
        valid = target != self.ignore_index
        index = torch.where(valid, target, torch.zeros_like(target))
        log_pt = F.log_softmax(logits, dim=1).gather(1, index.unsqueeze(1)).squeeze(1)
        tiny = torch.finfo(log_pt.dtype).tiny
        # 1 - p_t, accurate near p_t = 1 and clamped: d/dx x**gamma is infinite at 0 for gamma < 1
        focus = (-torch.expm1(log_pt)).clamp_min(tiny) ** self.gamma
        loss = -focus * log_pt
        if alpha is not None:
            loss = loss * (alpha[index] if alpha.ndim else alpha)
        loss = torch.where(valid, loss, torch.zeros_like(loss))
        if self.reduction == "mean":
            return loss.sum() / valid.sum()
        return _reduce(loss, self.reduction)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, reduction={self.reduction!r}"


class WeightedSumLoss(nn.Module):
    """A weighted sum of several losses, each called with the same arguments.

    The total is what training minimizes; the weighted parts of the last call are
    kept in ``last_parts`` (detached) so they can be logged.

    Parameters
    ----------
    losses
        The losses by name.
    weights
        A weight per name (default 1.0 for the names it leaves out).

    Examples
    --------
    >>> import torch
    >>> from pbgml.losses import FocalLoss, WeightedSumLoss
    >>> loss = WeightedSumLoss(
    ...     {"ce": torch.nn.CrossEntropyLoss(), "focal": FocalLoss()}, weights={"focal": 0.5}
    ... )
    >>> total = loss(torch.zeros(2, 2), torch.tensor([0, 1]))
    >>> sorted(loss.last_parts), round(total.item(), 4)
    (['ce', 'focal'], 0.7798)
    """

    def __init__(
        self, losses: Mapping[str, nn.Module], weights: Mapping[str, float] | None = None
    ) -> None:
        super().__init__()
        if not isinstance(losses, Mapping) or not losses:
            raise LossConfigError(
                f"WeightedSumLoss: losses must be a non-empty mapping of name to loss, "
                f"got {losses!r}."
            )
        for name, loss in losses.items():
            if not isinstance(loss, nn.Module):
                raise LossConfigError(
                    f"WeightedSumLoss: losses[{name!r}] must be a torch.nn.Module, got {loss!r}."
                )
        self.losses = nn.ModuleDict({str(k): v for k, v in losses.items()})
        given = dict(weights or {})
        for name, weight in given.items():
            if name not in self.losses:
                raise LossConfigError(
                    f"WeightedSumLoss: weights[{name!r}] names no loss "
                    f"(losses: {', '.join(repr(k) for k in self.losses)})."
                    + did_you_mean(str(name), list(self.losses))
                )
            if isinstance(weight, bool) or not isinstance(weight, int | float):
                raise LossConfigError(
                    f"WeightedSumLoss: weights[{name!r}] must be a number, got {weight!r}."
                )
        self.weights: dict[str, float] = {k: float(given.get(k, 1.0)) for k in self.losses}
        self.last_parts: dict[str, Tensor] = {}

    def forward(self, *args: Any, **kwargs: Any) -> Tensor:
        """Return the weighted sum of the losses, each called as ``loss(*args, **kwargs)``.

        Examples
        --------
        >>> import torch
        >>> from pbgml.losses import WeightedSumLoss
        >>> loss = WeightedSumLoss({"l1": torch.nn.L1Loss(), "mse": torch.nn.MSELoss()})
        >>> loss(torch.zeros(2), torch.full((2,), 2.0)).item()
        6.0
        """
        parts = {
            name: self.weights[name] * loss(*args, **kwargs) for name, loss in self.losses.items()
        }
        self.last_parts = {name: part.detach() for name, part in parts.items()}
        first, *rest = parts.values()
        total: Tensor = first
        for part in rest:
            total = total + part
        return total

    def extra_repr(self) -> str:
        return f"weights={self.weights}"


def _load(reg: Registry[Any]) -> None:
    """Loader of the ``loss`` group: pbgml's losses (run before torch's catalogue, so the
    short names ``cross_entropy``, ``nll`` and ``bce_with_logits`` are pbgml's classes;
    torch's stay registered under their class names, ``CrossEntropyLoss``...)."""
    reg.register(CrossEntropyLoss, name="cross_entropy")
    reg.register(NLLLoss, name="nll")
    reg.register(BCEWithLogitsLoss, name="bce_with_logits")
    reg.register(FocalLoss, name="focal", aliases=["FocalLoss"])
    reg.register(WeightedSumLoss, name="weighted_sum", aliases=["WeightedSumLoss"])
