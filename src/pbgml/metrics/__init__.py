"""Metrics computed in torch, on the device, and summed across ranks in distributed runs.

Plain PyTorch, no Hydra. Every metric is a :class:`Metric`: ``update(preds, target)``
per batch, ``compute()`` at the end, ``reset()`` before the next epoch, and
``sync()`` to add up the states of all processes under DDP. They are registered
in :data:`pbgml.registry.metric` (``accuracy``, ``per_class_accuracy``,
``precision``, ``recall``, ``f1_score``, ``confusion_matrix``, ``mse``, ``mae``),
and so are torchmetrics' metrics (``torchmetrics_accuracy``, ...) when torchmetrics
is installed.

Examples
--------
>>> import torch
>>> from pbgml import registry
>>> metric = registry.metric.build("accuracy")
>>> metric.update(torch.tensor([[0.9, 0.1], [0.2, 0.8]]), torch.tensor([0, 0]))
>>> metric.compute()
tensor(0.5000)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pbgml._errors import (
    MissingExtraError as MissingExtraError,  # re-exported: pbgml.MissingExtraError
)
from pbgml.metrics._base import Metric, MetricError
from pbgml.metrics._classification import (
    AVERAGES,
    Accuracy,
    ConfusionMatrix,
    F1Score,
    PerClassAccuracy,
    Precision,
    Recall,
)
from pbgml.metrics._regression import MeanAbsoluteError, MeanSquaredError
from pbgml.metrics._torchmetrics import (
    TORCHMETRICS_CLASSES,
    register_torchmetrics,
)

__all__ = [
    "AVERAGES",
    "TORCHMETRICS_CLASSES",
    "Accuracy",
    "ConfusionMatrix",
    "F1Score",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "Metric",
    "MetricError",
    "PerClassAccuracy",
    "Precision",
    "Recall",
    "register_torchmetrics",
]

if TYPE_CHECKING:
    from pbgml._registry import Registry


def _load(reg: Registry[Any]) -> None:
    """Loader of the ``metric`` group: pbgml's metrics."""
    reg.register(Accuracy, name="accuracy", aliases=["Accuracy"])
    reg.register(PerClassAccuracy, name="per_class_accuracy", aliases=["PerClassAccuracy"])
    reg.register(Precision, name="precision", aliases=["Precision"])
    reg.register(Recall, name="recall", aliases=["Recall"])
    reg.register(F1Score, name="f1_score", aliases=["F1Score", "f1"])
    reg.register(ConfusionMatrix, name="confusion_matrix", aliases=["ConfusionMatrix"])
    reg.register(MeanSquaredError, name="mse", aliases=["MeanSquaredError"])
    reg.register(MeanAbsoluteError, name="mae", aliases=["MeanAbsoluteError"])
