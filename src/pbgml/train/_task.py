"""Tasks: the step logic the trainer runs (:class:`Task`, classification, regression)."""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from pbgml.metrics import Accuracy, MeanSquaredError, Metric
from pbgml.optim import OptimizerFactory, ScheduledLR, SchedulerFactory
from pbgml.train._errors import TrainerError

if TYPE_CHECKING:
    from pbgml.train._logs import StageLog
    from pbgml.train._trainer import Trainer

__all__ = ["ClassificationTask", "RegressionTask", "Task", "build_optimizer", "build_scheduler"]

_NO_STEP = (
    "{cls}.training_step is not implemented: subclass Task and define "
    "training_step(batch, batch_idx) returning the loss (or a mapping with 'loss'), or use "
    "ClassificationTask / RegressionTask"
)
_NO_OPTIM = (
    "{cls}.configure_optimizers is not implemented: return an optimizer, or "
    "(optimizers, schedulers), or {{'optimizer': ..., 'lr_scheduler': ...}}"
)


def _input(batch: Any) -> Any:
    return batch[0] if isinstance(batch, tuple | list) else batch


class Task(nn.Module):
    """The step logic of a model: what a training, validation, test and predict step do.

    Subclass it and define :meth:`training_step` and :meth:`configure_optimizers`
    (and :meth:`validation_step`, :meth:`test_step` to evaluate); or use
    :class:`ClassificationTask` / :class:`RegressionTask`, which train any
    ``nn.Module`` without subclassing. Values given to :meth:`log` are named
    ``{stage}/{name}`` (``train/loss``, ``val/acc``). The loss a training step returns
    is always logged as ``train/loss`` (its last value every ``log_every_n_steps``
    steps, its batch-size weighted mean at the end of the epoch).

    Parameters
    ----------
    model
        The wrapped model (``self.model``); optional for subclasses that build their own.

    Examples
    --------
    >>> import torch
    >>> from pbgml.train import Task, Trainer
    >>> class Fit(Task):
    ...     def training_step(self, batch, batch_idx):
    ...         x, y = batch
    ...         return torch.nn.functional.mse_loss(self.model(x), y)
    ...     def configure_optimizers(self):
    ...         return torch.optim.SGD(self.parameters(), lr=0.1)
    >>> x = torch.randn(32, 3)
    >>> loader = torch.utils.data.DataLoader(
    ...     torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True)), batch_size=8
    ... )
    >>> trainer = Trainer(max_epochs=2, callbacks=[], logger=False)
    >>> trainer.fit(Fit(torch.nn.Linear(3, 1)), train_dataloaders=loader)
    >>> trainer.global_step, sorted(trainer.callback_metrics)
    (8, ['train/loss'])
    """

    model: nn.Module

    def __init__(self, model: nn.Module | None = None) -> None:
        super().__init__()
        if model is not None:
            self.model = model
        self._trainer: Trainer | None = None
        self._log_sink: StageLog | None = None
        self.class_names: list[str] | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickle and deep-copy without the trainer (and its loggers and loaders)."""
        state = dict(self.__dict__)
        state["_trainer"] = None
        state["_log_sink"] = None
        return state

    @property
    def trainer(self) -> Trainer:
        """The trainer running this task (set by ``fit``/``validate``/``test``/``predict``)."""
        if self._trainer is None:
            raise TrainerError(f"{type(self).__name__} is not attached to a Trainer", param="task")
        return self._trainer

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Call the wrapped model."""
        return self.model(*args, **kwargs)

    # -- steps -----------------------------------------------------------------------
    def training_step(self, batch: Any, batch_idx: int) -> Tensor | Mapping[str, Tensor]:
        """Return the loss of a batch (or a mapping with ``"loss"``)."""
        raise NotImplementedError(_NO_STEP.format(cls=type(self).__name__))

    def validation_step(self, batch: Any, batch_idx: int) -> Any:
        """Evaluate a validation batch, logging with :meth:`log` (not defined: no validation)."""

    def test_step(self, batch: Any, batch_idx: int) -> Any:
        """Evaluate a test batch, logging with :meth:`log` (not defined: no test loop)."""

    def predict_step(self, batch: Any, batch_idx: int) -> Any:
        """Return the model's output for a batch (its first element, for a tuple)."""
        return self(_input(batch))

    def configure_optimizers(self) -> Any:
        """Return an optimizer, ``(optimizers, schedulers)`` or a Lightning-style dict.

        A scheduler is a :class:`pbgml.optim.ScheduledLR` (interval, frequency and
        monitor), a plain torch scheduler (stepped every epoch) or a dict
        ``{"scheduler": s, "interval": "step", "frequency": 1, "monitor": "val/loss"}``.
        """
        raise NotImplementedError(_NO_OPTIM.format(cls=type(self).__name__))

    # -- logging -----------------------------------------------------------------------
    def log(
        self,
        name: str,
        value: Tensor | float | Metric,
        *,
        on_step: bool | None = None,
        on_epoch: bool | None = None,
        prog_bar: bool = False,
        batch_size: int | None = None,
    ) -> None:
        """Log a value as ``{stage}/{name}``.

        Parameters
        ----------
        name
            The name within the stage: ``"loss"`` becomes ``"val/loss"`` in validation.
        value
            A scalar tensor or number (averaged over the epoch weighted by the batch
            size), or a :class:`~pbgml.metrics.Metric` you update yourself (computed at
            the end of the epoch, then reset).
        on_step
            Also log the step's value every ``log_every_n_steps`` steps (default: in
            training only).
        on_epoch
            Log the epoch mean (default: yes).
        prog_bar
            Show it in the progress bar.
        batch_size
            The weight of this value in the epoch mean (default: the batch's size).
        """
        sink = self._log_sink
        if sink is not None:
            sink.log(
                name,
                value,
                on_step=on_step,
                on_epoch=on_epoch,
                prog_bar=prog_bar,
                batch_size=batch_size,
            )

    def log_dict(self, values: Mapping[str, Tensor | float | Metric], **kwargs: Any) -> None:
        """:meth:`log` every item of a mapping."""
        for name, value in values.items():
            self.log(name, value, **kwargs)


