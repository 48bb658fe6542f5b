"""Linear warm-up followed by cosine annealing, in one resumable scheduler."""

from __future__ import annotations

import math

from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from pbgml.optim._param_groups import OptimConfigError
from pbgml.optim._scheduled import ScheduledMixin

__all__ = ["WarmupCosineLR"]


def _integer(name: str, value: object, low: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise OptimConfigError(f"expected {what}, got {value!r}.", param=name)
    return value


def _number(name: str, value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise OptimConfigError(f"expected {what}, got {value!r}.", param=name)
    return float(value)


class WarmupCosineLR(ScheduledMixin, LRScheduler):
    """Linear warm-up to the base learning rate, then cosine annealing to ``eta_min``.

    At step ``t`` the learning rate of a group with base rate ``base`` is

    * ``base * (f + (1 - f) * t / warmup_steps)`` while ``t < warmup_steps``,
      with ``f = warmup_start_factor``;
    * ``floor + (base - floor) * (1 + cos(pi * p)) / 2`` afterwards, with
      ``p = (t - warmup_steps) / (total_steps - warmup_steps)``, and ``floor``
      from ``total_steps`` on.

    ``eta_min`` is the floor of the group with the largest base rate; every other
    group's floor is scaled like its rate: ``floor = eta_min * base / max_base``.
    So groups made by ``lr_mult`` keep their ratios to the end, and a group with
    ``lr_mult: 0`` stays at 0.

    It is a closed form of the step count, so a scheduler restored with
    :meth:`~torch.optim.lr_scheduler.LRScheduler.load_state_dict` continues exactly where it stopped. It is meant to step
    every optimizer step (its config's ``interval`` defaults to ``"step"``).

    Parameters
    ----------
    optimizer
        The wrapped optimizer.
    warmup_steps
        Steps of linear warm-up (an integer >= 0; 0 for none).
    total_steps
        Steps until the rate reaches its floor, warm-up included (an integer
        greater than ``warmup_steps``).
    warmup_start_factor
        The fraction of the base rate at step 0, in ``[0, 1]``.
    eta_min
        The final learning rate of the group with the largest base rate, in
        ``[0, max base rate]``; the other groups' floors are scaled alike.
    last_epoch
        The index of the last step, to resume (``-1`` starts afresh).
    interval, frequency, monitor
        When to step it, kept as attributes (see :class:`~pbgml.optim.ScheduledMixin`):
        every optimizer step by default.

    Examples
    --------
    >>> import torch
    >>> from pbgml.optim import WarmupCosineLR
    >>> optimizer = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=1.0)
    >>> scheduler = WarmupCosineLR(optimizer, warmup_steps=2, total_steps=6)
    >>> scheduler.interval
    'step'
    >>> rates = []
    >>> for _ in range(7):
    ...     rates.append(round(scheduler.get_last_lr()[0], 3))
    ...     optimizer.step()
    ...     scheduler.step()
    >>> rates
    [0.0, 0.5, 1.0, 0.854, 0.5, 0.146, 0.0]
    >>> try:
    ...     WarmupCosineLR(optimizer, warmup_steps=5, total_steps=5)
    ... except ValueError as err:
    ...     print(err)
    total_steps: expected an integer greater than warmup_steps=5 (the warm-up is part of the total), got 5.
    """

    default_interval = "step"

    def __init__(
        self,
        optimizer: Optimizer,
        warmup_steps: int,
        total_steps: int,
        warmup_start_factor: float = 0.0,
        eta_min: float = 0.0,
        last_epoch: int = -1,
        *,
        interval: str = "step",
        frequency: int = 1,
        monitor: str | None = None,
    ) -> None:
        warmup_steps = _integer("warmup_steps", warmup_steps, 0, "an integer >= 0")
        total_steps = _integer(
            "total_steps",
            total_steps,
            warmup_steps + 1,
            f"an integer greater than warmup_steps={warmup_steps} "
            "(the warm-up is part of the total)",
        )
        start = _number("warmup_start_factor", warmup_start_factor, "a number in [0, 1]")
        if not 0.0 <= start <= 1.0:
            raise OptimConfigError(
                f"expected a number in [0, 1], got {warmup_start_factor!r}.",
                param="warmup_start_factor",
            )
        floor = _number("eta_min", eta_min, "a number >= 0")
        top = max((self._initial_lr(g, last_epoch) for g in optimizer.param_groups), default=0.0)
        if not 0.0 <= floor <= top:
            raise OptimConfigError(
                f"expected a number in [0, {top!r}] (0 up to the largest "
                f"base learning rate of the optimizer's groups), got {eta_min!r}.",
                param="eta_min",
            )
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps
        self.warmup_start_factor = start
        self.eta_min = floor
        super().__init__(
            optimizer, last_epoch, interval=interval, frequency=frequency, monitor=monitor
        )

    @staticmethod
    def _initial_lr(group: dict[str, object], last_epoch: int) -> float:
        """The base rate LRScheduler will read from ``group``, as a float."""
        value = group.get("initial_lr", group.get("lr")) if last_epoch != -1 else group.get("lr")
        return float(value) if isinstance(value, int | float | Tensor) else 0.0

    def _rate(self, base: float | Tensor, floor: float, step: int) -> float | Tensor:
        if step < self.warmup_steps:
            start = self.warmup_start_factor
            return base * (start + (1.0 - start) * step / self.warmup_steps)
        span = self.total_steps - self.warmup_steps
        progress = min(1.0, (step - self.warmup_steps) / span)
        return floor + (base - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))

    def get_lr(self) -> list[float | Tensor]:
        """Return each group's learning rate at the current step.

        Examples
        --------
        >>> import torch
        >>> from pbgml.optim import WarmupCosineLR
        >>> optimizer = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
        >>> WarmupCosineLR(optimizer, warmup_steps=0, total_steps=10).get_lr()
        [0.1]
        """
        top = max((float(b) for b in self.base_lrs), default=0.0)
        return [
            self._rate(base, self.eta_min * float(base) / top if top > 0 else 0.0, self.last_epoch)
            for base in self.base_lrs
        ]
