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
    # pbgml's optimizer and scheduler classes extend torch's: a file that names torch's
    # class (``_target_: torch.optim.SGD``) gets the same typed config, target kept
    import pbgml.optim
    from pbgml._names import public_path

    for path, conf in list(found.items()):
        if not path.startswith("pbgml.optim."):
            continue
        cls = vars(pbgml.optim).get(path.rpartition(".")[2])
        torch_base = next(
            (b for b in getattr(cls, "__mro__", ())[1:] if b.__module__.startswith("torch.")), None
        )
        if torch_base is not None:
            found.setdefault(public_path(torch_base), conf)
    return found


def typed_config_for(path: str) -> type[Any] | None:
    """Return the hand-written config class whose ``_target_`` is ``path``, if any.

    Examples
    --------
    >>> from pbgml.configs import typed_config_for
    >>> typed_config_for("pbgml.optim.AdamW").__name__
    'AdamWConf'
    >>> typed_config_for("torch.optim.AdamW").__name__  # torch's class, as old files name it
    'AdamWConf'
    >>> typed_config_for("torch.optim.RAdam") is None
    True
    """
    return _index().get(path)
