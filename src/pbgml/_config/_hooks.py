"""The groups' finalize hooks, imported once by their ``"module:function"`` path."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["finalizer"]

_finalizers: dict[str, Any] = {}


def finalizer(spec: str) -> Any:
    """The finalize hook named ``module:function`` (imported once)."""
    fn = _finalizers.get(spec)
    if fn is None:
        module, _, attr = spec.partition(":")
        fn = getattr(importlib.import_module(module), attr)
        _finalizers[spec] = fn
    return fn
