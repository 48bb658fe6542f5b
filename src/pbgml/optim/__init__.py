"""Optimizers with parameter groups, and schedulers that know when they step.

Plain PyTorch, no Hydra. An optimizer config instantiates to an
:class:`OptimizerFactory` (call it with the model: the parameters are split into
groups by a :class:`ParamGroups` spec) and a scheduler config to a
:class:`SchedulerFactory` (call it with the optimizer: a :class:`ScheduledLR`
carrying the ``interval``, ``frequency`` and ``monitor`` the trainer steps it by).
:func:`finalize_optimizer` and :func:`finalize_scheduler` are the registry's
``finalize`` hooks that make them. :class:`WarmupCosineLR` is registered as the
scheduler ``warmup_cosine``. Generated optimizer configs carry
``param_groups: default``: the optimizer's own default groups (no weight decay on
biases and norms for AdamW).

Examples
--------
>>> import functools, torch
>>> from pbgml.optim import finalize_optimizer
>>> model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4))
>>> factory = finalize_optimizer(
...     functools.partial(torch.optim.AdamW, lr=1e-3), param_groups={"no_decay": ["bias", "norm"]}
... )
>>> [g["name"] for g in factory(model).param_groups]
['default', 'default/no_decay']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pbgml.optim._factories import (
    DEFAULT_PARAM_GROUPS,
    INTERVALS,
    OptimizerFactory,
    ScheduledLR,
    SchedulerFactory,
    finalize_optimizer,
    finalize_scheduler,
)
from pbgml.optim._param_groups import (
    NO_DECAY_KINDS,
    OptimConfigError,
    ParamGroups,
    freeze_norm_stats,
)
from pbgml.optim._warmup import WarmupCosineLR

__all__ = [
    "DEFAULT_PARAM_GROUPS",
    "INTERVALS",
    "NO_DECAY_KINDS",
    "OptimConfigError",
    "OptimizerFactory",
    "ParamGroups",
    "ScheduledLR",
    "SchedulerFactory",
    "WarmupCosineLR",
    "finalize_optimizer",
    "finalize_scheduler",
    "freeze_norm_stats",
]

if TYPE_CHECKING:
    from pbgml._registry import Registry


def _load_schedulers(reg: Registry[Any]) -> None:
    """Loader of the ``scheduler`` group: pbgml's schedulers."""
    reg.register(WarmupCosineLR, name="warmup_cosine", aliases=["WarmupCosineLR"])
