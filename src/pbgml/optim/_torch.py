"""torch's optimizers and schedulers as classes that plain Hydra can build from pbgml's configs.

Each class here is a subclass of the torch class of the same name that takes the
settings pbgml's configs carry beside torch's arguments, so that
``hydra.utils.instantiate`` (or ``hydra_zen.instantiate``) of a pbgml optimizer or
scheduler config builds a working object with nothing pbgml-specific reaching torch:

* an optimizer (:class:`AdamW`, :class:`SGD`, ...) takes ``param_groups`` and may be
  called with the model (the parameter groups are applied, as pbgml's own build does)
  or with an iterable of parameters or group dicts (the plain torch convention);
* a scheduler (:class:`StepLR`, :class:`CosineAnnealingLR`, ...) takes ``interval``,
  ``frequency`` and ``monitor`` and keeps them as attributes, for a loop that steps it.

These classes hold the registries' short names (``adamw``, ``step_lr``) and are the
``_target_`` of pbgml's typed configs (``pbgml.optim.AdamW``); torch's own classes stay
registered under their class names (``AdamW``), so files that say
``_target_: torch.optim.AdamW`` keep working, with the same meaning inside pbgml.
An instance *is* the torch object (``isinstance(opt, torch.optim.AdamW)``), so
checkpoints, ``state_dict`` and torch's tooling see nothing new.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Iterable
from typing import Any, Optional, TypeVar

import torch
from torch import nn
from torch.optim import lr_scheduler as _sched

from pbgml.optim._factories import DEFAULT_PARAM_GROUPS, finalize_optimizer
from pbgml.optim._param_groups import OptimConfigError
from pbgml.optim._scheduled import ScheduledMixin

__all__ = ["GroupedOptimizer", "optimizer_classes", "scheduler_classes"]

_T = TypeVar("_T", bound=type)


def _torch_base(cls: type, root: type) -> type:
    """The torch class a pbgml wrapper extends (the first base from torch)."""
    for base in cls.__mro__[1:]:
        if base.__module__.startswith("torch.") and issubclass(base, root):
            return base
    raise TypeError(f"{cls.__qualname__} extends no torch class")  # pragma: no cover


def _sized(base: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse a length left ``None`` (``T_max``): pbgml's Trainer sizes it, a plain loop must."""
    from pbgml.optim._factories import _UNSIZED, SchedulerFactory

    names = [n for n in inspect.signature(base).parameters if n != "optimizer"]
    given = dict(zip(names, args[1:], strict=False)) | {
        k: v for k, v in kwargs.items() if k not in ("interval", "frequency", "monitor")
    }
    arg = SchedulerFactory(functools.partial(base, **given), monitor="-").length_argument
    if arg is not None:
        raise OptimConfigError(_UNSIZED.format(arg=arg, name=base.__name__), param=arg)


def _own_init(cls: type, mixin: type, base: type, extra: tuple[inspect.Parameter, ...]) -> None:
    """Give ``cls`` an ``__init__`` whose signature and type hints are torch's plus ``extra``.

    Signature readers (``inspect``, hydra-zen's ``builds``, Sphinx) then see every
    argument of the torch class, with its type, instead of the mixin's ``*args``.
    """
    mixin_init = mixin.__init__  # type: ignore[misc]

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        if mixin is ScheduledMixin:
            _sized(base, args, kwargs)
        mixin_init(self, *args, **kwargs)

    sig = inspect.signature(base.__init__)  # type: ignore[misc]
    params = [p for p in sig.parameters.values() if p.kind is not p.VAR_KEYWORD]
    tail = [p for p in sig.parameters.values() if p.kind is p.VAR_KEYWORD]
    hints: dict[str, Any] = {}
    try:
        hints = typing.get_type_hints(base.__init__)  # type: ignore[misc]
    except Exception:  # unresolvable hints: the signature still holds
        hints = {}
    params = [p.replace(annotation=hints.get(p.name, p.annotation)) for p in params]
    init.__signature__ = sig.replace(  # type: ignore[attr-defined]
        parameters=[*params, *extra, *tail], return_annotation=None
    )
    init.__annotations__ = {
        **{k: v for k, v in hints.items() if k != "return"},
        **{p.name: p.annotation for p in extra if p.annotation is not p.empty},
        "return": None,
    }
    init.__name__ = "__init__"
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = base.__init__.__doc__  # type: ignore[misc]
    cls.__init__ = init  # type: ignore[misc]


