"""The experiment: the whole tree that :func:`pbgml.run` builds and trains."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pbgml.configs._core import (
    AdamWConf,
    CrossEntropyLossConf,
    DataConf,
    LossConf,
    ModelConf,
    OptimizerConf,
    SchedulerConf,
    TaskConf,
    TrainerConf,
)
from pbgml.configs._train import (
    ClassificationTaskConf,
    CSVLoggerConf,
    ModelCheckpointConf,
    ModelSummaryConf,
    ProgressBarConf,
)

__all__ = ["ExperimentConf"]


if TYPE_CHECKING:  # mypy checks the group a value belongs to; OmegaConf sees Any
    _Model = ModelConf
    _Loss = LossConf
    _Optimizer = OptimizerConf
    _Scheduler = SchedulerConf
    _Data = DataConf
    _Task = TaskConf
else:
    _Model = _Loss = _Optimizer = _Scheduler = _Data = _Task = Any


def _default_task() -> Any:
    return ClassificationTaskConf()


def _default_callbacks() -> dict[str, Any]:
    return {
        "model_checkpoint": ModelCheckpointConf(),
        "progress_bar": ProgressBarConf(),
        "model_summary": ModelSummaryConf(),
    }


def _default_loggers() -> dict[str, Any]:
    return {"csv": CSVLoggerConf()}


@dataclass(kw_only=True)
class ExperimentConf:
    """One experiment: the whole tree that :func:`pbgml.run` builds and trains.

    ``model`` and ``data`` are required. The others default to a cross-entropy loss,
    AdamW, no scheduler, the task's own metrics (accuracy for classification), the
    classification task, the default trainer, the default callbacks (a checkpoint at
    every epoch's end plus ``last.ckpt``, a progress bar, a model summary) and the CSV
    logger; ``callbacks: {}`` (or ``null``) and ``logger: {}`` mean none. The group
    fields are typed by their base class for mypy (``optimizer=MSELossConf()`` is a
    type error), and ``Any`` for OmegaConf, so Hydra can swap one option for another.

    The run's own settings: ``seed`` (python, numpy, torch and every worker),
    ``name`` (the run's folder under ``trainer.default_root_dir``), ``resume`` (a run
    directory or a checkpoint to continue) and ``optimized_metric`` (what a sweep
    optimizes; defaults to the checkpoint's monitor, else ``val/loss``).

    Examples
    --------
    >>> from pbgml.configs import ExperimentConf, SGDConf, TrainerConf
    >>> from pbgml.configs import DataConf, ModelConf
    >>> cfg = ExperimentConf(
    ...     model=ModelConf(), data=DataConf(), optimizer=SGDConf(lr=0.01), trainer=TrainerConf()
    ... )
    >>> cfg.optimizer.lr, cfg.loss._target_, cfg.scheduler
    (0.01, 'pbgml.losses.CrossEntropyLoss', None)
    >>> sorted(cfg.callbacks), sorted(cfg.logger), cfg.task._target_
    (['model_checkpoint', 'model_summary', 'progress_bar'], ['csv'], 'pbgml.train.ClassificationTask')
    """

    model: _Model
    loss: _Loss = field(default_factory=CrossEntropyLossConf)
    optimizer: _Optimizer = field(default_factory=AdamWConf)
    scheduler: _Scheduler | None = None
    metrics: dict[str, Any] | None = None
    data: _Data
    task: _Task = field(default_factory=_default_task)
    trainer: TrainerConf = field(default_factory=TrainerConf)
    callbacks: dict[str, Any] | None = field(default_factory=_default_callbacks)
    logger: dict[str, Any] | None = field(default_factory=_default_loggers)
    seed: int | None = 42
    name: str = "run"
    resume: str | None = None
    optimized_metric: str | None = None
