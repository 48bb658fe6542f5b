"""Parameter groups: no weight decay on biases and norms, learning-rate multipliers, freezing."""

from __future__ import annotations

import dataclasses
import fnmatch
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from pbgml._errors import ArgumentError, closest, did_you_mean

__all__ = ["NO_DECAY_KINDS", "OptimConfigError", "ParamGroups", "freeze_norm_stats"]

#: The words of ``no_decay`` that name a kind of parameter rather than a name pattern.
NO_DECAY_KINDS = ("bias", "norm", "embedding")

_PREFIX = "param_groups"
_FIELDS = ("no_decay", "lr_mult", "freeze")

_NORM_TYPES: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._NormBase,  # BatchNorm*, SyncBatchNorm, InstanceNorm*
    nn.LayerNorm,
    nn.GroupNorm,
    nn.RMSNorm,
    nn.LocalResponseNorm,
    nn.CrossMapLRN2d,
)
_EMBEDDING_TYPES: tuple[type[nn.Module], ...] = (nn.Embedding, nn.EmbeddingBag)

_NO_MATCH = (
    "the pattern {pattern!r} matches no parameter of {model}.{hint} "
    "Patterns are fnmatch patterns on module or parameter names; top-level modules: {top}."
)
_UNKNOWN_FIELD = "unknown key.{hint} Expected some of: {choices}."


class OptimConfigError(ArgumentError):
    """An optimizer's parameter groups or a scheduler's settings are wrong.

    The message starts with the argument (``param_groups.freeze``, ``interval``),
    then the value and what was expected; ``param`` holds the argument's path, which
    the config layer prefixes with the node's key (``optimizer.param_groups.freeze``).

    Examples
    --------
    >>> from pbgml.optim import OptimConfigError, ParamGroups
    >>> try:
    ...     ParamGroups(lr_mult={"head": -1.0})
    ... except OptimConfigError as err:
    ...     print(err)
    ...     print(err.param, "|", err.reason)
    param_groups.lr_mult['head']: expected a number >= 0, got -1.0.
    param_groups.lr_mult | expected a number >= 0, got -1.0.
    """

    def __init__(self, reason: str, *, param: str | None = None, at: str | None = None) -> None:
        # the message names the argument (or the part of it, ``at``) before the reason
        label = at or param
        message = f"{label}: {reason}" if label else reason
        super().__init__(message, param=param, reason=reason)


