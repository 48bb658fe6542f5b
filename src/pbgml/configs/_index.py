"""Find the typed config class written for a target, by its ``_target_`` path."""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["typed_config_for"]


@functools.cache
def _index() -> dict[str, type[Any]]:
    from pbgml.configs import _components, _core, _data, _nn, _train

    found: dict[str, type[Any]] = {}
    for module in (_core, _nn, _components, _data, _train):
        for name in module.__all__:
            obj = getattr(module, name, None)
            if not (isinstance(obj, type) and issubclass(obj, _core.ComponentConf)):
                continue
            default = obj.__dataclass_fields__["_target_"].default
            if isinstance(default, str) and default:
                found.setdefault(default, obj)
    return found


def typed_config_for(path: str) -> type[Any] | None:
    """Return the hand-written config class whose ``_target_`` is ``path``, if any.

    Examples
    --------
    >>> from pbgml.configs import typed_config_for
    >>> typed_config_for("torch.optim.AdamW").__name__
    'AdamWConf'
    >>> typed_config_for("torch.optim.RAdam") is None
    True
    """
    return _index().get(path)
