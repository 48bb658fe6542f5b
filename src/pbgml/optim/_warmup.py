"""Linear warm-up followed by cosine annealing, in one resumable scheduler."""

from __future__ import annotations

import math

from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from pbgml.optim._param_groups import OptimConfigError

__all__ = ["WarmupCosineLR"]


class WarmupCosineLR(LRScheduler):
    """Linear warm-up to the base learning rate, then cosine annealing to ``eta_min``.

    At step ``t`` the learning rate of a group with base rate ``base`` is

    * ``base * (f + (1 - f) * t / warmup_steps)`` while ``t < warmup_steps``,
      with ``f = warmup_start_factor``;
    * ``eta_min + (base - eta_min) * (1 + cos(pi * p)) / 2`` afterwards, with
      ``p = (t - warmup_steps) / (total_steps - warmup_steps)``, and ``eta_min``
      from ``total_steps`` on.

    It is a closed form of the step count, so a scheduler restored with
    :meth:`load_state_dict` continues exactly where it stopped. It is meant to step
    every optimizer step (its config's ``interval`` defaults to ``"step"``).

    Parameters
    ----------
    optimizer
        The wrapped optimizer.
    warmup_steps
        Steps of linear warm-up (0 for none).
    total_steps
        Steps until the rate reaches ``eta_min``, warm-up included.
    warmup_start_factor
        The fraction of the base rate at step 0.
    eta_min
        The final learning rate.
    last_epoch
        The index of the last step, to resume (``-1`` starts afresh).

    Examples
    --------
    >>> import torch
    >>> from pbgml.optim import WarmupCosineLR
    >>> optimizer = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=1.0)
    >>> scheduler = WarmupCosineLR(optimizer, warmup_steps=2, total_steps=6)
    >>> rates = []
    >>> for _ in range(7):
    ...     rates.append(round(scheduler.get_last_lr()[0], 3))
    ...     optimizer.step()
    ...     scheduler.step()
    >>> rates
    [0.0, 0.5, 1.0, 0.854, 0.5, 0.146, 0.0]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        warmup_steps: int,
        total_steps: int,
        warmup_start_factor: float = 0.0,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or warmup_steps < 0:
            raise OptimConfigError(
                f"scheduler.warmup_steps: expected an integer >= 0, got {warmup_steps!r}."
            )
        if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
            raise OptimConfigError(
                f"scheduler.total_steps: expected an integer >= 1, got {total_steps!r}."
            )
        if warmup_steps > total_steps:
            raise OptimConfigError(
                f"scheduler.warmup_steps: {warmup_steps!r} is more than "
                f"scheduler.total_steps={total_steps!r}; the warm-up is part of the total."
            )
        if not 0.0 <= warmup_start_factor <= 1.0:
            raise OptimConfigError(
                f"scheduler.warmup_start_factor: expected a number in [0, 1], "
                f"got {warmup_start_factor!r}."
            )
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps
        self.warmup_start_factor = float(warmup_start_factor)
        self.eta_min = float(eta_min)
        super().__init__(optimizer, last_epoch)

    def _rate(self, base: float | Tensor, step: int) -> float | Tensor:
        if step < self.warmup_steps:
            start = self.warmup_start_factor
            return base * (start + (1.0 - start) * step / self.warmup_steps)
        span = self.total_steps - self.warmup_steps
        progress = 1.0 if span == 0 else min(1.0, (step - self.warmup_steps) / span)
        return self.eta_min + (base - self.eta_min) * 0.5 * (1.0 + math.cos(math.pi * progress))

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
        return [self._rate(base, self.last_epoch) for base in self.base_lrs]
