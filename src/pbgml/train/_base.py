"""The contracts the Trainer calls: :class:`Callback` and :class:`Logger` base classes.

Plain Python and PyTorch: nothing here imports Hydra, OmegaConf, hydra-zen or
pbgml's config layer. Every hook has a default that does nothing, so a callback
overrides only what it needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import Tensor

    from pbgml.train._task import Task
    from pbgml.train._trainer import Trainer

__all__ = ["Callback", "Logger"]


class Callback:
    """Base class of trainer callbacks: override the hooks you need.

    Hooks receive the :class:`~pbgml.train.Trainer` and the :class:`~pbgml.train.Task`.
    A callback with state returns it from :meth:`state_dict` (plain Python values and
    tensors only, so checkpoints load with ``weights_only=True``); it is saved in the
    checkpoint under :attr:`state_key` and handed back to :meth:`load_state_dict` on
    resume.

    Examples
    --------
    >>> from pbgml.train import Callback
    >>> class CountEpochs(Callback):
    ...     def __init__(self) -> None:
    ...         self.epochs = 0
    ...     def on_train_epoch_end(self, trainer, task):
    ...         self.epochs += 1
    ...     def state_dict(self):
    ...         return {"epochs": self.epochs}
    >>> CountEpochs().state_key
    'CountEpochs'
    """

    @property
    def state_key(self) -> str:
        """The key of this callback's state in a checkpoint (class name by default)."""
        return type(self).__qualname__

    # -- run -----------------------------------------------------------------------
    def setup(self, trainer: Trainer, task: Task, stage: str) -> None:
        """Called once at the start of ``fit``/``validate``/``test``/``predict``."""

    def teardown(self, trainer: Trainer, task: Task, stage: str) -> None:
        """Called once at the end of a stage, also when it raised."""

    def on_fit_start(self, trainer: Trainer, task: Task) -> None:
        """Called when fit starts, after the model is on its device and state is restored."""

    def on_fit_end(self, trainer: Trainer, task: Task) -> None:
        """Called when fit ends normally."""

    # -- training ------------------------------------------------------------------
    def on_train_epoch_start(self, trainer: Trainer, task: Task) -> None:
        """Called at the start of every training epoch."""

    def on_train_batch_start(
        self, trainer: Trainer, task: Task, batch: Any, batch_idx: int
    ) -> None:
        """Called before every training step."""

    def on_train_batch_end(
        self,
        trainer: Trainer,
        task: Task,
        outputs: Mapping[str, Tensor],
        batch: Any,
        batch_idx: int,
    ) -> None:
        """Called after every training step (``outputs["loss"]`` is detached)."""

    def on_before_optimizer_step(self, trainer: Trainer, task: Task, optimizer: Any) -> None:
        """Called before each optimizer step, after gradients are unscaled and clipped."""

    def on_train_epoch_end(self, trainer: Trainer, task: Task) -> None:
        """Called at the end of every training epoch, after validation of that epoch."""

    # -- evaluation ----------------------------------------------------------------
    def on_validation_epoch_start(self, trainer: Trainer, task: Task) -> None:
        """Called before a validation loop."""

    def on_validation_epoch_end(self, trainer: Trainer, task: Task) -> None:
        """Called after a validation loop; ``trainer.callback_metrics`` holds ``val/*``."""

    def on_test_epoch_start(self, trainer: Trainer, task: Task) -> None:
        """Called before the test loop."""

    def on_test_epoch_end(self, trainer: Trainer, task: Task) -> None:
        """Called after the test loop; ``trainer.callback_metrics`` holds ``test/*``."""

    def on_exception(self, trainer: Trainer, task: Task, error: BaseException) -> None:
        """Called when a stage raises (including :class:`~pbgml.train.Interrupted`)."""

    # -- checkpoints ---------------------------------------------------------------
    def on_save_checkpoint(self, trainer: Trainer, task: Task, checkpoint: dict[str, Any]) -> None:
        """Called with the checkpoint dict before it is written; may add entries."""

    def state_dict(self) -> dict[str, Any]:
        """This callback's state for a checkpoint (empty by default)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the state returned by :meth:`state_dict`."""


class Logger:
    """Base class of experiment loggers: metrics by step, hyperparameters once.

    Only rank 0 logs under :mod:`torch.distributed`: the trainer calls a logger on
    rank 0 alone.

    Examples
    --------
    >>> from pbgml.train import Logger
    >>> class Printer(Logger):
    ...     def log_metrics(self, metrics, step):
    ...         print(step, dict(metrics))
    >>> Printer().log_metrics({"train/loss": 0.5}, step=10)
    10 {'train/loss': 0.5}
    """

    def setup(self, run_dir: str) -> None:
        """Called once with the run directory (files go under ``run_dir/logs``)."""

    def log_hyperparams(self, params: Mapping[str, Any]) -> None:
        """Record the run's hyperparameters (the resolved config, parameter counts)."""

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """Record scalar metrics (``{"train/loss": 0.3, "epoch": 2}``) at a global step."""

    def log_histogram(self, name: str, values: Tensor, step: int) -> None:
        """Record a histogram of values (loggers that cannot, ignore it)."""

    def finalize(self, status: str) -> None:
        """Flush and close; ``status`` is ``"success"``, ``"failed"`` or ``"interrupted"``."""
