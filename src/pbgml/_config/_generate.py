"""Structured configs generated from a target's signature (hydra-zen ``builds``)."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pbgml._names import public_path

__all__ = ["config_from_signature"]


def _required(target: Callable[..., Any]) -> list[str]:
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature
        return []
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in params if p.kind in kinds and p.default is inspect.Parameter.empty]


def config_from_signature(
    target: Callable[..., Any],
    *,
    partial: bool = False,
    exclude: Sequence[str] = (),
    meta: Mapping[str, Any] | None = None,
) -> type[Any]:
    """Generate a structured-config dataclass from ``target``'s full signature.

    Every parameter becomes a field with its default (required ones are ``MISSING``);
    ``exclude`` drops parameters that the pipeline supplies later, and ``partial``
    makes the config build a ``functools.partial``; ``meta`` adds the group's meta
    keys (not arguments of the target) with their defaults. ``_target_`` is the
    target's shortest public import path.

    Examples
    --------
    >>> import torch
    >>> from omegaconf import OmegaConf
    >>> Conf = config_from_signature(torch.optim.SGD, partial=True, exclude=["params"])
    >>> print(OmegaConf.to_yaml(Conf).splitlines()[:3])
    ['_target_: torch.optim.SGD', '_partial_: true', 'lr: 0.001']
    """
    from hydra_zen import MISSING, builds

    # hydra-zen leaves a partial's required parameters out; keep them, as MISSING
    required = {name: MISSING for name in _required(target) if name not in exclude}
    conf: type[Any] = builds(
        target,
        populate_full_signature=True,
        zen_partial=partial or None,
        zen_exclude=tuple(exclude),
        **required,
    )
    path = public_path(target)
    target_field = conf.__dataclass_fields__["_target_"]
    target_field.default = path
    conf._target_ = path
    if meta:
        extra = [(name, Any, dataclasses.field(default=value)) for name, value in meta.items()]
        conf = dataclasses.make_dataclass(conf.__name__, extra, bases=(conf,))
        conf.__module__ = "pbgml._config._generate"
    conf.__doc__ = f"Generated config for :class:`{path}` (every parameter of its signature)."
    assert dataclasses.is_dataclass(conf)
    return conf
