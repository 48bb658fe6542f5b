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

from pbgml import registry
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
    MissingExtraError,
    _register_if_installed,
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
    "MissingExtraError",
    "PerClassAccuracy",
    "Precision",
    "Recall",
    "register_torchmetrics",
]

registry.metric.register(Accuracy, name="accuracy", aliases=["Accuracy"])
registry.metric.register(PerClassAccuracy, name="per_class_accuracy", aliases=["PerClassAccuracy"])
registry.metric.register(Precision, name="precision", aliases=["Precision"])
registry.metric.register(Recall, name="recall", aliases=["Recall"])
registry.metric.register(F1Score, name="f1_score", aliases=["F1Score", "f1"])
registry.metric.register(ConfusionMatrix, name="confusion_matrix", aliases=["ConfusionMatrix"])
registry.metric.register(MeanSquaredError, name="mse", aliases=["MeanSquaredError"])
registry.metric.register(MeanAbsoluteError, name="mae", aliases=["MeanAbsoluteError"])

_register_if_installed(registry.metric)