def _strings(key: str, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        items = tuple(value)
        for item in items:
            if not isinstance(item, str) or not item:
                raise OptimConfigError(
                    f"expected a list of names or patterns, got {item!r} in it.",
                    param=f"{_PREFIX}.{key}",
                )
        return items
    raise OptimConfigError(f"expected a list of patterns, got {value!r}.", param=f"{_PREFIX}.{key}")


def _multipliers(value: object) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise OptimConfigError(
            f"expected a mapping of pattern to multiplier such as "
            f"{{'backbone.*': 0.1}}, got {value!r}.",
            param=f"{_PREFIX}.lr_mult",
        )
    out: dict[str, float] = {}
    for pattern, mult in value.items():
        if not isinstance(pattern, str) or not pattern:
            raise OptimConfigError(
                f"a key must be a pattern, got {pattern!r}.",
                param=f"{_PREFIX}.lr_mult",
            )
        if isinstance(mult, bool) or not isinstance(mult, int | float) or not mult >= 0:
            raise OptimConfigError(
                f"expected a number >= 0, got {mult!r}.",
                param=f"{_PREFIX}.lr_mult",
                at=f"{_PREFIX}.lr_mult[{pattern!r}]",
            )
        out[pattern] = float(mult)
    return out


@dataclass(frozen=True)
class ParamGroups:
    """How to split a model's parameters into optimizer parameter groups.

    Parameters
    ----------
    no_decay
        Parameters trained without weight decay: the kinds ``"bias"`` (every
        parameter whose name ends in ``bias``), ``"norm"`` (the parameters of
        normalization layers: BatchNorm, LayerNorm, GroupNorm, InstanceNorm,
        RMSNorm...) and ``"embedding"`` (embedding weights), and fnmatch patterns
        on module or parameter names. A kind that finds nothing is fine (a model
        without norm layers); a pattern that matches nothing is an error.
    lr_mult
        Learning-rate multipliers by fnmatch pattern on module or parameter name
        (``{"backbone.*": 0.1}``); the first matching pattern wins, the others get
        the optimizer's learning rate.
    freeze
        Patterns of parameters to freeze: they get ``requires_grad=False`` and are
        left out of the optimizer. Freezing stops gradients only: a frozen
        BatchNorm in a model in training mode still updates its running mean and
        variance (buffers, not parameters), and still normalizes with the batch's
        statistics. Call :func:`freeze_norm_stats` on the frozen part to keep
        its normalization layers in evaluation mode as well.

    Examples
    --------
    >>> from pbgml.optim import ParamGroups
    >>> spec = ParamGroups(no_decay=["bias", "norm"], lr_mult={"backbone.*": 0.1})
    >>> spec.no_decay, spec.lr_mult
    (('bias', 'norm'), {'backbone.*': 0.1})
    >>> ParamGroups.coerce({"freeze": "encoder.*"}).freeze
    ('encoder.*',)
    """

    no_decay: tuple[str, ...] = ()
    lr_mult: Mapping[str, float] = field(default_factory=dict)
    freeze: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "no_decay", _strings("no_decay", self.no_decay))
        object.__setattr__(self, "lr_mult", _multipliers(self.lr_mult))
        object.__setattr__(self, "freeze", _strings("freeze", self.freeze))

    @classmethod
    def coerce(cls, spec: object) -> ParamGroups:
        """Make a spec from a :class:`ParamGroups`, a config dataclass or a mapping.

        A mapping may be a plain ``dict`` or an OmegaConf ``DictConfig`` (read from
        YAML); an unknown key is an error with a did-you-mean.

        Examples
        --------
        >>> from pbgml.optim import ParamGroups
        >>> from pbgml.configs import ParamGroupsConf
        >>> ParamGroups.coerce(ParamGroupsConf(no_decay=("bias",))).no_decay
        ('bias',)
        >>> try:
        ...     ParamGroups.coerce({"nodecay": ["bias"]})
        ... except ValueError as err:
        ...     print(err.param)
        param_groups.nodecay
        """
        if isinstance(spec, ParamGroups):
            return spec
        if dataclasses.is_dataclass(spec) and not isinstance(spec, type):
            values = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)}
        elif isinstance(spec, Mapping):
            values = dict(spec)
        else:
            raise OptimConfigError(
                f"expected a mapping with keys {', '.join(_FIELDS)}, got {spec!r}.",
                param=_PREFIX,
            )
        for key in values:
            if key not in _FIELDS:
                hits = closest(str(key), _FIELDS)
                hint = f" Did you mean {hits[0]!r}?" if hits else ""
                raise OptimConfigError(
                    _UNKNOWN_FIELD.format(hint=hint, choices=", ".join(_FIELDS)),
                    param=f"{_PREFIX}.{key}",
                )
        return cls(**values)


@dataclass
class _Group:
    name: str
    mult: float
    decay: bool
    names: list[str] = field(default_factory=list)
    params: list[nn.Parameter] = field(default_factory=list)


@dataclass
class _Plan:
    groups: list[_Group]
    frozen: list[nn.Parameter]


def _scopes(name: str) -> list[str]:
    """``"a.b.weight"`` -> ``["a", "a.b", "a.b.weight"]``: the names a pattern may match."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _matches(pattern: str, name: str) -> bool:
    return any(fnmatch.fnmatchcase(scope, pattern) for scope in _scopes(name))


def _ids_in(model: nn.Module, types: tuple[type[nn.Module], ...]) -> set[int]:
    return {
        id(p)
        for module in model.modules()
        if isinstance(module, types)
        for p in module.parameters(recurse=False)
    }


def _check_matches(
    key: str, patterns: Iterable[str], model: nn.Module, names: list[str], extra: Iterable[str]
) -> None:
    for pattern in patterns:
        if any(_matches(pattern, n) for n in names):
            continue
        modules = [m for m, _ in model.named_modules() if m]
        choices = [*extra, *modules, *names]
        hint = did_you_mean(pattern, choices)
        stripped = pattern.strip("*.?[]")
        if stripped and stripped != pattern:  # 'backbon.*' -> 'backbone.*'
            hits = closest(stripped, choices)
            if hits:
                hint = f" Did you mean {pattern.replace(stripped, hits[0], 1)!r}?"
        top = ", ".join(repr(n) for n, _ in model.named_children()) or "none"
        raise OptimConfigError(
            _NO_MATCH.format(
                pattern=pattern,
                model=type(model).__name__,
                hint=hint,
                top=top,
            ),
            param=f"{_PREFIX}.{key}",
        )


def plan(model: nn.Module, spec: ParamGroups | None) -> _Plan:
    """Split ``model``'s trainable parameters into groups following ``spec``."""
    spec = spec or ParamGroups()
    named = list(model.named_parameters())
    names = [n for n, _ in named]
    patterns = [p for p in spec.no_decay if p not in NO_DECAY_KINDS]
    _check_matches("no_decay", patterns, model, names, NO_DECAY_KINDS)
    _check_matches("lr_mult", spec.lr_mult, model, names, ())
    _check_matches("freeze", spec.freeze, model, names, ())

    no_decay_ids: set[int] = set()
    if "norm" in spec.no_decay:
        no_decay_ids |= _ids_in(model, _NORM_TYPES)
    if "embedding" in spec.no_decay:
        no_decay_ids |= _ids_in(model, _EMBEDDING_TYPES)

    groups: dict[tuple[str | None, bool], _Group] = {}
    frozen: list[nn.Parameter] = []
    for name, param in named:
        if any(_matches(p, name) for p in spec.freeze):
            frozen.append(param)
            continue
        if not param.requires_grad:
            continue
        decay = not (
            id(param) in no_decay_ids
            or ("bias" in spec.no_decay and name.rsplit(".", 1)[-1].endswith("bias"))
            or any(_matches(p, name) for p in patterns)
        )
        pattern = next((p for p in spec.lr_mult if _matches(p, name)), None)
        key = (pattern, decay)
        if key not in groups:
            base = pattern if pattern is not None else "default"
            mult = spec.lr_mult[pattern] if pattern is not None else 1.0
            groups[key] = _Group(base if decay else f"{base}/no_decay", mult, decay)
        groups[key].names.append(name)
        groups[key].params.append(param)
    return _Plan(list(groups.values()), frozen)


