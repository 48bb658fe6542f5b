"""Optional integrations probed lazily: a broken install is one warning, never an error.

A package such as torchvision may be installed but fail to import (built for another
torch it raises ``RuntimeError: operator torchvision::nms does not exist``). pbgml's
own components never depend on it: the loader that registers its components asks
:func:`probe`, which imports the module once and, on any exception, warns once per
package (a :class:`~pbgml.PluginWarning` naming the package, the error and the fix)
and answers ``None``, so the rest of pbgml goes on working.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import TypeVar

from pbgml._errors import PluginWarning

__all__ = ["BROKEN", "installed", "needs", "probe"]

BROKEN = (
    "{package} is installed but failed to import ({error}, importing {module}); pbgml goes "
    "on without its"
    " components. Reinstall it to match torch {torch} (pip install --force-reinstall "
    "pbgml[{extra}]) or uninstall it."
)
_warned: set[str] = set()


def probe(module: str, *, extra: str) -> ModuleType | None:
    """Import an optional module if it is installed and works, else return ``None``.

    Not installed: ``None``, silently (nothing is imported). Installed but broken
    (any exception on import): ``None`` and one :class:`~pbgml.PluginWarning` per
    package and process; a package that fails with the very error another one already
    warned of (torchmetrics importing a broken torchvision) adds no second warning.

    Examples
    --------
    >>> from pbgml._optional import probe
    >>> probe("no_such_package_xyz", extra="demo") is None
    True
    >>> probe("json", extra="demo").__name__
    'json'
    """
    top = module.partition(".")[0]
    try:
        if importlib.util.find_spec(top) is None:
            return None
        return importlib.import_module(module)
    except Exception as err:
        cause = f"{type(err).__name__}: {err}"
        if top not in _warned and cause not in _warned:
            _warned.update((top, cause))
            import torch

            message = BROKEN.format(
                package=top,
                error=f"{type(err).__name__}: {err}",
                module=module,
                torch=torch.__version__,
                extra=extra,
            )
            warnings.warn(PluginWarning(message), stacklevel=2)
        return None


_T = TypeVar("_T")


def needs(module: str, *, extra: str) -> Callable[[_T], _T]:
    """Declare that a component needs an optional package, so :func:`pbgml.check` can
    report it (with the ``pip install pbgml[extra]`` hint) before anything is built.

    Examples
    --------
    >>> from pbgml._optional import needs
    >>> @needs("sklearn", extra="sklearn")
    ... def my_data(): ...
    >>> my_data.__pbgml_needs__
    (('sklearn', 'sklearn'),)
    """

    def mark(obj: _T) -> _T:
        before = tuple(getattr(obj, "__pbgml_needs__", ()))
        obj.__pbgml_needs__ = (*before, (module, extra))  # type: ignore[attr-defined]
        return obj

    return mark


def installed(module: str) -> bool:
    """Whether a top-level package is on the path (asks the file system only; imports
    nothing and runs no other finder).

    Examples
    --------
    >>> from pbgml._optional import installed
    >>> installed("json"), installed("no_such_package_xyz")
    (True, False)
    """
    from importlib.machinery import PathFinder

    top = module.partition(".")[0]
    if top in sys.modules:
        return True
    try:
        return PathFinder.find_spec(top) is not None
    except Exception:
        return False