def _takes_parameters(build: Callable[..., Any]) -> bool:
    func = build.func if isinstance(build, functools.partial) else build
    if isinstance(func, type) and issubclass(func, torch.optim.Optimizer):
        return True
    try:
        first = next(iter(inspect.signature(func).parameters.values()), None)
    except (TypeError, ValueError):
        return False
    return first is not None and first.name in ("params", "parameters")


def build_optimizer(optimizer: Any, model: nn.Module) -> torch.optim.Optimizer:
    """Build an optimizer for ``model`` from what a config or a user gives.

    ``optimizer`` is an :class:`~pbgml.optim.OptimizerFactory` (called with the
    model: parameter groups), an optimizer class or a ``functools.partial`` of one
    (called with ``model.parameters()``), another callable (called with the model,
    or with the parameters when its first argument is named ``params``), or an
    optimizer already built.

    Examples
    --------
    >>> import functools, torch
    >>> from pbgml.train import build_optimizer
    >>> model = torch.nn.Linear(2, 1)
    >>> type(build_optimizer(functools.partial(torch.optim.SGD, lr=0.1), model)).__name__
    'SGD'
    """
    if isinstance(optimizer, torch.optim.Optimizer):
        return optimizer
    if isinstance(optimizer, OptimizerFactory):
        return optimizer(model)
    if not callable(optimizer):
        raise TrainerError(
            f"optimizer={optimizer!r} must be an optimizer, an OptimizerFactory or a callable "
            "building one (functools.partial(torch.optim.SGD, lr=0.01))",
            param="optimizer",
        )
    built = optimizer(model.parameters() if _takes_parameters(optimizer) else model)
    if not isinstance(built, torch.optim.Optimizer):
        raise TrainerError(
            f"optimizer: {optimizer!r} returned {type(built).__name__}, not a torch optimizer",
            param="optimizer",
        )
    return built


