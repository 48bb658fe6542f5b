"""Loaders of the ``task``, ``callback`` and ``logger`` groups (run on first use).

(Written by the lead as a placeholder while the train package lands; the train
package's author owns this file and may replace it.)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pbgml._registry import Registry

__all__ = ["load_callbacks", "load_loggers", "load_tasks"]


def _register(reg: Registry[Any], module: str, names: dict[str, str]) -> None:
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return
    for name, attr in names.items():
        cls = getattr(mod, attr, None)
        if cls is not None:
            reg.register(cls, name=name, aliases=[attr])


def load_tasks(reg: Registry[Any]) -> None:
    """Register ``classification`` and ``regression``."""
    _register(
        reg,
        "pbgml.train._task",
        {"classification": "ClassificationTask", "regression": "RegressionTask"},
    )


def load_callbacks(reg: Registry[Any]) -> None:
    """Register pbgml's callbacks."""
    _register(reg, "pbgml.train._checkpoint", {"model_checkpoint": "ModelCheckpoint"})
    _register(
        reg,
        "pbgml.train._callbacks",
        {
            "early_stopping": "EarlyStopping",
            "lr_monitor": "LearningRateMonitor",
            "param_histograms": "ParamHistograms",
            "progress_bar": "ProgressBar",
            "model_summary": "ModelSummary",
        },
    )


def load_loggers(reg: Registry[Any]) -> None:
    """Register pbgml's loggers."""
    _register(
        reg,
        "pbgml.train._loggers",
        {"csv": "CSVLogger", "tensorboard": "TensorBoardLogger", "mlflow": "MLflowLogger"},
    )
