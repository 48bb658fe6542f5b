"""pbgml.train: the training engine: tasks, the Trainer, callbacks, loggers, checkpoints.

Plain PyTorch components: nothing here imports Hydra, OmegaConf, hydra-zen or
pbgml's config layer. A :class:`Task` holds the step logic (or use
:class:`ClassificationTask` / :class:`RegressionTask` on any ``nn.Module``), the
:class:`Trainer` runs it, and everything optional hangs off :class:`Callback`\\ s and
:class:`Logger`\\ s. Checkpoints are written atomically, load with
``torch.load(weights_only=True)`` and resume at the exact batch.

Examples
--------
>>> import functools, torch
>>> from pbgml.data import DataModule, SyntheticClassification
>>> from pbgml.train import ClassificationTask, Trainer
>>> data = DataModule(SyntheticClassification(64, 4, 2), val_split=16, batch_size=16)
>>> task = ClassificationTask(torch.nn.Linear(4, 2), optimizer=functools.partial(torch.optim.SGD, lr=0.1))
>>> Trainer(max_epochs=1, callbacks=[], logger=False).fit(task, data)
"""

from __future__ import annotations

from pbgml.train._base import Callback, Logger
from pbgml.train._callbacks import (
    EarlyStopping,
    LearningRateMonitor,
    ModelSummary,
    ParamHistograms,
    ProgressBar,
)
from pbgml.train._checkpoint import (
    CHECKPOINT_KEYS,
    SAFE_GLOBALS,
    ModelCheckpoint,
    load_checkpoint,
    save_checkpoint,
    weights_are_finite,
)
from pbgml.train._errors import Interrupted, NonFiniteLossError, TrainerError
from pbgml.train._loggers import CSVLogger, MLflowLogger, TensorBoardLogger
from pbgml.train._seed import seed_everything
from pbgml.train._task import (
    ClassificationTask,
    RegressionTask,
    Task,
    build_optimizer,
    build_scheduler,
)
from pbgml.train._trainer import PRECISIONS, Trainer

__all__ = [
    "CHECKPOINT_KEYS",
    "PRECISIONS",
    "SAFE_GLOBALS",
    "CSVLogger",
    "Callback",
    "ClassificationTask",
    "EarlyStopping",
    "Interrupted",
    "LearningRateMonitor",
    "Logger",
    "MLflowLogger",
    "ModelCheckpoint",
    "ModelSummary",
    "NonFiniteLossError",
    "ParamHistograms",
    "ProgressBar",
    "RegressionTask",
    "TensorBoardLogger",
    "Task",
    "Trainer",
    "TrainerError",
    "build_optimizer",
    "build_scheduler",
    "load_checkpoint",
    "save_checkpoint",
    "seed_everything",
    "weights_are_finite",
]
