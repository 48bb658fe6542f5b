"""Third-party components published through the ``pbgml.plugins`` entry-point group.

Two forms are understood, declared in a distribution's ``entry_points.txt``::

    [pbgml.plugins]
    loss.focal = my_pkg.losses:FocalLoss      # lazy: one component, imported when used
    my_pkg = my_pkg.pbgml_plugin:register     # eager: called once to register many

A ``group.name`` entry is recorded from package metadata alone, so listing names
imports nothing. A bare name is imported and, when it is a function, called with no
arguments, the first time any registry is used. A plugin that fails (an unknown
group, a taken name, an import error) gives a :class:`~pbgml.PluginWarning` naming the
distribution and the entry point; unrelated components keep working.
"""

from __future__ import annotations

import warnings
from importlib import metadata

from pbgml._errors import PluginWarning

__all__ = ["ENTRY_POINT_GROUP", "discover"]

ENTRY_POINT_GROUP = "pbgml.plugins"
_state = {"done": False}


def _warn(dist: str, spec: str, problem: str) -> None:
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
        Read them again (after installing a distribution in a running process).

    Examples
    --------
    >>> from pbgml import _plugins
    >>> _plugins.discover()  # idempotent; the registries call it on first use
    """
    if _state["done"] and not force:
        return
    _state["done"] = True
    from pbgml import registry

    groups = registry.groups()
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else "?"
        spec = f"{ep.name} = {ep.value}"
        group, dot, name = ep.name.partition(".")
        if dot:
            if group not in groups:
                _warn(dist, spec, f"unknown group {group!r}; groups are {sorted(groups)}")
                continue
            if name in groups[group] and force:
                continue
            problem = groups[group]._add_pending(name.strip(), ep.value, dist)
            if problem:
                _warn(dist, spec, problem)
            continue
        try:
            loaded = ep.load()
            if callable(loaded):
                loaded()
        except Exception as err:
            _warn(dist, spec, f"{type(err).__name__}: {err}")
