"""What optimizer and scheduler configs build: factories called later by the trainer."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.optim.lr_scheduler import ReduceLROnPlateau

from pbgml._errors import did_you_mean
from pbgml.optim._param_groups import OptimConfigError, ParamGroups, group_dicts
from pbgml.optim._scheduled import INTERVALS, is_scheduled, scheduling_settings
from pbgml.optim._warmup import WarmupCosineLR

__all__ = [
    "DEFAULT_PARAM_GROUPS",
    "INTERVALS",
    "LENGTH_ARGUMENTS",
    "OptimizerFactory",
    "ScheduledLR",
    "SchedulerFactory",
    "finalize_optimizer",
    "finalize_scheduler",
]

#: The ``param_groups`` value (and the default) meaning "the optimizer's own default":
#: no weight decay on biases and norms for AdamW, one group for the others.
DEFAULT_PARAM_GROUPS = "default"

_ADAMW_GROUPS = ParamGroups(no_decay=("bias", "norm"))

#: The argument that sets the length of a scheduler whose length depends on the run:
#: left ``None`` (or unset), :class:`SchedulerFactory` fills it from the run's length.
LENGTH_ARGUMENTS: dict[type, str] = {
    torch.optim.lr_scheduler.CosineAnnealingLR: "T_max",
    torch.optim.lr_scheduler.OneCycleLR: "total_steps",
    WarmupCosineLR: "total_steps",
}

_UNSIZED = (
    "None asks the trainer to size {name} from the run, but it was built "
    "without the run's length (total_steps=..., total_epochs=...): set {arg}, or "
    "let pbgml's Trainer build it"
)

_MONITOR_NOT_LOGGED = (
    "the metric {monitor!r} is not among the metrics logged so far ({logged}).{hint}"
)


def _func(build: Callable[..., Any]) -> Callable[..., Any]:
    return build.func if isinstance(build, functools.partial) else build


def _argument(build: Callable[..., Any], name: str) -> Any:
    """The value ``build`` passes for ``name``: the partial's, else the default, else None."""
    if isinstance(build, functools.partial) and name in build.keywords:
        return build.keywords[name]
    try:
        param = inspect.signature(_func(build)).parameters.get(name)
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return None
    if param is None or param.default is inspect.Parameter.empty:
        return None
    return param.default


def _describe(build: Callable[..., Any]) -> str:
    func = _func(build)
    return getattr(func, "__qualname__", None) or repr(func)


