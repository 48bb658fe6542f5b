"""The trainer's stock callbacks: early stopping, learning rates, histograms, progress, summary.

Plain Python and PyTorch, written against :class:`~pbgml.train.Callback`; the
optional tqdm is imported only by :class:`ProgressBar`, and only when it has a
terminal to draw on.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from torch import nn

from pbgml._errors import ArgumentError, MissingExtraError, closest, require
from pbgml._validate import validates
from pbgml.train._base import Callback, Logger

if TYPE_CHECKING:
    from torch import Tensor

    from pbgml.train._task import Task
    from pbgml.train._trainer import Trainer

__all__ = [
    "EarlyStopping",
    "LearningRateMonitor",
    "ModelSummary",
    "ParamHistograms",
    "ProgressBar",
]

_log = logging.getLogger("pbgml.train")

_NO_METRIC = (
    "EarlyStopping(monitor={monitor!r}): no metric {monitor!r} after {where} "
    "(epoch {epoch}, step {step}).{hint} Metrics available: {names}. "
    "A task's self.log(name, value) in validation_step is logged as 'val/<name>'."
)


def _check_int(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ArgumentError(
            f"{name}={value!r} is invalid; expected an int >= {minimum}.", param=name
        )
    return value


def _check_choice(value: object, name: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        hint = ""
        if isinstance(value, str) and (near := closest(value, choices)):
            hint = f" Did you mean {near[0]!r}?"
        shown = ", ".join(repr(c) for c in choices)
        raise ArgumentError(
            f"{name}={value!r} is invalid; expected one of {shown}.{hint}", param=name
        )
    return value


def _int_rule(name: str, minimum: int) -> Any:
    """The rule ``pbgml.check`` applies to ``name`` (the one ``__init__`` applies)."""
    return lambda value: _check_int(value, name, minimum)


def _choice_rule(name: str, choices: tuple[str, ...]) -> Any:
    return lambda value: _check_choice(value, name, choices)


def _loggers(trainer: Trainer) -> list[Logger]:
    """The loggers this process may write to: rank 0's, nobody else's."""
    if not getattr(trainer, "is_global_zero", True):
        return []
    return list(getattr(trainer, "loggers", None) or [])


def _plain(trainer: Any, task: Any) -> nn.Module:
    """The task's own model, also while a strategy trains a wrapped copy (FSDP's shards)."""
    original = getattr(getattr(trainer, "_strategy", None), "original", None)
    return original if isinstance(original, nn.Module) else _model(task)


def _local(tensor: Tensor) -> Tensor:
    """This rank's shard of a DTensor (FSDP), a plain tensor as it is (no communication)."""
    to_local = getattr(tensor, "to_local", None)
    return to_local() if callable(to_local) else tensor


def _model(task: Any) -> nn.Module:
    """The task's model, or the task itself (a Task subclass without ``self.model``)."""
    model = getattr(task, "model", None)
    if isinstance(model, nn.Module):
        return model
    if isinstance(task, nn.Module):
        return task
    raise ArgumentError(
        f"{type(task).__name__} has no model: expected task.model to be an nn.Module",
        param="task",
    )


