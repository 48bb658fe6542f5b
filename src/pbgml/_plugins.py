"""Third-party components published through the ``pbgml.plugins`` entry-point group.

Two forms are understood, declared in a distribution's ``entry_points.txt``::

    [pbgml.plugins]
    loss.focal = my_pkg.losses:FocalLoss      # lazy: one component, imported when used
    my_pkg = my_pkg.pbgml_plugin:register     # eager: called once to register many

A ``group.name`` entry is recorded from package metadata alone, so listing names
imports nothing. A bare name is imported and, when it is a function, called with no
arguments, the first time any of pbgml's registries is used. A plugin that fails (an
unknown group, a taken name, an import error) gives a :class:`~pbgml.PluginWarning`
naming the distribution and the entry point; unrelated components keep working.

This module knows the group names from :mod:`pbgml._groups` (plain data) and never
imports the registries: each registry asks it for its own entries.
"""

from __future__ import annotations

import warnings
from importlib import metadata

from pbgml._errors import PluginWarning
from pbgml._groups import GROUPS

__all__ = ["ENTRY_POINT_GROUP", "discover", "lazy_entries", "run_eager_hooks", "warn"]

ENTRY_POINT_GROUP = "pbgml.plugins"

_state: dict[str, object] = {"read": False, "eager_done": False}
_lazy: dict[str, list[tuple[str, str, str]]] = {}
_eager: list[metadata.EntryPoint] = []


def warn(dist: str, spec: str, problem: str) -> None:
    """Warn that one plugin entry point was skipped, and why."""
    warnings.warn(
        f"pbgml plugin {dist!r} (entry point {spec!r}) was skipped: {problem}",
        PluginWarning,
        stacklevel=4,
    )


def discover(*, force: bool = False) -> None:
    """Read the ``pbgml.plugins`` entry points of every installed distribution, once.

    Parameters
    ----------
    force
        Read them again (after installing a distribution in a running process); the
        registries pick the new entries up the next time they load (see
        :func:`pbgml.registry.reload`).

    Examples
    --------
    >>> from pbgml import _plugins
    >>> _plugins.discover()  # idempotent; the registries call it on first use
    """
    if _state["read"] and not force:
        return
    _state["read"] = True
    _lazy.clear()
    _eager.clear()
    if force:
        _state["eager_done"] = False
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else "?"
        group, dot, name = ep.name.partition(".")
        if not dot:
            _eager.append(ep)
            continue
        if group not in GROUPS:
            warn(
                dist,
                f"{ep.name} = {ep.value}",
                f"unknown group {group!r}; groups are {sorted(GROUPS)}",
            )
            continue
        _lazy.setdefault(group, []).append((name.strip(), ep.value, dist))


def lazy_entries(group: str) -> list[tuple[str, str, str]]:
    """The ``group.name`` entries of one group: ``(name, "module:attr", distribution)``."""
    discover()
    return list(_lazy.get(group, ()))


def run_eager_hooks() -> None:
    """Import and call every bare (eager) entry point, once per process."""
    discover()
    if _state["eager_done"]:
        return
    _state["eager_done"] = True
    for ep in _eager:
        dist = ep.dist.name if ep.dist is not None else "?"
        try:
            loaded = ep.load()
            if callable(loaded):
                loaded()
        except Exception as err:
            warn(dist, f"{ep.name} = {ep.value}", f"{type(err).__name__}: {err}")