@dataclass(frozen=True)
class OptimizerFactory:
    """Builds an optimizer for a model, with parameter groups from a spec.

    This is what an optimizer config instantiates to: calling it with a model
    splits the model's parameters following ``spec`` (see :class:`ParamGroups`),
    freezes what ``spec.freeze`` names, and builds the optimizer; calling it with
    an iterable of parameters or of group dicts passes them through unchanged.

    Parameters
    ----------
    build
        The optimizer class or a :func:`functools.partial` of it holding the
        hyper-parameters (``partial(torch.optim.AdamW, lr=1e-3)``).
    spec
        How to group the parameters; ``None`` puts every trainable parameter in
        one group.

    Examples
    --------
    >>> import functools, torch
    >>> from pbgml.optim import OptimizerFactory, ParamGroups
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.LayerNorm(8))
    >>> factory = OptimizerFactory(
    ...     functools.partial(torch.optim.AdamW, lr=0.01), ParamGroups(no_decay=["bias", "norm"])
    ... )
    >>> [(g["name"], g["param_names"], g["weight_decay"]) for g in factory.param_groups(model)]
    [('default', ['0.weight'], 0.01), ('default/no_decay', ['0.bias', '1.weight', '1.bias'], 0.0)]
    >>> optimizer = factory(model)
    >>> type(optimizer).__name__, len(optimizer.param_groups)
    ('AdamW', 2)
    """

    build: Callable[..., torch.optim.Optimizer]
    spec: ParamGroups | None = None

    def _groups(self, model: nn.Module) -> tuple[list[dict[str, Any]], list[nn.Parameter]]:
        return group_dicts(
            model,
            self.spec,
            lr=_argument(self.build, "lr"),
            weight_decay=_argument(self.build, "weight_decay"),
            target=_describe(self.build),
        )

    def param_groups(self, model: nn.Module) -> list[dict[str, Any]]:
        """Return the parameter groups this factory would build for ``model``.

        Each group is a dict with ``"name"``, ``"params"``, ``"param_names"``,
        ``"lr"`` and ``"weight_decay"`` (the last two when the optimizer takes
        them). Nothing is frozen or built.

        Examples
        --------
        >>> import functools, torch
        >>> from pbgml.optim import OptimizerFactory, ParamGroups
        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
        >>> factory = OptimizerFactory(
        ...     functools.partial(torch.optim.SGD, lr=0.1), ParamGroups(lr_mult={"0": 0.5})
        ... )
        >>> [(g["name"], g["lr"]) for g in factory.param_groups(model)]
        [('0', 0.05), ('default', 0.1)]
        """
        return self._groups(model)[0]

    def __call__(self, model_or_params: nn.Module | Iterable[Any], /) -> torch.optim.Optimizer:
        """Build the optimizer for a model, or for parameters or group dicts as given.

        Examples
        --------
        >>> import torch
        >>> from pbgml.optim import OptimizerFactory, ParamGroups
        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
        >>> optimizer = OptimizerFactory(torch.optim.SGD, ParamGroups(freeze=["0"]))(model)
        >>> optimizer.param_groups[0]["param_names"], model[0].weight.requires_grad
        (['1.weight', '1.bias'], False)
        >>> len(OptimizerFactory(torch.optim.SGD)(model.parameters()).param_groups)
        1
        """
        if not isinstance(model_or_params, nn.Module):
            return self.build(model_or_params)
        groups, frozen = self._groups(model_or_params)
        for param in frozen:
            param.requires_grad_(False)
        return self.build(groups)