def build_scheduler(
    scheduler: Any,
    optimizer: torch.optim.Optimizer,
    *,
    total_steps: int | None = None,
    total_epochs: int | None = None,
) -> ScheduledLR | None:
    """Build a scheduler for ``optimizer``: a :class:`~pbgml.optim.ScheduledLR` or ``None``.

    A :class:`~pbgml.optim.SchedulerFactory` is called with the optimizer and the
    run's length (it sizes schedulers whose length was left ``None``); a plain
    callable is called with the optimizer and stepped every epoch.

    Examples
    --------
    >>> import functools, torch
    >>> from pbgml.optim import SchedulerFactory
    >>> from pbgml.train import build_scheduler
    >>> opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=1.0)
    >>> cosine = SchedulerFactory(
    ...     functools.partial(torch.optim.lr_scheduler.CosineAnnealingLR, T_max=None),
    ...     interval="step",
    ... )
    >>> build_scheduler(cosine, opt, total_steps=40, total_epochs=4).scheduler.T_max
    40
    """
    if scheduler is None:
        return None
    if isinstance(scheduler, ScheduledLR):
        return scheduler
    if isinstance(scheduler, SchedulerFactory):
        return scheduler(optimizer, total_steps=total_steps, total_epochs=total_epochs)
    built = scheduler(optimizer)
    return built if isinstance(built, ScheduledLR) else ScheduledLR(built)


def _metrics(
    metrics: Mapping[str, Metric] | Iterable[Metric] | None, default: dict[str, Metric]
) -> dict[str, Metric]:
    if metrics is None:
        return default
    if isinstance(metrics, Metric):
        metrics = [metrics]
    if isinstance(metrics, Mapping):
        out = dict(metrics)
    else:
        out = {}
        for metric in metrics:
            name = type(metric).__name__.lower()
            out[name if name not in out else f"{name}_{len(out)}"] = metric
    for name, metric in out.items():
        if not isinstance(metric, Metric):
            raise TrainerError(
                f"metrics[{name!r}]={metric!r} must be a pbgml.metrics.Metric", param="metrics"
            )
        if "." in name or not name:
            raise TrainerError(
                f"metrics: name {name!r} must be non-empty without '.'", param="metrics"
            )
    return out


class _SupervisedTask(Task):
    """A model, a loss, an optimizer (and scheduler) factory and evaluation metrics."""

    _default_loss: Callable[[], nn.Module]
    _default_metrics: Callable[[], dict[str, Metric]]

    def __init__(
        self,
        model: nn.Module,
        loss: Callable[[Tensor, Tensor], Tensor] | None = None,
        optimizer: Any = None,
        scheduler: Any = None,
        metrics: Mapping[str, Metric] | Iterable[Metric] | None = None,
        *,
        class_names: Iterable[str] | None = None,
    ) -> None:
        super().__init__(model)
        self.loss = type(self)._default_loss() if loss is None else loss
        self.optimizer = (
            functools.partial(torch.optim.AdamW, lr=1e-3) if optimizer is None else optimizer
        )
        self.scheduler = scheduler
        chosen = _metrics(metrics, type(self)._default_metrics())
        self.val_metrics = nn.ModuleDict({k: copy.deepcopy(m) for k, m in chosen.items()})
        self.test_metrics = nn.ModuleDict({k: copy.deepcopy(m) for k, m in chosen.items()})
        self.class_names = None if class_names is None else list(class_names)

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        """The loss of ``model(x)`` against ``y``."""
        x, y = batch
        loss: Tensor = self.loss(self.model(x), y)
        return loss

    def _evaluate(self, batch: Any, metrics: nn.ModuleDict) -> None:
        x, y = batch
        out = self.model(x)
        self.log("loss", self.loss(out, y))
        for name, module in metrics.items():
            metric: Metric = module  # type: ignore[assignment]
            metric.update(out, y)
            self.log(name, metric)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """Log ``val/loss`` and every metric (``val/acc``...)."""
        self._evaluate(batch, self.val_metrics)

    def test_step(self, batch: Any, batch_idx: int) -> None:
        """Log ``test/loss`` and every metric (``test/acc``...)."""
        self._evaluate(batch, self.test_metrics)

    def configure_optimizers(self) -> Any:
        """The optimizer built for the model, and the scheduler sized for the run."""
        optimizer = build_optimizer(self.optimizer, self.model)
        if self.scheduler is None:
            return optimizer
        trainer = self._trainer
        scheduled = build_scheduler(
            self.scheduler,
            optimizer,
            total_steps=None if trainer is None else trainer.estimated_stepping_batches,
            total_epochs=None if trainer is None else trainer.estimated_epochs,
        )
        return {"optimizer": optimizer, "lr_scheduler": scheduled}