def group_dicts(
    model: nn.Module, spec: ParamGroups | None, *, lr: Any, weight_decay: Any, target: str
) -> tuple[list[dict[str, Any]], list[nn.Parameter]]:
    """The optimizer's group dicts for ``model``, and the parameters to freeze.

    ``lr`` and ``weight_decay`` are the optimizer's own values, or ``None`` when it
    has no such argument.
    """
    found = plan(model, spec)
    out: list[dict[str, Any]] = []
    for group in found.groups:
        entry: dict[str, Any] = {
            "name": group.name,
            "params": group.params,
            "param_names": group.names,
        }
        if lr is not None:
            entry["lr"] = lr * group.mult if group.mult != 1.0 else lr
        elif group.mult != 1.0:
            raise OptimConfigError(
                f"{target} has no 'lr' argument to multiply "
                f"(group {group.name!r}, multiplier {group.mult!r}).",
                param=f"{_PREFIX}.lr_mult",
            )
        if not group.decay:
            entry["weight_decay"] = 0.0
        elif weight_decay is not None:
            entry["weight_decay"] = weight_decay
        out.append(entry)
    if not out:
        raise OptimConfigError(
            f"no trainable parameter of {type(model).__name__} is left "
            f"to optimize (frozen: {len(found.frozen)}, "
            f"total: {sum(1 for _ in model.parameters())}).",
            param=f"{_PREFIX}.freeze",
        )
    return out, found.frozen


_FROZEN_STATS: weakref.WeakSet[nn.Module] = weakref.WeakSet()


def _stay_in_eval_mode(module: nn.Module, args: object) -> None:
    """Forward pre-hook: ``model.train()`` does not bring a frozen norm layer back."""
    module.train(False)


def freeze_norm_stats(module: nn.Module) -> list[str]:
    """Keep the normalization layers of ``module`` in evaluation mode; return their names.

    Freezing parameters (``param_groups.freeze``) stops their gradients only: a
    BatchNorm (or InstanceNorm with ``track_running_stats``) of a model in
    training mode still updates its running statistics and normalizes with the
    batch's. This puts every such layer of ``module`` in evaluation mode now and
    before each of its forward passes (a forward pre-hook, so ``model.train()``
    at the start of an epoch does not undo it): it normalizes with its running
    statistics and never updates them. The usual recipe when fine-tuning a
    pretrained backbone with a frozen BatchNorm. Calling it twice is harmless.

    Parameters
    ----------
    module
        The part of the model whose norm layers are frozen (``model.backbone``),
        or the whole model.

    Examples
    --------
    >>> import torch
    >>> from pbgml.optim import freeze_norm_stats
    >>> model = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.BatchNorm1d(4))
    >>> freeze_norm_stats(model)
    ['1']
    >>> _ = model.train()(torch.randn(8, 2))
    >>> model[1].training, model[1].running_mean.abs().sum().item()
    (False, 0.0)
    """
    names: list[str] = []
    for name, layer in module.named_modules():
        if not isinstance(layer, nn.modules.batchnorm._NormBase):
            continue
        names.append(name)
        layer.train(False)
        if layer not in _FROZEN_STATS:
            layer.register_forward_pre_hook(_stay_in_eval_mode)
            _FROZEN_STATS.add(layer)
    return names
