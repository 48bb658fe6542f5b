"""Typed configs for pbgml.train: tasks, callbacks and loggers."""

from __future__ import annotations

from dataclasses import dataclass, field

from pbgml.configs._core import CallbackConf, LoggerConf, TaskConf

__all__ = [
    "CSVLoggerConf",
    "ClassificationTaskConf",
    "EarlyStoppingConf",
    "LearningRateMonitorConf",
    "MLflowLoggerConf",
    "ModelCheckpointConf",
    "ModelSummaryConf",
    "ParamHistogramsConf",
    "ProgressBarConf",
    "RegressionTaskConf",
    "TensorBoardLoggerConf",
]


# -- tasks -------------------------------------------------------------------------


@dataclass(kw_only=True)
class ClassificationTaskConf(TaskConf):
    """:class:`pbgml.train.ClassificationTask`: cross-entropy style training of any module.

    ``class_names`` name the classes in per-class metrics (default: the data's).

    Examples
    --------
    >>> from pbgml.configs import ClassificationTaskConf
    >>> ClassificationTaskConf()._target_
    'pbgml.train.ClassificationTask'
    """

    _target_: str = field(default="pbgml.train.ClassificationTask", init=False, repr=False)
    class_names: list[str] | None = None


@dataclass(kw_only=True)
class RegressionTaskConf(TaskConf):
    """:class:`pbgml.train.RegressionTask`: regression (the MSE metric by default).

    Examples
    --------
    >>> from pbgml.configs import RegressionTaskConf
    >>> RegressionTaskConf()._target_
    'pbgml.train.RegressionTask'
    """

    _target_: str = field(default="pbgml.train.RegressionTask", init=False, repr=False)
    class_names: list[str] | None = None


# -- callbacks ---------------------------------------------------------------------


@dataclass(kw_only=True)
class ModelCheckpointConf(CallbackConf):
    """:class:`pbgml.train.ModelCheckpoint`: atomic checkpoints, top-k on a metric, ``last.ckpt``.

    The course's setup: ``ModelCheckpointConf(monitor="val/acc", mode="max")``
    (top-1 plus last). ``filename`` is a template such as
    ``"epoch{epoch:03d}-{val/acc:.3f}"``.

    Examples
    --------
    >>> from pbgml.configs import ModelCheckpointConf
    >>> ModelCheckpointConf(monitor="val/acc", mode="max").save_last
    True
    """

    _target_: str = field(default="pbgml.train.ModelCheckpoint", init=False, repr=False)
    dirpath: str | None = None
    filename: str | None = None
    monitor: str | None = None
    mode: str = "min"
    save_top_k: int = 1
    save_last: bool = True
    every_n_train_steps: int | None = None
    every_n_epochs: int | None = 1


@dataclass(kw_only=True)
class EarlyStoppingConf(CallbackConf):
    """:class:`pbgml.train.EarlyStopping`: stop when a metric stops improving.

    Examples
    --------
    >>> from pbgml.configs import EarlyStoppingConf
    >>> EarlyStoppingConf(monitor="val/acc", mode="max", patience=5).patience
    5
    """

    _target_: str = field(default="pbgml.train.EarlyStopping", init=False, repr=False)
    monitor: str = "val/loss"
    patience: int = 3
    min_delta: float = 0.0
    mode: str = "min"
    check_finite: bool = True
    verbose: bool = False


@dataclass(kw_only=True)
class LearningRateMonitorConf(CallbackConf):
    """:class:`pbgml.train.LearningRateMonitor` (``lr_monitor``): log the learning rates.

    Examples
    --------
    >>> from pbgml.configs import LearningRateMonitorConf
    >>> LearningRateMonitorConf(logging_interval="step").logging_interval
    'step'
    """

    _target_: str = field(default="pbgml.train.LearningRateMonitor", init=False, repr=False)
    logging_interval: str = "epoch"
    log_momentum: bool = False


@dataclass(kw_only=True)
class ParamHistogramsConf(CallbackConf):
    """:class:`pbgml.train.ParamHistograms`: a histogram of every parameter at epoch end.

    Examples
    --------
    >>> from pbgml.configs import ParamHistogramsConf
    >>> ParamHistogramsConf().every_n_epochs
    1
    """

    _target_: str = field(default="pbgml.train.ParamHistograms", init=False, repr=False)
    every_n_epochs: int = 1


@dataclass(kw_only=True)
class ProgressBarConf(CallbackConf):
    """:class:`pbgml.train.ProgressBar`: tqdm with loss, it/s and ETA (quiet off a terminal).

    Examples
    --------
    >>> from pbgml.configs import ProgressBarConf
    >>> ProgressBarConf().refresh_rate
    1
    """

    _target_: str = field(default="pbgml.train.ProgressBar", init=False, repr=False)
    refresh_rate: int = 1
    leave: bool = False


@dataclass(kw_only=True)
class ModelSummaryConf(CallbackConf):
    """:class:`pbgml.train.ModelSummary`: layers and parameter counts at the start of fit.

    Examples
    --------
    >>> from pbgml.configs import ModelSummaryConf
    >>> ModelSummaryConf().max_depth
    1
    """

    _target_: str = field(default="pbgml.train.ModelSummary", init=False, repr=False)
    max_depth: int = 1


# -- loggers -----------------------------------------------------------------------


@dataclass(kw_only=True)
class CSVLoggerConf(LoggerConf):
    """:class:`pbgml.train.CSVLogger`: ``run_dir/logs/metrics.csv`` (always available).

    Examples
    --------
    >>> from pbgml.configs import CSVLoggerConf
    >>> CSVLoggerConf().name
    'metrics.csv'
    """

    _target_: str = field(default="pbgml.train.CSVLogger", init=False, repr=False)
    save_dir: str | None = None
    name: str = "metrics.csv"
    flush_every_n_steps: int = 100


@dataclass(kw_only=True)
class TensorBoardLoggerConf(LoggerConf):
    """:class:`pbgml.train.TensorBoardLogger`: ``run_dir/logs/tensorboard`` (extra ``tensorboard``).

    Examples
    --------
    >>> from pbgml.configs import TensorBoardLoggerConf
    >>> TensorBoardLoggerConf().save_dir is None
    True
    """

    _target_: str = field(default="pbgml.train.TensorBoardLogger", init=False, repr=False)
    save_dir: str | None = None


@dataclass(kw_only=True)
class MLflowLoggerConf(LoggerConf):
    """:class:`pbgml.train.MLflowLogger`: a local MLflow store under the run (extra ``mlflow``).

    Examples
    --------
    >>> from pbgml.configs import MLflowLoggerConf
    >>> MLflowLoggerConf().experiment_name
    'pbgml'
    """

    _target_: str = field(default="pbgml.train.MLflowLogger", init=False, repr=False)
    tracking_uri: str | None = None
    experiment_name: str = "pbgml"
    run_name: str | None = None
