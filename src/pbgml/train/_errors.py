"""Errors raised by the trainer: bad settings, non-finite losses, interruptions."""

from __future__ import annotations

from pbgml._errors import ArgumentError, PbgmlError

__all__ = ["Interrupted", "NonFiniteLossError", "TrainerError"]


class TrainerError(ArgumentError):
    """A trainer argument, a task's output or a checkpoint is not what was expected.

    A :class:`~pbgml.ArgumentError` (so a ``ValueError``): ``param`` names the
    argument (``"max_epochs"``, ``"ckpt_path"``...) when there is one.

    Examples
    --------
    >>> from pbgml.train import Trainer, TrainerError
    >>> try:
    ...     Trainer(max_epochs=-2)
    ... except TrainerError as err:
    ...     print(err.param)
    max_epochs
    """


class NonFiniteLossError(PbgmlError, FloatingPointError):
    """The loss was ``nan`` or ``inf``: training stopped before the optimizer stepped.

    ``epoch``, ``step`` (the global optimizer step) and ``batch_idx`` say where.

    Examples
    --------
    >>> from pbgml.train import NonFiniteLossError
    >>> err = NonFiniteLossError("nan loss", epoch=1, step=10, batch_idx=3)
    >>> err.epoch, err.step, err.batch_idx
    (1, 10, 3)
    """

    def __init__(self, message: str, *, epoch: int, step: int, batch_idx: int) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.step = step
        self.batch_idx = batch_idx


class Interrupted(PbgmlError):  # noqa: N818 - the name is public API
    """``fit`` was stopped by a signal (SIGTERM, SIGUSR1) after writing a checkpoint.

    A library never exits the process: the caller decides (a script would exit with
    code 143, as a process killed by SIGTERM does). ``checkpoint_path`` is the checkpoint written at the
    step the signal arrived (resume with ``fit(..., ckpt_path=err.checkpoint_path)``)
    and ``signal`` its number.

    Examples
    --------
    >>> import signal
    >>> from pbgml.train import Interrupted
    >>> err = Interrupted("stopped", checkpoint_path="run/checkpoints/last.ckpt", signum=15)
    >>> err.checkpoint_path, err.signal == signal.SIGTERM
    ('run/checkpoints/last.ckpt', True)
    """

    def __init__(self, message: str, *, checkpoint_path: str | None, signum: int) -> None:
        super().__init__(message)
        self.checkpoint_path = checkpoint_path
        self.signal = signum
