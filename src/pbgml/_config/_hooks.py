"""The groups' finalize hooks, imported once by their ``"module:function"`` path."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["finalizer", "meta_defaults"]

_finalizers: dict[str, Any] = {}


def finalizer(spec: str) -> Any:
    """The finalize hook named ``module:function`` (imported once)."""
    fn = _finalizers.get(spec)
    if fn is None:
        module, _, attr = spec.partition(":")
        fn = getattr(importlib.import_module(module), attr)
        _finalizers[spec] = fn
    return fn


_meta_defaults: dict[int, tuple[Any, dict[str, Any]]] = {}


def meta_defaults(target: Any, keys: Any) -> dict[str, Any]:
    """The defaults of a group's meta keys that the target's typed config sets itself.

    :class:`~pbgml.configs.WarmupCosineLRConf` says ``interval: step``: a node that
    names ``warmup_cosine`` (or its class) without an ``interval`` gets it too, so a
    YAML node and its typed config behave alike.
    """
    cached = _meta_defaults.get(id(target))
    if cached is not None and cached[0] is target:
        return cached[1]
    import dataclasses

    from pbgml._names import public_path
    from pbgml.configs._index import typed_config_for

    found: dict[str, Any] = {}
    try:
        typed = typed_config_for(public_path(target))
    except TypeError:
        typed = None
    if typed is not None:
        for f in dataclasses.fields(typed):
            if f.name in keys and f.default is not dataclasses.MISSING:
                found[f.name] = f.default
    _meta_defaults[id(target)] = (target, found)
    return found
