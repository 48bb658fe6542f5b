"""The structured config of any registry entry: hand-written, given at registration, or generated."""

from __future__ import annotations

from typing import Any

from pbgml._config._generate import config_from_signature
from pbgml._names import public_path
from pbgml.configs._index import typed_config_for

__all__ = ["config_for"]

_generated: dict[tuple[str, str], tuple[object, type[Any]]] = {}


def config_for(group: str, name: str) -> type[Any]:
    """Return the structured-config class of the entry ``name`` of ``group``.

    That is the explicit class given at registration when there is one, else the
    hand-written typed config whose ``_target_`` is the entry's target
    (:class:`~pbgml.configs.AdamWConf` for ``adamw``), else a config generated (once,
    then cached) from the target's full signature with hydra-zen's ``builds``:
    partial for partial groups, without the arguments supplied later, with the
    group's meta keys.

    Parameters
    ----------
    group
        The registry's group (``"optimizer"``).
    name
        A name or alias in that registry (``"radam"``).

    Raises
    ------
    pbgml.UnknownNameError
        The group or the name is unknown (with the choices and a did-you-mean).

    Examples
    --------
    >>> from omegaconf import OmegaConf
    >>> from pbgml.configs import config_for
    >>> config_for("optimizer", "sgd").__name__
    'SGDConf'
    >>> cfg = OmegaConf.structured(config_for("optimizer", "radam"))
    >>> cfg._target_, cfg._partial_, cfg.lr
    ('pbgml.optim.RAdam', True, 0.001)
    """
    from pbgml import registry
    from pbgml._errors import UnknownNameError, closest, format_choices

    groups = registry.groups()
    reg = groups.get(group)
    if reg is None:
        hits = closest(str(group), groups)
        hint = f" Did you mean {hits[0]!r}?" if hits else ""
        raise UnknownNameError(
            f"Unknown group {group!r}.{hint} {format_choices(str(group), groups)}",
            name=str(group),
            group="group",
            suggestion=hits[0] if hits else None,
        )
    entry = reg.entry(name)
    if entry.config is not None:
        return entry.config
    cached = _generated.get((group, entry.name))
    if cached is not None and cached[0] is entry.target:
        return cached[1]
    path = public_path(entry.target)
    conf = typed_config_for(path)
    if conf is not None and conf.__dataclass_fields__["_target_"].default != path:
        conf = None  # torch's AdamW: AdamWConf builds pbgml's subclass; generate torch's
    if conf is None:
        conf = config_from_signature(
            entry.target, partial=reg.partial, exclude=reg.exclude, meta=reg.meta
        )
    _generated[(group, entry.name)] = (entry.target, conf)
    return conf
