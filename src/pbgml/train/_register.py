"""Loaders that register the train components in registries (nothing happens on import).

The registry calls them lazily: ``load_tasks(registry.task)``,
``load_callbacks(registry.callback)``, ``load_loggers(registry.logger)``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CALLBACK_NAMES",
    "TRAINER_NAMES",
    "LOGGER_NAMES",
    "TASK_NAMES",
    "load_callbacks",
    "load_loggers",
    "load_tasks",
    "load_trainers",
]

#: Registered name -> class name, per group.
TASK_NAMES = {"classification": "ClassificationTask", "regression": "RegressionTask"}
CALLBACK_NAMES = {
    "model_checkpoint": "ModelCheckpoint",
    "early_stopping": "EarlyStopping",
    "lr_monitor": "LearningRateMonitor",
    "param_histograms": "ParamHistograms",
    "progress_bar": "ProgressBar",
    "model_summary": "ModelSummary",
}
LOGGER_NAMES = {"csv": "CSVLogger", "tensorboard": "TensorBoardLogger", "mlflow": "MLflowLogger"}
TRAINER_NAMES = {"default": "Trainer"}


def _register(reg: Any, names: dict[str, str], modules: list[Any]) -> None:
    for name, cls_name in names.items():
        cls = next(getattr(m, cls_name) for m in modules if hasattr(m, cls_name))
        reg.register(cls, name=name, aliases=[cls.__name__])


def load_tasks(reg: Any) -> None:
    """Register ``classification`` and ``regression`` (aliases: the class names).

    Examples
    --------
    >>> from pbgml import Registry
    >>> from pbgml.train._register import load_tasks
    >>> reg = Registry("task")
    >>> load_tasks(reg)
    >>> reg.get("classification").__name__
    'ClassificationTask'
    """
    from pbgml.train import _task

    _register(reg, TASK_NAMES, [_task])


def load_callbacks(reg: Any) -> None:
    """Register the callbacks: ``model_checkpoint``, ``early_stopping``, ``lr_monitor``, ...

    ``model_checkpoint`` comes from :mod:`pbgml.train._checkpoint`, the others from
    :mod:`pbgml.train._callbacks`.

    Examples
    --------
    >>> from pbgml import Registry
    >>> from pbgml.train._register import load_callbacks
    >>> reg = Registry("callback")
    >>> load_callbacks(reg)
    >>> reg.get("early_stopping").__name__, reg.get("ModelCheckpoint").__name__
    ('EarlyStopping', 'ModelCheckpoint')
    """
    from pbgml.train import _callbacks, _checkpoint

    _register(reg, CALLBACK_NAMES, [_checkpoint, _callbacks])


def load_loggers(reg: Any) -> None:
    """Register the loggers ``csv``, ``tensorboard`` and ``mlflow``.

    Their own dependencies (tensorboard, mlflow) are imported only when a logger is used.

    Examples
    --------
    >>> from pbgml import Registry
    >>> from pbgml.train._register import load_loggers
    >>> reg = Registry("logger")
    >>> load_loggers(reg)
    >>> sorted(reg.names())
    ['csv', 'mlflow', 'tensorboard']
    """
    from pbgml.train import _loggers

    _register(reg, LOGGER_NAMES, [_loggers])


def load_trainers(reg: Any) -> None:
    """Register the :class:`~pbgml.train.Trainer` as ``default`` (alias ``Trainer``).

    Examples
    --------
    >>> from pbgml import Registry
    >>> from pbgml.train._register import load_trainers
    >>> reg = Registry("trainer")
    >>> load_trainers(reg)
    >>> reg.get("default").__name__
    'Trainer'
    """
    from pbgml.train import _trainer

    _register(reg, TRAINER_NAMES, [_trainer])