class GroupedOptimizer:
    """Mixin of pbgml's optimizer classes: ``param_groups``, and the model as first argument.

    Called with an ``nn.Module``, the parameters are split into groups by
    ``param_groups`` (``"default"``: the optimizer's own default, no weight decay on
    biases and norms for AdamW; ``None``: one group; or a mapping with ``no_decay``,
    ``lr_mult``, ``freeze``, see :class:`pbgml.optim.ParamGroups`), exactly as
    :class:`pbgml.optim.OptimizerFactory` does. Called with parameters or group dicts,
    they are used as given and ``param_groups`` plays no part.

    Examples
    --------
    >>> import torch
    >>> from pbgml.optim import AdamW
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
    >>> [g["name"] for g in AdamW(model, lr=0.01).param_groups]
    ['default', 'default/no_decay']
    >>> len(AdamW(model.parameters(), lr=0.01).param_groups)
    1
    """

    def __init__(
        self,
        params: nn.Module | Iterable[Any],
        *args: Any,
        param_groups: object = DEFAULT_PARAM_GROUPS,
        **kwargs: Any,
    ) -> None:
        if isinstance(params, nn.Module):
            base = _torch_base(type(self), torch.optim.Optimizer)
            bound = inspect.signature(base).bind_partial(None, *args, **kwargs).arguments
            bound.pop(next(iter(inspect.signature(base).parameters)))
            build = functools.partial(base, **bound)
            factory = finalize_optimizer(build, param_groups=param_groups)
            groups, frozen = factory._groups(params)
            for param in frozen:
                param.requires_grad_(False)
            params = groups
        super().__init__(params, *args, **kwargs)  # type: ignore[call-arg]


_OPTIMIZER_EXTRA = (
    inspect.Parameter(
        "param_groups", inspect.Parameter.KEYWORD_ONLY, default=DEFAULT_PARAM_GROUPS, annotation=Any
    ),
)


def _scheduler_extra(default_interval: str) -> tuple[inspect.Parameter, ...]:
    kw = inspect.Parameter.KEYWORD_ONLY
    return (
        inspect.Parameter("interval", kw, default=default_interval, annotation=str),
        inspect.Parameter("frequency", kw, default=1, annotation=int),
        inspect.Parameter("monitor", kw, default=None, annotation=Optional[str]),  # noqa: UP045
    )


_OPTIMIZER_DOC = """:class:`torch.optim.{name}` that also takes the model and ``param_groups``.

Exactly torch's optimizer (a subclass: ``isinstance(opt, torch.optim.{name})``) with
the first argument a model or parameters; see :class:`pbgml.optim.GroupedOptimizer`.
The registry's ``{short}`` and the ``_target_`` of its typed config.

Examples
--------
>>> import torch
>>> from pbgml.optim import {name}
>>> model = torch.nn.Linear(3, 2, bias=False)
>>> isinstance({name}(model), torch.optim.{name})
True
"""

_SCHEDULER_DOC = """:class:`torch.optim.lr_scheduler.{name}` that also keeps ``interval``, ``frequency``, ``monitor``.

Exactly torch's scheduler (a subclass), plus when to step it; see
:class:`pbgml.optim.ScheduledMixin`. The registry's ``{short}`` and the ``_target_``
of its config.
"""


def _optimizer(cls: _T) -> _T:
    from pbgml._names import snake_case

    base = _torch_base(cls, torch.optim.Optimizer)
    cls.__doc__ = _OPTIMIZER_DOC.format(name=base.__name__, short=snake_case(base.__name__))
    _own_init(cls, GroupedOptimizer, base, _OPTIMIZER_EXTRA)
    return cls


def _scheduler(cls: _T) -> _T:
    from pbgml._names import snake_case

    root: type = (
        _sched.ReduceLROnPlateau
        if issubclass(cls, _sched.ReduceLROnPlateau)
        else _sched.LRScheduler
    )
    base = _torch_base(cls, root)
    if cls.__doc__ is None or cls.__module__ == __name__:
        cls.__doc__ = _SCHEDULER_DOC.format(name=base.__name__, short=snake_case(base.__name__))
    _own_init(
        cls, ScheduledMixin, base, _scheduler_extra(getattr(cls, "default_interval", "epoch"))
    )
    return cls


# -- optimizers (those of torch 2.4, the oldest torch pbgml supports, then newer ones) --


