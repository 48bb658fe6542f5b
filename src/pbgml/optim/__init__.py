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
from pbgml.optim._scheduled import INTERVALS, ScheduledMixin
from pbgml.optim._torch import (
    ASGD,
    LBFGS,
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    ConstantLR,
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    CyclicLR,
    ExponentialLR,
    GroupedOptimizer,
    LambdaLR,
    LinearLR,
    MultiplicativeLR,
    MultiStepLR,
    NAdam,
    OneCycleLR,
    PolynomialLR,
    RAdam,
    ReduceLROnPlateau,
    RMSprop,
    Rprop,
    SparseAdam,
    StepLR,
    optimizer_classes,
    scheduler_classes,
)
from pbgml.optim._warmup import WarmupCosineLR

__all__ = [
    "ASGD",
    "DEFAULT_PARAM_GROUPS",
    "LBFGS",
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "ConstantLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "ExponentialLR",
    "GroupedOptimizer",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "MultiplicativeLR",
    "NAdam",
    "OneCycleLR",
    "PolynomialLR",
    "RAdam",
    "RMSprop",
    "ReduceLROnPlateau",
    "Rprop",
    "ScheduledMixin",
    "SparseAdam",
    "StepLR",
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

# optimizers newer than torch 2.4 (Adafactor, Muon), wrapped when this torch has them
for _cls in optimizer_classes():
    if _cls.__name__ not in globals():
        globals()[_cls.__name__] = _cls
        __all__.append(_cls.__name__)
del _cls

if TYPE_CHECKING:
    from pbgml._registry import Registry


def _load_optimizers(reg: Registry[Any]) -> None:
    """Loader of the ``optimizer`` group: pbgml's class for each torch optimizer, by short name.

    The class names are aliases (``AdamW``); torch's own classes are accepted by the
    same entries (see :meth:`pbgml.Registry.accept`).
    """
    from pbgml._names import snake_case

    for cls in optimizer_classes():
        reg.register(cls, name=snake_case(cls.__name__), aliases=(cls.__name__,))


def _load_schedulers(reg: Registry[Any]) -> None:
    """Loader of the ``scheduler`` group: pbgml's schedulers, and its class for each torch one."""
    from pbgml._names import snake_case

    reg.register(WarmupCosineLR, name="warmup_cosine", aliases=["WarmupCosineLR"])
    for cls in scheduler_classes():
        reg.register(cls, name=snake_case(cls.__name__), aliases=(cls.__name__,))