# -- early stopping -------------------------------------------------------------------
@validates(patience=_int_rule("patience", 0), mode=_choice_rule("mode", ("min", "max")))
class EarlyStopping(Callback):
    """Stop training when a monitored metric has stopped improving.

    The metric is read from ``trainer.callback_metrics`` at the end of every
    validation (not during the sanity check); when a run has no validation at all,
    it is read at the end of every training epoch instead. After ``patience``
    checks without an improvement of more than ``min_delta``, the callback sets
    ``trainer.should_stop`` and the trainer stops at the end of the epoch (not
    before its ``min_epochs``). The wait count and the best score are saved in
    checkpoints, so a resumed run stops exactly where an uninterrupted one would.
    Under :mod:`torch.distributed` every rank decides alike, from the same synced
    metrics.

    Parameters
    ----------
    monitor
        The metric's logged name (``"val/loss"``, ``"val/acc"``).
    patience
        How many checks without improvement are tolerated; ``0`` stops at the
        first check that does not improve.
    min_delta
        The smallest change that counts as an improvement (``>= 0``).
    mode
        ``"min"`` when lower is better (a loss), ``"max"`` when higher is (accuracy).
    check_finite
        Stop as soon as the metric is ``nan`` or ``inf``.
    verbose
        Print a line when the metric improves and when training stops.

    Attributes
    ----------
    best_score
        The best value seen (``inf`` for ``mode="min"`` before any check).
    wait_count
        Checks since the last improvement.
    stopped_epoch
        The epoch at which it asked to stop, or ``None``.
    stop_reason
        Why it asked to stop, or ``None``.

    Raises
    ------
    ArgumentError
        At the first check, when the monitored metric was never logged; the
        message lists the metrics there are and a did-you-mean.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from pbgml.train import EarlyStopping
    >>> stopper = EarlyStopping(monitor="val/loss", patience=1)
    >>> trainer = SimpleNamespace(
    ...     callback_metrics={}, should_stop=False, sanity_checking=False,
    ...     current_epoch=0, global_step=0,
    ... )
    >>> for epoch, loss in enumerate([0.9, 0.8, 0.85, 0.84]):
    ...     trainer.current_epoch, trainer.callback_metrics = epoch, {"val/loss": loss}
    ...     stopper.on_validation_epoch_end(trainer, None)
    ...     if trainer.should_stop:
    ...         break
    >>> stopper.stopped_epoch, stopper.best_score, stopper.state_dict()["wait_count"]
    (2, 0.8, 1)
    """

    def __init__(
        self,
        monitor: str = "val/loss",
        patience: int = 3,
        min_delta: float = 0.0,
        mode: str = "min",
        check_finite: bool = True,
        verbose: bool = False,
    ) -> None:
        if not isinstance(monitor, str) or not monitor:
            raise ArgumentError(
                f"monitor={monitor!r} is invalid; expected a metric name such as 'val/loss'.",
                param="monitor",
            )
        self.monitor = monitor
        self.patience = _check_int(patience, "patience", 0)
        if (
            isinstance(min_delta, bool)
            or not isinstance(min_delta, (int, float))
            or not math.isfinite(min_delta)
            or min_delta < 0
        ):
            raise ArgumentError(
                f"min_delta={min_delta!r} is invalid; expected a finite number >= 0.",
                param="min_delta",
            )
        self.min_delta = float(min_delta)
        self.mode = _check_choice(mode, "mode", ("min", "max"))
        self.check_finite = bool(check_finite)
        self.verbose = bool(verbose)
        self.best_score = math.inf if self.mode == "min" else -math.inf
        self.wait_count = 0
        self.stopped_epoch: int | None = None
        self.stop_reason: str | None = None
        self._validated = False
        self._fitting = True

    @property
    def state_key(self) -> str:
        """Unique per monitor and mode, so that two early stoppers can share a run."""
        return f"EarlyStopping{{'monitor': {self.monitor!r}, 'mode': {self.mode!r}}}"

    def setup(self, trainer: Trainer, task: Task, stage: str) -> None:
        """Check only while fitting (not in ``validate``); forget whether validation ran."""
        self._validated = False
        self._fitting = stage == "fit"

    def on_validation_epoch_end(self, trainer: Trainer, task: Task) -> None:
        """Check the metric after a validation (not during the sanity check)."""
        if getattr(trainer, "sanity_checking", False) or not self._fitting:
            return
        self._validated = True
        self._check(trainer, "validation")

    def on_train_epoch_end(self, trainer: Trainer, task: Task) -> None:
        """Check the metric at epoch end only in a run that has no validation."""
        if not self._validated and self._fitting:
            self._check(trainer, "the training epoch")

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best_score - self.min_delta
        return value > self.best_score + self.min_delta

    def _check(self, trainer: Trainer, where: str) -> None:
        metrics: Mapping[str, Any] = trainer.callback_metrics
        if self.monitor not in metrics:
            names = sorted(metrics)
            near = closest(self.monitor, names)
            raise ArgumentError(
                _NO_METRIC.format(
                    monitor=self.monitor,
                    where=where,
                    epoch=trainer.current_epoch,
                    step=trainer.global_step,
                    hint=f" Did you mean {near[0]!r}?" if near else "",
                    names=", ".join(map(repr, names)) if names else "none",
                ),
                param="monitor",
            )
        value = float(metrics[self.monitor])
        reason: str | None = None
        if self.check_finite and not math.isfinite(value):
            reason = f"{self.monitor} = {value} is not finite"
            _log.warning("EarlyStopping: %s; stopping.", reason)
        elif self._improved(value):
            if self.verbose:
                print(f"EarlyStopping: {self.monitor} improved to {value:.6g}")
            self.best_score = value
            self.wait_count = 0
        else:
            self.wait_count += 1
            if self.wait_count >= self.patience:
                reason = (
                    f"{self.monitor} did not improve for {self.wait_count} checks "
                    f"(best {self.best_score:.6g})"
                )
        if reason is not None:
            trainer.should_stop = True
            self.stopped_epoch = trainer.current_epoch
            self.stop_reason = reason
            if self.verbose:
                print(f"EarlyStopping: {reason}; stopping at epoch {trainer.current_epoch}.")

    def state_dict(self) -> dict[str, Any]:
        """The wait count, best score and stop epoch (plain Python values)."""
        return {
            "monitor": self.monitor,
            "mode": self.mode,
            "wait_count": self.wait_count,
            "best_score": self.best_score,
            "stopped_epoch": self.stopped_epoch,
            "patience": self.patience,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the wait count and best score (``patience`` stays as configured)."""
        self.wait_count = int(state["wait_count"])
        self.best_score = float(state["best_score"])
        stopped = state.get("stopped_epoch")
        self.stopped_epoch = None if stopped is None else int(stopped)


# -- learning rates -------------------------------------------------------------------
@validates(logging_interval=_choice_rule("logging_interval", ("epoch", "step")))
class LearningRateMonitor(Callback):
    """Log every optimizer's learning rate to the trainer's loggers.

    The names are ``lr-<OptimizerClass>`` for an optimizer of one parameter group;
    with several groups, ``lr-<OptimizerClass>/<name>`` for a group holding a
    ``"name"`` key (pbgml's parameter groups do) and ``lr-<OptimizerClass>/pg<i>``
    otherwise (``i`` indexes ``optimizer.param_groups``, from 0). A second optimizer
    of the same class gets ``-1`` (``lr-SGD-1``). Rates are logged at the start of
    each epoch, or of each optimizer step, i.e. the rate the coming step uses, at
    ``trainer.global_step``. With no logger it records only :attr:`lrs`.

    Parameters
    ----------
    logging_interval
        ``"epoch"`` or ``"step"``.
    log_momentum
        Also log ``momentum-<...>`` (SGD's ``momentum``, or Adam's first beta).

    Attributes
    ----------
    lrs
        Every value logged, by name, in order.

    Examples
    --------
    >>> import torch
    >>> from types import SimpleNamespace
    >>> from pbgml.train import LearningRateMonitor
    >>> model = torch.nn.Linear(2, 1)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> trainer = SimpleNamespace(
    ...     optimizers=[opt], loggers=[], is_global_zero=True, current_epoch=0, global_step=0
    ... )
    >>> monitor = LearningRateMonitor()
    >>> monitor.on_train_epoch_start(trainer, None)
    >>> monitor.lrs
    {'lr-SGD': [0.1]}
    """

    def __init__(self, logging_interval: str = "epoch", log_momentum: bool = False) -> None:
        self.logging_interval = _check_choice(
            logging_interval, "logging_interval", ("epoch", "step")
        )
        self.log_momentum = bool(log_momentum)
        self.lrs: dict[str, list[float]] = {}
        self._last_step: int | None = None

    def on_train_epoch_start(self, trainer: Trainer, task: Task) -> None:
        """Log the rates an epoch starts with (``logging_interval="epoch"``)."""
        if self.logging_interval == "epoch":
            self._log(trainer)

    def on_train_batch_start(
        self, trainer: Trainer, task: Task, batch: Any, batch_idx: int
    ) -> None:
        """Log the rates of the coming step once per step (``logging_interval="step"``)."""
        if self.logging_interval == "step" and trainer.global_step != self._last_step:
            self._last_step = trainer.global_step
            self._log(trainer)

    def _names(self, optimizers: list[Any]) -> list[tuple[str, Any]]:
        counts: dict[str, int] = {}
        out = []
        for optimizer in optimizers:
            base = type(optimizer).__name__
            seen = counts.get(base, 0)
            counts[base] = seen + 1
            out.append((base if seen == 0 else f"{base}-{seen}", optimizer))
        return out

    def _log(self, trainer: Trainer) -> None:
        stats: dict[str, float] = {}
        for base, optimizer in self._names(list(trainer.optimizers)):
            groups = optimizer.param_groups
            for i, group in enumerate(groups):
                suffix = ""
                if len(groups) > 1:
                    suffix = f"/{group['name']}" if group.get("name") else f"/pg{i}"
                stats[f"lr-{base}{suffix}"] = float(group["lr"])
                if self.log_momentum:
                    momentum = group.get("momentum")
                    if momentum is None and "betas" in group:
                        momentum = group["betas"][0]
                    if momentum is not None:
                        stats[f"momentum-{base}{suffix}"] = float(momentum)
        if not stats:
            return
        for name, value in stats.items():
            self.lrs.setdefault(name, []).append(value)
        loggers = _loggers(trainer)
        if loggers:
            record = {**stats, "epoch": float(trainer.current_epoch)}
            for logger in loggers:
                logger.log_metrics(record, step=trainer.global_step)


# -- histograms -----------------------------------------------------------------------
def _records_histograms(logger: Logger) -> bool:
    return type(logger).log_histogram is not Logger.log_histogram


@validates(every_n_epochs=_int_rule("every_n_epochs", 1))
class ParamHistograms(Callback):
    """Log a histogram of every parameter, and of its gradient, at epoch end.

    At the end of every ``every_n_epochs``-th training epoch, each parameter of
    ``task.model`` goes to :meth:`Logger.log_histogram` as ``params/<name>`` at
    ``trainer.global_step``: the course's custom TensorBoard callback, for any
    logger that records histograms (:class:`~pbgml.train.TensorBoardLogger`). The
    gradients of the epoch's last optimizer step (the trainer frees them after each
    step) are kept for that one step and logged beside them as ``grads/<name>``; a
    parameter that still holds a ``.grad`` at epoch end has that one logged instead.
    Loggers that cannot record histograms are skipped without copying anything;
    when none can, a warning says so at setup. Under ``strategy="fsdp"`` each
    parameter is sharded: the histograms are of rank 0's shard (gathering the whole
    model on every epoch end would cost what FSDP saves).

    Parameters
    ----------
    every_n_epochs
        Log at the end of epochs ``n - 1, 2n - 1, ...`` (counting from 0).

    Examples
    --------
    >>> import torch
    >>> from types import SimpleNamespace
    >>> from pbgml.train import Logger, ParamHistograms
    >>> class Shapes(Logger):
    ...     def log_histogram(self, name, values, step):
    ...         print(name, tuple(values.shape), step)
    >>> trainer = SimpleNamespace(
    ...     loggers=[Shapes()], is_global_zero=True, current_epoch=0, global_step=8
    ... )
    >>> task = SimpleNamespace(model=torch.nn.Linear(3, 2))
    >>> ParamHistograms().on_train_epoch_end(trainer, task)
    params/weight (2, 3) 8
    params/bias (2,) 8
    """

    def __init__(self, every_n_epochs: int = 1) -> None:
        self.every_n_epochs = _check_int(every_n_epochs, "every_n_epochs", 1)
        self._grads: dict[str, Tensor] = {}

    def _loggers(self, trainer: Trainer) -> list[Logger]:
        if (trainer.current_epoch + 1) % self.every_n_epochs:
            return []
        return [lg for lg in _loggers(trainer) if _records_histograms(lg)]

    def setup(self, trainer: Trainer, task: Task, stage: str) -> None:
        """Warn when no logger of the run records histograms."""
        self._grads = {}
        if stage != "fit" or not getattr(trainer, "is_global_zero", True):
            return
        loggers = list(getattr(trainer, "loggers", None) or [])
        if not any(_records_histograms(lg) for lg in loggers):
            import warnings

            names = ", ".join(type(lg).__name__ for lg in loggers) or "no logger"
            warnings.warn(
                f"ParamHistograms: none of the trainer's loggers records histograms "
                f"({names}); add a TensorBoardLogger (Trainer(logger=[..., TensorBoardLogger()]), or 'tensorboard' in an experiment's logger).",
                UserWarning,
                stacklevel=2,
            )

    def on_before_optimizer_step(self, trainer: Trainer, task: Task, optimizer: Any) -> None:
        """Keep a copy of the gradients of the epoch's last step (only that one)."""
        batch_idx = getattr(trainer, "batch_idx", None)
        total = trainer.num_training_batches
        if batch_idx is None or batch_idx + 1 < total or not self._loggers(trainer):
            return
        for name, param in _model(task).named_parameters():
            if param.grad is not None:
                self._grads[name] = _local(param.grad.detach()).clone()

    def on_train_epoch_end(self, trainer: Trainer, task: Task) -> None:
        """Log the histograms at the end of every ``every_n_epochs``-th epoch."""
        grads, self._grads = self._grads, {}
        loggers = self._loggers(trainer)
        if not loggers:
            return
        step = trainer.global_step
        for name, param in _model(task).named_parameters():
            if isinstance(param, nn.parameter.UninitializedParameter):
                continue
            values = _local(param.detach())
            grad = _local(param.grad.detach()) if param.grad is not None else grads.get(name)
            for logger in loggers:
                logger.log_histogram(f"params/{name}", values, step)
                if grad is not None:
                    logger.log_histogram(f"grads/{name}", grad, step)