@_optimizer
class Adadelta(GroupedOptimizer, torch.optim.Adadelta):
    pass


@_optimizer
class Adagrad(GroupedOptimizer, torch.optim.Adagrad):
    pass


@_optimizer
class Adam(GroupedOptimizer, torch.optim.Adam):
    pass


@_optimizer
class AdamW(GroupedOptimizer, torch.optim.AdamW):
    pass


@_optimizer
class Adamax(GroupedOptimizer, torch.optim.Adamax):
    pass


@_optimizer
class ASGD(GroupedOptimizer, torch.optim.ASGD):
    pass


@_optimizer
class LBFGS(GroupedOptimizer, torch.optim.LBFGS):
    pass


@_optimizer
class NAdam(GroupedOptimizer, torch.optim.NAdam):
    pass


@_optimizer
class RAdam(GroupedOptimizer, torch.optim.RAdam):
    pass


@_optimizer
class RMSprop(GroupedOptimizer, torch.optim.RMSprop):
    pass


@_optimizer
class Rprop(GroupedOptimizer, torch.optim.Rprop):
    pass


@_optimizer
class SGD(GroupedOptimizer, torch.optim.SGD):
    pass


@_optimizer
class SparseAdam(GroupedOptimizer, torch.optim.SparseAdam):
    pass


# -- schedulers (SequentialLR and ChainedScheduler take built schedulers: torch's own) --


@_scheduler
class LambdaLR(ScheduledMixin, _sched.LambdaLR):
    pass


@_scheduler
class MultiplicativeLR(ScheduledMixin, _sched.MultiplicativeLR):
    pass


@_scheduler
class StepLR(ScheduledMixin, _sched.StepLR):
    pass


@_scheduler
class MultiStepLR(ScheduledMixin, _sched.MultiStepLR):
    pass


@_scheduler
class ConstantLR(ScheduledMixin, _sched.ConstantLR):
    pass


@_scheduler
class LinearLR(ScheduledMixin, _sched.LinearLR):
    pass


@_scheduler
class ExponentialLR(ScheduledMixin, _sched.ExponentialLR):
    pass


@_scheduler
class PolynomialLR(ScheduledMixin, _sched.PolynomialLR):
    pass


@_scheduler
class CosineAnnealingLR(ScheduledMixin, _sched.CosineAnnealingLR):
    pass


@_scheduler
class ReduceLROnPlateau(ScheduledMixin, _sched.ReduceLROnPlateau):
    pass


@_scheduler
class CyclicLR(ScheduledMixin, _sched.CyclicLR):
    pass


@_scheduler
class CosineAnnealingWarmRestarts(ScheduledMixin, _sched.CosineAnnealingWarmRestarts):
    pass


@_scheduler
class OneCycleLR(ScheduledMixin, _sched.OneCycleLR):
    pass


_OPTIMIZERS: list[type] = [
    Adadelta, Adagrad, Adam, AdamW, Adamax, ASGD, LBFGS, NAdam, RAdam, RMSprop, Rprop, SGD,
    SparseAdam,
]  # fmt: skip
_SCHEDULERS: list[type] = [
    LambdaLR, MultiplicativeLR, StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR,
    PolynomialLR, CosineAnnealingLR, ReduceLROnPlateau, CyclicLR, CosineAnnealingWarmRestarts,
    OneCycleLR,
]  # fmt: skip

# optimizers newer than torch 2.4: wrapped when this torch has them
for _name in ("Adafactor", "Muon"):
    _base = getattr(torch.optim, _name, None)
    if isinstance(_base, type):
        _cls = _optimizer(type(_name, (GroupedOptimizer, _base), {"__module__": __name__}))
        _cls.__qualname__ = _name
        globals()[_name] = _cls
        _OPTIMIZERS.append(_cls)
del _name, _base


def optimizer_classes() -> list[type]:
    """pbgml's optimizer classes, one per torch optimizer this torch has.

    Examples
    --------
    >>> from pbgml.optim._torch import optimizer_classes
    >>> "AdamW" in [cls.__name__ for cls in optimizer_classes()]
    True
    """
    return list(_OPTIMIZERS)


def scheduler_classes() -> list[type]:
    """pbgml's scheduler classes, one per torch scheduler a config can build.

    Examples
    --------
    >>> from pbgml.optim._torch import scheduler_classes
    >>> "StepLR" in [cls.__name__ for cls in scheduler_classes()]
    True
    """
    return list(_SCHEDULERS)