@dataclass(frozen=True)
class ScheduledLR:
    """A built scheduler with when to step it; what :class:`SchedulerFactory` returns.

    The training loop calls :meth:`step` once per ``interval`` unit (after every
    epoch, or after every optimizer step); it steps the torch scheduler on every
    ``frequency``-th call. The calls are counted in :attr:`calls`, which
    :meth:`state_dict` saves, so a resumed run steps on the same calls.

    Attributes
    ----------
    scheduler
        The torch scheduler.
    interval
        ``"epoch"`` or ``"step"``: step it after every epoch or every optimizer step.
    frequency
        Step the torch scheduler every ``frequency`` calls of :meth:`step`.
    monitor
        The logged metric a :class:`~torch.optim.lr_scheduler.ReduceLROnPlateau`
        steps on (``"val/loss"``).
    calls
        How many times :meth:`step` was called.

    Examples
    --------
    >>> import torch
    >>> from pbgml.optim import SchedulerFactory
    >>> optimizer = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=1.0)
    >>> plateau = SchedulerFactory(
    ...     torch.optim.lr_scheduler.ReduceLROnPlateau, monitor="val/loss"
    ... )(optimizer)
    >>> plateau.interval, plateau.monitor
    ('epoch', 'val/loss')
    >>> plateau.step({"val/loss": 1.0})
    >>> plateau.calls
    1
    """

    scheduler: Any
    interval: str = "epoch"
    frequency: int = 1
    monitor: str | None = None
    calls: int = field(default=0, init=False, compare=False)

    def step(self, metrics: Mapping[str, Any] | None = None) -> None:
        """Count a call; on every ``frequency``-th, step the scheduler.

        ReduceLROnPlateau is passed the monitored metric.

        Parameters
        ----------
        metrics
            The metrics logged so far by name; needed when the scheduler steps on
            a metric, ignored otherwise.

        Examples
        --------
        >>> import functools, torch
        >>> from pbgml.optim import SchedulerFactory
        >>> optimizer = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=1.0)
        >>> halve = functools.partial(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5)
        >>> scheduled = SchedulerFactory(halve, frequency=2)(optimizer)
        >>> rates = []
        >>> for _ in range(4):
        ...     optimizer.step()
        ...     scheduled.step()
        ...     rates.append(optimizer.param_groups[0]["lr"])
        >>> rates
        [1.0, 0.5, 0.5, 0.25]
        >>> plateau = SchedulerFactory(
        ...     torch.optim.lr_scheduler.ReduceLROnPlateau, monitor="val/loss"
        ... )(optimizer)
        >>> try:
        ...     plateau.step({"val/los": 0.5})
        ... except ValueError as err:
        ...     print(err)
        monitor: the metric 'val/loss' is not among the metrics logged so far ('val/los'). Did you mean 'val/los'?
        """
        object.__setattr__(self, "calls", self.calls + 1)
        if self.calls % self.frequency:
            return
        if not isinstance(self.scheduler, ReduceLROnPlateau):
            self.scheduler.step()
            return
        metrics = metrics or {}
        if self.monitor not in metrics:
            monitor = str(self.monitor)
            raise OptimConfigError(
                _MONITOR_NOT_LOGGED.format(
                    monitor=self.monitor,
                    logged=", ".join(repr(k) for k in sorted(metrics)) or "none",
                    hint=did_you_mean(monitor, [str(k) for k in metrics]),
                ),
                param="monitor",
            )
        value = metrics[str(self.monitor)]
        self.scheduler.step(float(value))

    def state_dict(self) -> dict[str, Any]:
        """Return the scheduler's state and the count of calls, for a checkpoint.

        Examples
        --------
        >>> import torch
        >>> from pbgml.optim import SchedulerFactory
        >>> optimizer = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=1.0)
        >>> scheduled = SchedulerFactory(torch.optim.lr_scheduler.ConstantLR)(optimizer)
        >>> optimizer.step()
        >>> scheduled.step()
        >>> state = scheduled.state_dict()
        >>> sorted(state), state["calls"]
        (['calls', 'scheduler'], 1)
        """
        return {"scheduler": self.scheduler.state_dict(), "calls": self.calls}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned: the scheduler's state and the count.

        Examples
        --------
        >>> import torch
        >>> from pbgml.optim import SchedulerFactory
        >>> optimizer = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=1.0)
        >>> factory = SchedulerFactory(torch.optim.lr_scheduler.ConstantLR, frequency=3)
        >>> scheduled = factory(optimizer)
        >>> scheduled.step()
        >>> resumed = factory(optimizer)
        >>> resumed.load_state_dict(scheduled.state_dict())
        >>> resumed.calls
        1
        """
        missing = [k for k in ("scheduler", "calls") if k not in state]
        calls = state.get("calls")
        if missing or isinstance(calls, bool) or not isinstance(calls, int) or calls < 0:
            raise OptimConfigError(
                "ScheduledLR.load_state_dict: expected the mapping ScheduledLR.state_dict() "
                f"returns, with 'scheduler' and 'calls' (an integer >= 0), got keys "
                f"{sorted(state)!r}" + (f" and calls={calls!r}." if not missing else ".")
            )
        self.scheduler.load_state_dict(state["scheduler"])
        object.__setattr__(self, "calls", calls)


@dataclass(frozen=True)
class SchedulerFactory:
    """Builds a scheduler for an optimizer, with when to step it.

    What a scheduler config instantiates to. The settings are checked when the
    factory is made, so a bad config fails before training starts.

    Parameters
    ----------
    build
        The scheduler class or a :func:`functools.partial` of it.
    interval
        ``"epoch"`` (default) or ``"step"``.
    frequency
        Step every ``frequency`` intervals (an integer >= 1).
    monitor
        The logged metric to step on; required for ReduceLROnPlateau.

    Examples
    --------
    >>> import functools, torch
    >>> from pbgml.optim import SchedulerFactory
    >>> optimizer = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=1.0)
    >>> factory = SchedulerFactory(
    ...     functools.partial(torch.optim.lr_scheduler.StepLR, step_size=2), interval="step"
    ... )
    >>> scheduled = factory(optimizer)
    >>> type(scheduled.scheduler).__name__, scheduled.interval, scheduled.frequency
    ('StepLR', 'step', 1)
    >>> try:
    ...     SchedulerFactory(torch.optim.lr_scheduler.StepLR, interval="epochs")
    ... except ValueError as err:
    ...     print(err)
    interval: expected 'epoch' or 'step', got 'epochs'. Did you mean 'epoch'?
    """

    build: Callable[..., Any]
    interval: str = "epoch"
    frequency: int = 1
    monitor: str | None = None

    def __post_init__(self) -> None:
        scheduling_settings(
            _func(self.build),
            interval=self.interval,
            frequency=self.frequency,
            monitor=self.monitor,
        )

    @property
    def length_argument(self) -> str | None:
        """The length argument left ``None`` for the trainer to size, or ``None``.

        ``T_max`` of :class:`~torch.optim.lr_scheduler.CosineAnnealingLR`,
        ``total_steps`` of :class:`~torch.optim.lr_scheduler.OneCycleLR` (unless
        ``epochs`` and ``steps_per_epoch`` are given) and of
        :class:`~pbgml.optim.WarmupCosineLR`, when they are ``None`` or unset.

        Examples
        --------
        >>> import functools, torch
        >>> from pbgml.optim import SchedulerFactory
        >>> cosine = torch.optim.lr_scheduler.CosineAnnealingLR
        >>> SchedulerFactory(functools.partial(cosine, T_max=None)).length_argument
        'T_max'
        >>> SchedulerFactory(functools.partial(cosine, T_max=10)).length_argument is None
        True
        """
        func = _func(self.build)
        if not isinstance(func, type):
            return None
        for cls, arg in LENGTH_ARGUMENTS.items():
            if issubclass(func, cls) and _argument(self.build, arg) is None:
                if cls is torch.optim.lr_scheduler.OneCycleLR and None not in (
                    _argument(self.build, "epochs"),
                    _argument(self.build, "steps_per_epoch"),
                ):
                    return None
                return arg
        return None

    def __call__(
        self,
        optimizer: torch.optim.Optimizer,
        /,
        *,
        total_steps: int | None = None,
        total_epochs: int | None = None,
    ) -> ScheduledLR:
        """Build the scheduler for ``optimizer``, sized for the run when its length is ``None``.

        Parameters
        ----------
        optimizer
            The optimizer to schedule.
        total_steps
            The run's optimizer steps (after gradient accumulation).
        total_epochs
            The run's epochs.

        A length argument left ``None`` (:attr:`length_argument`) is set to the
        number of times the torch scheduler will step: ``total_steps`` (interval
        ``"step"``) or ``total_epochs`` (interval ``"epoch"``), divided by
        ``frequency``.

        Examples
        --------
        >>> import functools, torch
        >>> from pbgml.optim import SchedulerFactory
        >>> optimizer = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=1.0)
        >>> SchedulerFactory(torch.optim.lr_scheduler.ConstantLR)(optimizer).frequency
        1
        >>> one_cycle = SchedulerFactory(
        ...     functools.partial(torch.optim.lr_scheduler.OneCycleLR, max_lr=1.0), interval="step"
        ... )
        >>> one_cycle(optimizer, total_steps=300, total_epochs=3).scheduler.total_steps
        300
        """
        build = self.build
        arg = self.length_argument
        if arg is not None:
            total = total_steps if self.interval == "step" else total_epochs
            if total is None:
                name = getattr(_func(build), "__name__", repr(build))
                raise OptimConfigError(_UNSIZED.format(arg=arg, name=name), param=arg)
            build = functools.partial(build, **{arg: max(1, total // self.frequency)})
        if is_scheduled(_func(build)):  # pbgml's classes keep the settings too
            build = functools.partial(
                build, interval=self.interval, frequency=self.frequency, monitor=self.monitor
            )
        return ScheduledLR(
            scheduler=build(optimizer),
            interval=self.interval,
            frequency=self.frequency,
            monitor=self.monitor,
        )


def _default_groups(built: Callable[..., Any]) -> ParamGroups | None:
    func = _func(built)
    if isinstance(func, type) and issubclass(func, torch.optim.AdamW):
        return _ADAMW_GROUPS
    return None


def finalize_optimizer(
    built: Callable[..., torch.optim.Optimizer], *, param_groups: object = DEFAULT_PARAM_GROUPS
) -> OptimizerFactory:
    """Turn a built optimizer config into an :class:`OptimizerFactory`.

    :func:`pbgml.instantiate` calls it with the optimizer partial and the
    config's ``param_groups`` (the registry's ``meta`` key) when the config has
    that key. It may be

    * absent or ``"default"`` (:data:`~pbgml.optim.DEFAULT_PARAM_GROUPS`): the optimizer's
      default, which for :class:`torch.optim.AdamW` and its subclasses is no weight
      decay on biases and normalization layers (``no_decay: [bias, norm]``), and
      for every other optimizer one group;
    * ``None`` (``param_groups: null`` in YAML): one plain group, the opt-out;
    * a :class:`ParamGroups`, a :class:`~pbgml.configs.ParamGroupsConf` or a
      mapping read from YAML.

    Examples
    --------
    >>> import functools, torch
    >>> from pbgml.optim import finalize_optimizer
    >>> adamw = functools.partial(torch.optim.AdamW, lr=0.1)
    >>> finalize_optimizer(adamw, param_groups={"no_decay": ["bias"]}).spec.no_decay
    ('bias',)
    >>> finalize_optimizer(adamw).spec.no_decay
    ('bias', 'norm')
    >>> finalize_optimizer(adamw, param_groups=None).spec is None
    True
    >>> finalize_optimizer(torch.optim.SGD).spec is None
    True
    """
    if isinstance(param_groups, str):
        if param_groups == DEFAULT_PARAM_GROUPS:
            return OptimizerFactory(built, _default_groups(built))
        raise OptimConfigError(
            f"expected {DEFAULT_PARAM_GROUPS!r}, null (one group) or "
            f"a mapping with keys no_decay, lr_mult, freeze, got {param_groups!r}."
            + did_you_mean(param_groups, [DEFAULT_PARAM_GROUPS]),
            param="param_groups",
        )
    if param_groups is None:
        return OptimizerFactory(built, None)
    return OptimizerFactory(built, ParamGroups.coerce(param_groups))


def finalize_scheduler(
    built: Callable[..., Any],
    *,
    interval: str = "epoch",
    frequency: int = 1,
    monitor: str | None = None,
) -> SchedulerFactory:
    """Turn a built scheduler config into a :class:`SchedulerFactory`.

    :func:`pbgml.instantiate` calls it with the scheduler partial and the
    config's ``interval``, ``frequency`` and ``monitor`` (the registry's ``meta``
    keys); they are checked here.

    Examples
    --------
    >>> import torch
    >>> from pbgml.optim import finalize_scheduler
    >>> try:
    ...     finalize_scheduler(torch.optim.lr_scheduler.ReduceLROnPlateau)
    ... except ValueError as err:
    ...     print(err)
    monitor: ReduceLROnPlateau steps on a metric: set the scheduler's monitor, e.g. 'val/loss'.
    """
    return SchedulerFactory(built, interval=interval, frequency=frequency, monitor=monitor)
