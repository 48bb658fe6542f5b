"""Regression metrics: mean squared and mean absolute error."""

from __future__ import annotations

import torch
from torch import Tensor

from pbgml.metrics._base import Metric, MetricError

__all__ = ["MeanAbsoluteError", "MeanSquaredError"]


def _pair(name: str, preds: Tensor, target: Tensor, device: torch.device) -> tuple[Tensor, Tensor]:
    """Check that preds fit target (a trailing output dimension of 1 is dropped)."""
    preds, target = preds.detach().to(device), target.detach().to(device)
    if preds.shape != target.shape and preds.ndim == target.ndim + 1 and preds.shape[-1] == 1:
        preds = preds.squeeze(-1)
    if preds.shape != target.shape:
        raise MetricError(
            f"{name}: preds of shape {tuple(preds.shape)} do not match target of shape "
            f"{tuple(target.shape)}; they must have the same shape."
        )
    return preds.to(torch.get_default_dtype()), target.to(torch.get_default_dtype())


class _MeanError(Metric):
    """The mean of an elementwise error over every element seen."""

    total: Tensor
    count: Tensor

    def __init__(self) -> None:
        super().__init__()
        self.add_state("total", torch.zeros(()))
        self.add_state("count", torch.zeros((), dtype=torch.long))

    def _errors(self, diff: Tensor) -> Tensor:
        raise NotImplementedError

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Add a batch's errors to the sum."""
        self._check_not_synced("update()")
        preds, target = _pair(type(self).__name__, preds, target, self.total.device)
        self.total += self._errors(preds - target).sum()
        self.count += target.numel()

    def compute(self) -> Tensor:
        """Return the mean error (``nan`` before any update)."""
        return self.total / self.count


class MeanSquaredError(_MeanError):
    """The mean of ``(preds - target) ** 2`` over every element seen.

    ``preds`` and ``target`` have the same shape; a model's ``(N, 1)`` output
    against an ``(N,)`` target is accepted too.

    Examples
    --------
    >>> import torch
    >>> from pbgml.metrics import MeanSquaredError
    >>> metric = MeanSquaredError()
    >>> metric.update(torch.tensor([[1.0], [2.0]]), torch.tensor([0.0, 0.0]))
    >>> metric.compute()
    tensor(2.5000)
    """

    def _errors(self, diff: Tensor) -> Tensor:
        return diff.square()


class MeanAbsoluteError(_MeanError):
    """The mean of ``|preds - target|`` over every element seen.

    Examples
    --------
    >>> import torch
    >>> from pbgml.metrics import MeanAbsoluteError
    >>> metric = MeanAbsoluteError()
    >>> metric.update(torch.tensor([1.0, -2.0]), torch.tensor([0.0, 0.0]))
    >>> metric.compute()
    tensor(1.5000)
    """

    def _errors(self, diff: Tensor) -> Tensor:
        return diff.abs()