# -- progress bar ---------------------------------------------------------------------
@validates(refresh_rate=_int_rule("refresh_rate", 1))
class ProgressBar(Callback):
    """A tqdm progress bar of the training epochs: step, loss, it/s and ETA.

    Silent, with tqdm not even imported, when the output stream is not a terminal
    (a log file, CI, a notebook) and on ranks other than 0. On the hot path it does
    almost nothing: the bar moves every ``refresh_rate`` batches, and the loss is
    read (``.item()``, a device sync on GPUs) only when the bar is redrawn, at most
    ten times a second. After a validation, the bar also shows the ``val/*``
    metrics.

    Parameters
    ----------
    refresh_rate
        Move the bar every that many batches (``>= 1``).
    leave
        Keep one bar per epoch on screen (``True``), or redraw a single bar each
        epoch and leave the last one (``False``).
    file
        The stream to draw on; ``None`` means ``sys.stderr`` at the start of fit.

    Raises
    ------
    MissingExtraError
        At the start of fit, when there is a terminal to draw on but tqdm is not
        installed (``pip install pbgml[progress]``).

    Examples
    --------
    >>> import io
    >>> from types import SimpleNamespace
    >>> from pbgml.train import ProgressBar
    >>> out = io.StringIO()  # not a terminal: nothing is written
    >>> bar = ProgressBar(file=out)
    >>> trainer = SimpleNamespace(
    ...     is_global_zero=True, current_epoch=0, max_epochs=1, num_training_batches=2,
    ...     global_step=0, callback_metrics={},
    ... )
    >>> bar.setup(trainer, None, "fit")
    >>> bar.on_train_epoch_start(trainer, None)
    >>> bar.enabled, out.getvalue()
    (False, '')
    """

    #: The shortest time between two redraws (tqdm's default ``mininterval``).
    min_interval: float = 0.1

    def __init__(
        self, refresh_rate: int = 1, leave: bool = False, file: IO[str] | None = None
    ) -> None:
        self.refresh_rate = _check_int(refresh_rate, "refresh_rate", 1)
        self.leave = bool(leave)
        self.file = file
        self.enabled = False
        self._bar: Any = None
        self._tqdm: Any = None
        self._stream: IO[str] | None = None
        self._pending = 0
        self._last_draw = 0.0
        self._postfix: dict[str, str] = {}

    def setup(self, trainer: Trainer, task: Task, stage: str) -> None:
        """Decide whether to draw (a terminal, rank 0) and import tqdm if so."""
        stream = self.file if self.file is not None else sys.stderr
        is_tty = getattr(stream, "isatty", None)
        self.enabled = (
            stage == "fit"
            and getattr(trainer, "is_global_zero", True)
            and callable(is_tty)
            and bool(is_tty())
        )
        if not self.enabled:
            return
        self._stream = stream
        try:
            module = require("tqdm", extra="progress", purpose="The progress bar (ProgressBar)")
        except MissingExtraError as err:
            raise MissingExtraError(
                f"{err} (or pass enable_progress_bar=False / callbacks without progress_bar)"
            ) from err.__cause__
        self._tqdm = module.tqdm

    def _width(self) -> dict[str, Any]:
        """Follow the terminal's size; a terminal of size 0 (a bare pty) gets 100 x 20.

        (tqdm draws nothing at all on a terminal of 0 rows.)
        """
        try:
            size = os.get_terminal_size(self._stream.fileno())  # type: ignore[union-attr]
            columns, lines = size.columns, size.lines
        except (AttributeError, OSError, ValueError):
            columns = lines = 0
        if columns > 0 and lines > 0:
            return {"dynamic_ncols": True}
        return {"ncols": columns or 100, "nrows": lines or 20}

    def on_train_epoch_start(self, trainer: Trainer, task: Task) -> None:
        """Start (or reset) the epoch's bar."""
        if not self.enabled:
            return
        total_raw = trainer.num_training_batches
        total = (
            int(total_raw)
            if isinstance(total_raw, (int, float)) and math.isfinite(total_raw)
            else None
        )
        max_epochs = getattr(trainer, "max_epochs", None)
        epoch = trainer.current_epoch + 1
        desc = (
            f"Epoch {epoch}/{max_epochs}"
            if isinstance(max_epochs, int) and max_epochs > 0
            else f"Epoch {epoch}"
        )
        if self._bar is None or self.leave:
            if self._bar is not None:
                self._bar.close()
            self._bar = self._tqdm(
                total=total,
                desc=desc,
                file=self._stream,
                leave=True,
                **self._width(),
                unit="it",
                mininterval=self.min_interval,
                smoothing=0.1,
            )
        else:  # redraw the same bar: new description and no postfix before reset() draws
            self._bar.set_description(desc, refresh=False)
            self._bar.set_postfix({}, refresh=False)
            self._bar.reset(total=total)
        self._pending = 0
        self._postfix = {}

    def on_train_batch_end(
        self,
        trainer: Trainer,
        task: Task,
        outputs: Mapping[str, Tensor],
        batch: Any,
        batch_idx: int,
    ) -> None:
        """Count the batch; every ``refresh_rate`` batches move the bar (and read the loss)."""
        if self._bar is None:
            return
        self._pending += 1
        if self._pending < self.refresh_rate:
            return
        bar = self._bar
        now = time.monotonic()
        if now - self._last_draw >= self.min_interval:
            self._last_draw = now
            loss = outputs.get("loss") if isinstance(outputs, Mapping) else None
            if loss is not None:
                self._postfix["loss"] = f"{float(loss.item()):.4g}"
            self._postfix["step"] = str(trainer.global_step)
            self._show()
        bar.update(self._pending)
        self._pending = 0

    def on_validation_epoch_end(self, trainer: Trainer, task: Task) -> None:
        """Show the validation metrics beside the loss."""
        if self._bar is None or getattr(trainer, "sanity_checking", False):
            return
        for name, value in trainer.callback_metrics.items():
            if name.startswith("val/"):
                self._postfix[name] = f"{float(value):.4g}"
        self._show_prog_bar_metrics(trainer)
        self._show()

    def _show(self) -> None:
        """Set the postfix: loss and step first, then the rest in the order they came."""
        first: dict[str, str] = {
            k: self._postfix[k] for k in ("loss", "step") if k in self._postfix
        }
        postfix: dict[str, str] = {**first, **self._postfix}
        self._bar.set_postfix(postfix, refresh=False)

    def _show_prog_bar_metrics(self, trainer: Trainer) -> None:
        extra = getattr(trainer, "progress_bar_metrics", None)
        if isinstance(extra, Mapping):
            for name, value in extra.items():
                if isinstance(value, (int, float)):
                    self._postfix[str(name)] = f"{float(value):.4g}"

    def on_train_epoch_end(self, trainer: Trainer, task: Task) -> None:
        """Show the batches not yet shown, the epoch's mean loss, and redraw."""
        if self._bar is None:
            return
        if self._pending:
            self._bar.update(self._pending)
            self._pending = 0
        self._postfix["step"] = str(trainer.global_step)
        epoch_loss = trainer.callback_metrics.get("train/loss")
        if isinstance(epoch_loss, (int, float)):  # the epoch's mean, read without a sync
            self._postfix["loss"] = f"{float(epoch_loss):.4g}"
        self._show_prog_bar_metrics(trainer)
        self._show()
        self._bar.refresh()

    def teardown(self, trainer: Trainer, task: Task, stage: str) -> None:
        """Close the bar (also after an error)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


# -- model summary --------------------------------------------------------------------
@dataclass(frozen=True)
class _Row:
    name: str
    type: str
    params: int | None  # None: lazy parameters not yet initialised


def _count(params: Any) -> int | None:
    total = 0
    for p in params:
        if isinstance(p, nn.parameter.UninitializedParameter):
            return None
        total += p.numel()
    return total


def _unique_params(module: nn.Module) -> list[nn.Parameter]:
    return list(module.parameters())  # parameters() yields a shared parameter once


def _shapes_line(model: nn.Module, sample_shape: Any) -> tuple[str | None, Any]:
    """``"Net: input (1, 4) -> output (1, 2)"`` from :func:`pbgml.nn.summary`, if it can run."""
    if not isinstance(sample_shape, tuple) or not all(isinstance(d, int) for d in sample_shape):
        return None, None
    try:
        from pbgml.nn import summary

        info = summary(model, sample_shape)
    except Exception:  # a model that cannot run on meta, or not on this shape: no shapes
        return None, None
    line = f"{type(model).__name__}: input {info.input_shape} -> output {info.output_shape}"
    return line, info


def _summary_text(
    model: nn.Module, max_depth: int, title: str | None = None
) -> tuple[str, dict[str, int | None]]:
    rows: list[_Row] = []
    if max_depth != 0:
        for name, sub in model.named_modules():
            if not name:
                continue
            depth = name.count(".") + 1
            if max_depth > 0 and depth > max_depth:
                continue
            rows.append(_Row(name, type(sub).__name__, _count(sub.parameters())))
    params = _unique_params(model)
    total = _count(params)
    trainable = _count(p for p in params if p.requires_grad)
    frozen = _count(p for p in params if not p.requires_grad)
    counts = {"total": total, "trainable": trainable, "non_trainable": frozen}

    def fmt(n: int | None) -> str:
        return "?" if n is None else f"{n:,}"

    lines = [title or type(model).__name__]
    if rows:
        table = [("Layer", "Type", "Params"), *((r.name, r.type, fmt(r.params)) for r in rows)]
        widths = [max(len(t[i]) for t in table) for i in range(3)]
        rule = "  ".join("-" * w for w in widths)
        for i, (a, b, c) in enumerate(table):
            lines.append(f"{a.ljust(widths[0])}  {b.ljust(widths[1])}  {c.rjust(widths[2])}")
            if i == 0:
                lines.append(rule)
        lines.append(rule)
    size = sum(
        p.numel() * p.element_size()
        for p in params
        if not isinstance(p, nn.parameter.UninitializedParameter)
    )
    lines.append(f"Trainable params: {fmt(trainable)}")
    lines.append(f"Non-trainable params: {fmt(frozen)}")
    lines.append(f"Total params: {fmt(total)} ({size / 2**20:.2f} MiB)")
    return "\n".join(lines), counts


@validates(max_depth=_int_rule("max_depth", -1))
class ModelSummary(Callback):
    """Print the model's layers and parameter counts when fit starts.

    A summary of the module itself, without running it: the submodules down to
    ``max_depth`` with their parameter counts (their children's included), then the
    trainable, non-trainable and total counts (a parameter shared by two layers is
    counted once in the totals; lazy parameters not yet initialised show ``?``).
    When the data knows its sample shape (``trainer.datamodule.sample_shape``, as
    pbgml's DataModules do), the first line also gives the input and output shapes,
    from :func:`pbgml.nn.summary` on the meta device (no memory, no change to the
    model); :attr:`summary` then holds that :class:`pbgml.nn.ModelSummary`, with a
    row per layer. Printed on rank 0 only.

    Parameters
    ----------
    max_depth
        How deep to list submodules: ``1`` the model's children, ``-1`` every
        module, ``0`` only the totals.

    Attributes
    ----------
    counts
        After fit starts: ``{"total": ..., "trainable": ..., "non_trainable": ...}``.
    summary
        After fit starts: the :class:`pbgml.nn.ModelSummary` with output shapes, or
        ``None`` when the sample shape is unknown or the model cannot run on meta.

    Examples
    --------
    >>> import torch
    >>> from types import SimpleNamespace
    >>> from pbgml.train import ModelSummary
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    >>> model[2].requires_grad_(False)  # doctest: +ELLIPSIS
    Linear(...)
    >>> ModelSummary().on_fit_start(SimpleNamespace(is_global_zero=True), SimpleNamespace(model=model))
    Sequential
    Layer  Type    Params
    -----  ------  ------
    0      Linear      40
    1      ReLU         0
    2      Linear      18
    -----  ------  ------
    Trainable params: 40
    Non-trainable params: 18
    Total params: 58 (0.00 MiB)
    """

    def __init__(self, max_depth: int = 1) -> None:
        self.max_depth = _check_int(max_depth, "max_depth", -1)
        self.counts: dict[str, int | None] = {}
        self.summary: Any = None

    def on_fit_start(self, trainer: Trainer, task: Task) -> None:
        """Print the summary (rank 0)."""
        if not getattr(trainer, "is_global_zero", True):
            return
        model = _plain(trainer, task)
        shape = getattr(getattr(trainer, "datamodule", None), "sample_shape", None)
        title, self.summary = _shapes_line(model, shape)
        text, self.counts = _summary_text(model, self.max_depth, title)
        print(text)
