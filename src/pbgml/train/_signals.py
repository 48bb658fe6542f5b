"""Catch SIGTERM (and SIGUSR1) during fit, so the loop can checkpoint and stop cleanly."""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any

__all__ = ["SignalCatcher"]


def _signals() -> list[signal.Signals]:
    names = ("SIGTERM", "SIGUSR1")
    return [getattr(signal, n) for n in names if hasattr(signal, n)]


class SignalCatcher:
    """Record SIGTERM/SIGUSR1 instead of dying; restore the previous handlers on exit.

    Handlers can only be installed on the main thread: elsewhere this does nothing
    (and :attr:`received` stays ``None``). The training loop reads
    :attr:`received` between steps.

    Examples
    --------
    >>> import os, signal
    >>> from pbgml.train._signals import SignalCatcher
    >>> before = signal.getsignal(signal.SIGTERM)
    >>> with SignalCatcher() as catcher:
    ...     os.kill(os.getpid(), signal.SIGTERM)
    ...     catcher.received == signal.SIGTERM
    True
    >>> signal.getsignal(signal.SIGTERM) is before
    True
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[signal.Signals, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received = signum

    def __enter__(self) -> SignalCatcher:
        if threading.current_thread() is threading.main_thread():
            for sig in _signals():
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