class ClassificationTask(_SupervisedTask):
    """Train a classifier: any ``nn.Module`` mapping inputs to class scores.

    Parameters
    ----------
    model
        The model; ``model(x)`` returns scores ``(N, C, ...)``.
    loss
        The loss of scores and targets (default :class:`torch.nn.CrossEntropyLoss`).
    optimizer
        What an optimizer config builds (:class:`pbgml.optim.OptimizerFactory`,
        called with the model), an optimizer class, a ``functools.partial`` of one,
        or a callable taking the model or its parameters (default AdamW, lr 1e-3).
    scheduler
        A :class:`pbgml.optim.SchedulerFactory` (called with the optimizer; a length
        left ``None`` is sized from the run), a callable of the optimizer, or ``None``.
    metrics
        Name -> :class:`~pbgml.metrics.Metric` (or a list), evaluated on the
        validation and test sets (default ``{"acc": Accuracy()}``: ``val/acc``,
        ``test/acc``). A metric with one value per class, such as
        ``{"acc_{class}": PerClassAccuracy(10)}``, logs one scalar per class:
        ``test/acc_cat``... (``{class}`` replaced by the class name; without it the
        name gets ``_<class>`` appended).
    class_names
        Names of the classes for per-class metrics (default: the DataModule's).

    Examples
    --------
    >>> import functools, torch
    >>> from pbgml.data import DataModule, SyntheticClassification
    >>> from pbgml.metrics import Accuracy, PerClassAccuracy
    >>> from pbgml.train import ClassificationTask, Trainer
    >>> _ = torch.manual_seed(0)
    >>> data = DataModule(SyntheticClassification(120, 4, 2), val_split=20, batch_size=16,
    ...                   test=SyntheticClassification(40, 4, 2))
    >>> task = ClassificationTask(
    ...     torch.nn.Linear(4, 2),
    ...     optimizer=functools.partial(torch.optim.SGD, lr=0.5),
    ...     metrics={"acc": Accuracy(), "acc_{class}": PerClassAccuracy(2)},
    ... )
    >>> trainer = Trainer(max_epochs=3, callbacks=[], logger=False)
    >>> trainer.fit(task, data)
    >>> sorted(trainer.test(task, data)[0])
    ['test/acc', 'test/acc_0', 'test/acc_1', 'test/loss']
    """

    _default_loss = nn.CrossEntropyLoss

    @staticmethod
    def _default_metrics() -> dict[str, Metric]:
        return {"acc": Accuracy()}

    def predict_step(self, batch: Any, batch_idx: int) -> Any:
        """The class scores of a batch."""
        return self.model(_input(batch))


class RegressionTask(_SupervisedTask):
    """Train a regressor: the same as :class:`ClassificationTask` with regression defaults.

    The loss defaults to :class:`torch.nn.MSELoss` and the metrics to
    ``{"mse": MeanSquaredError()}`` (``val/mse``, ``test/mse``).

    Examples
    --------
    >>> import functools, torch
    >>> from pbgml.data import DataModule, SyntheticRegression
    >>> from pbgml.train import RegressionTask, Trainer
    >>> data = DataModule(SyntheticRegression(64, 3), val_split=16, batch_size=16)
    >>> task = RegressionTask(torch.nn.Linear(3, 1), optimizer=functools.partial(torch.optim.SGD, lr=0.1))
    >>> trainer = Trainer(max_epochs=2, callbacks=[], logger=False, num_sanity_val_steps=0)
    >>> trainer.fit(task, data)
    >>> sorted(trainer.callback_metrics)
    ['train/loss', 'val/loss', 'val/mse']
    """

    _default_loss = nn.MSELoss

    @staticmethod
    def _default_metrics() -> dict[str, Metric]:
        return {"mse": MeanSquaredError()}
