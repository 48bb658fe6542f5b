"""When a scheduler steps: the ``interval``/``frequency``/``monitor`` rules, and the mixin that keeps them."""

from __future__ import annotations

from typing import Any

import torch
from torch.optim.lr_scheduler import ReduceLROnPlateau

from pbgml._errors import did_you_mean
from pbgml.optim._param_groups import OptimConfigError

__all__ = ["INTERVALS", "ScheduledMixin", "is_scheduled", "scheduling_settings"]

#: When a scheduler steps: after every epoch or after every optimizer step.
INTERVALS = ("epoch", "step")

_PLATEAU_NEEDS_MONITOR = (
    "ReduceLROnPlateau steps on a metric: set the scheduler's monitor, e.g. 'val/loss'."
)


def scheduling_settings(
    func: object,
    *,
    interval: object,
    frequency: object,
    monitor: object,
    plateau_monitor: bool = True,
) -> None:
    """Check when a scheduler steps; raise :class:`~pbgml.optim.OptimConfigError` naming the setting.

    ``plateau_monitor`` requires a ``monitor`` for a ReduceLROnPlateau (pbgml's Trainer
    needs it; a loop of your own may pass the metric itself).

    Examples
    --------
    >>> import torch
    >>> from pbgml.optim._scheduled import scheduling_settings
    >>> try:
    ...     scheduling_settings(
    ...         torch.optim.lr_scheduler.StepLR, interval="epochs", frequency=1, monitor=None
    ...     )
    ... except ValueError as err:
    ...     print(err)
    interval: expected 'epoch' or 'step', got 'epochs'. Did you mean 'epoch'?
    """
    if interval not in INTERVALS:
        hint = did_you_mean(str(interval), INTERVALS)
        raise OptimConfigError(
            f"expected 'epoch' or 'step', got {interval!r}.{hint}", param="interval"
        )
    if isinstance(frequency, bool) or not isinstance(frequency, int) or frequency < 1:
        raise OptimConfigError(f"expected an integer >= 1, got {frequency!r}.", param="frequency")
    if monitor is not None and (not isinstance(monitor, str) or not monitor):
        raise OptimConfigError(
            f"expected a metric name such as 'val/loss', got {monitor!r}.", param="monitor"
        )
    plateau = isinstance(func, type) and issubclass(func, ReduceLROnPlateau)
    if plateau_monitor and plateau and monitor is None:
        raise OptimConfigError(_PLATEAU_NEEDS_MONITOR, param="monitor")


def is_scheduled(func: object) -> bool:
    """True when ``func`` is a scheduler class that keeps its own ``interval``/``frequency``/``monitor``.

    Examples
    --------
    >>> import torch
    >>> from pbgml.optim import StepLR
    >>> from pbgml.optim._scheduled import is_scheduled
    >>> is_scheduled(StepLR), is_scheduled(torch.optim.lr_scheduler.StepLR)
    (True, False)
    """
    return isinstance(func, type) and issubclass(func, ScheduledMixin)


class ScheduledMixin:
    """Mixin of pbgml's scheduler classes: ``interval``, ``frequency`` and ``monitor`` as attributes.

    A training loop steps the scheduler once every ``frequency`` intervals
    (``interval`` ``"epoch"`` or ``"step"``), passing the logged metric ``monitor``
    to a plateau scheduler. The values are checked as pbgml's own build checks them
    (a plateau scheduler may leave ``monitor`` unset here: your loop passes the
    metric). pbgml's Trainer reads them from the config; a loop of your own reads
    them from the scheduler.

    Examples
    --------
    >>> import torch
    >>> from pbgml.optim import StepLR
    >>> optimizer = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=1.0)
    >>> scheduler = StepLR(optimizer, step_size=2, interval="step")
    >>> isinstance(scheduler, torch.optim.lr_scheduler.StepLR), scheduler.interval
    (True, 'step')
    """

    #: The interval used when none is given (``"step"`` for warm-up schedules).
    default_interval = "epoch"
    interval: str
    frequency: int
    monitor: str | None

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        *args: Any,
        interval: str | None = None,
        frequency: int = 1,
        monitor: str | None = None,
        **kwargs: Any,
    ) -> None:
        interval = self.default_interval if interval is None else interval
        scheduling_settings(
            type(self),
            interval=interval,
            frequency=frequency,
            monitor=monitor,
            plateau_monitor=False,
        )
        self.interval, self.frequency, self.monitor = interval, frequency, monitor
        super().__init__(optimizer, *args, **kwargs)  # type: ignore[call-arg]
