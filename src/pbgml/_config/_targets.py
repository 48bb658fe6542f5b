"""Safe resolution of ``_target_`` paths: deny by default.

A ``_target_`` is accepted only when what it *resolves to* is a registered entry, or
when its canonical path falls under a prefix the caller allowed in code. The path is
resolved through modules that are already imported; a module is imported only when
it is allowed (under an ``allow`` prefix, or a group's home modules from the table
of groups), so a config can never make pbgml import, let alone call, something the
user did not allow. Only the registries that may hold the target are loaded: the
key's group, those already in use, and those whose home modules hold it.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import sys
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pbgml._registry import Entry, Registry

__all__ = ["Allow", "Resolved", "TargetError", "resolve_target"]

_PATH_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
#: hydra-zen writes a reference to a function (a default such as ``F.relu``) as a node
#: with this target and a ``path``; pbgml resolves the path itself, never calling it.
GET_OBJ = "hydra_zen.funcs.get_obj"
#: Pure tensor functions that generated configs may reference (``activation=F.relu``).
REFERENCE_ALLOW = ("torch.nn.functional",)
#: Suggestions for a path are stricter than for a key: a wrong path is rarely a typo.
TARGET_CUTOFF = 0.75

_BAD_ALLOW = (
    "allow={value!r} is not a dotted prefix: give module or object paths such as "
    "'myproject.models' (a bare '*' would allow anything, including os.system)."
)


class TargetError(Exception):
    """Why a target was refused; carries the kind and a suggestion for the report."""

    def __init__(self, message: str, kind: str, suggestion: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.suggestion = suggestion


@dataclass(frozen=True)
class Resolved:
    """A target that passed the check: the object, and its registry entry if any."""

    obj: Any
    entry: Entry[Any] | None
    registry: Registry[Any] | None


class Allow:
    """A validated allowlist of dotted prefixes, given in code."""

    def __init__(self, prefixes: Iterable[str] = ()) -> None:
        if isinstance(prefixes, str):
            prefixes = (prefixes,)
        cleaned: list[str] = []
        for prefix in prefixes:
            if not isinstance(prefix, str):
                raise ValueError(_BAD_ALLOW.format(value=prefix))
            stripped = prefix.strip().rstrip(".")
            if not _PATH_RE.match(stripped):
                raise ValueError(_BAD_ALLOW.format(value=prefix))
            cleaned.append(stripped)
        self.prefixes: tuple[str, ...] = tuple(cleaned)

    def covers(self, path: str, extra: Sequence[str] = ()) -> bool:
        """Whether ``path`` is one of the prefixes or lies below one."""
        return any(path == p or path.startswith(p + ".") for p in (*self.prefixes, *extra))


def _registries() -> dict[str, Registry[Any]]:
    from pbgml import registry

    return registry.groups()


def _under(module: str, prefixes: Iterable[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _homes() -> tuple[str, ...]:
    """Every group's home module prefixes (from the table: nothing is loaded)."""
    return tuple(home for reg in _registries().values() for home in reg.homes)


def _candidates(obj: Any, group: str | None) -> list[Registry[Any]]:
    """The registries that may hold ``obj``, cheapest first, loading no other group.

    The key's own group; then the registries already in use (the user's own
    registrations live there); then the groups whose home modules hold ``obj``.
    """
    groups = _registries()
    module = getattr(obj, "__module__", None) or ""
    out: list[Registry[Any]] = []
    if group in groups:
        out.append(groups[group])
    out += [reg for reg in groups.values() if reg.loaded and reg not in out]
    out += [reg for reg in groups.values() if reg not in out and _under(module, reg.homes)]
    return out


def _find(obj: Any, group: str | None) -> tuple[Entry[Any], Registry[Any]] | None:
    candidates = _candidates(obj, group)
    for reg in candidates:
        entry = reg.find(obj)
        if entry is not None:
            return entry, reg
    # a reloaded module holds new objects at the registered paths (importlib.reload,
    # autodoc): the same path as a registered entry is that entry
    canonical = _canonical(obj)
    if canonical is None:
        return None
    for reg in candidates:
        for item in reg._state.entries.values():
            if isinstance(item, Entry) and _canonical(item.target) == canonical:
                return item, reg
    return None


def _pending(path: str, group: str | None) -> tuple[Registry[Any], str] | None:
    """A plugin entry not imported yet, by its dotted origin (plugins' metadata only)."""
    from pbgml import _plugins

    groups = _registries()
    order = [group] if group in groups else []
    order += [g for g in groups if g not in order]
    for name in order:
        for entry_name, spec, _dist in _plugins.lazy_entries(name):
            if spec.replace(":", ".").strip() == path:
                return groups[name], entry_name
    return None


class _NotAllowedError(Exception):
    """A module on the path would have to be imported, and it is not allowed."""


def _walk(path: str, may_import: Any) -> Any:
    """Resolve ``path`` through imported modules; import only where ``may_import`` says."""
    parts = path.split(".")
    obj: Any = None
    start = 0
    for cut in range(len(parts), 0, -1):  # longest imported module prefix
        module = sys.modules.get(".".join(parts[:cut]))
        if module is not None:
            obj, start = module, cut
            break
    if obj is None:
        if not may_import(parts[0]):
            raise _NotAllowedError(parts[0])
        obj, start = importlib.import_module(parts[0]), 1
    for i in range(start, len(parts)):
        name = parts[i]
        found, value = _static_attr(obj, name)
        if found:
            obj = value
            continue
        # only a package has submodules to import; read __path__ without hooks (a module
        # object's __getattr__, such as torch.classes', may run code or raise)
        if not isinstance(obj, types.ModuleType) or "__path__" not in vars(obj):
            raise AttributeError(name)
        # the submodule of the module actually reached (an alias may have led elsewhere)
        module_name = f"{obj.__name__}.{name}"
        if not may_import(module_name):
            raise _NotAllowedError(module_name)
        obj = importlib.import_module(module_name)
    return obj


def _static_attr(obj: Any, name: str) -> tuple[bool, Any]:
    """Look an attribute up without running code: no module ``__getattr__`` hook (which
    may import submodules), no property; a classmethod or staticmethod is bound."""
    if isinstance(obj, types.ModuleType):
        namespace = vars(obj)
        return (True, namespace[name]) if name in namespace else (False, None)
    try:
        value = inspect.getattr_static(obj, name)
    except AttributeError:
        return False, None
    if isinstance(value, classmethod | staticmethod):
        return True, getattr(obj, name)
    return True, value


def _canonical(obj: Any) -> str | None:
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if isinstance(obj, type(sys)):
        return obj.__name__
    if isinstance(module, str) and isinstance(qualname, str):
        return f"{module}.{qualname}"
    return None


def _suggest(path: str, group: str | None) -> str | None:
    """The registered name closest to the path's last part, if it is close enough."""
    from pbgml._errors import closest

    groups = _registries()
    regs = [groups[group]] if group in groups else list(groups.values())
    last = path.rsplit(".", 1)[-1]
    canonical: dict[str, str] = {}
    for reg in regs:
        for name in reg.names():
            canonical.setdefault(name, name)
        for alias, name in reg._state.aliases.items():
            canonical.setdefault(alias, name)
    hits = closest(last, canonical, cutoff=TARGET_CUTOFF)
    return canonical[hits[0]] if hits else None


def _hint(suggestion: str | None) -> str:
    return f" Did you mean {suggestion!r}?" if suggestion else ""


def _exists(module: str) -> bool:
    """Whether a module can be found, without importing it or running any of its code.

    Only the path finder is asked (the file system), never the other finders on
    ``sys.meta_path``: those are import machinery of their own (setuptools' finder
    for ``distutils`` imports setuptools). A submodule is looked up only under a
    package that is already imported.
    """
    from importlib.machinery import PathFinder

    parent, _, last = module.rpartition(".")
    if parent:
        package = sys.modules.get(parent)
        search = vars(package).get("__path__") if package is not None else None
        if search is None:
            return False
    else:
        last, search = module, None
    try:
        return PathFinder.find_spec(last, search) is not None
    except Exception:  # an odd path entry: treat as not found
        return False


def resolve_target(
    path: Any, allow: Allow, *, group: str | None = None, reference: bool = False
) -> Resolved:
    """Resolve a ``_target_`` safely, or raise :class:`TargetError` saying why not.

    ``path`` may be a dotted path or a registry name (``adamw``); a name is looked up
    in ``group``'s registry when the key says which group it is, else in every registry.
    """
    if not isinstance(path, str):
        raise TargetError(f"_target_ must be a string, got {path!r}", "type")
    groups = _registries()
    if "." not in path:  # a registry name
        candidates = [groups[group]] if group in groups else list(groups.values())
        for reg in candidates:
            if path in reg:
                entry = reg.entry(path)
                return Resolved(entry.target, entry, reg)
        suggestion = _suggest(path, group)
        what = f"unknown {group}" if group in groups else "unknown component"
        raise TargetError(f"{what} {path!r}.{_hint(suggestion)}", "unknown_name", suggestion)
    if not _PATH_RE.match(path):
        raise TargetError(f"{path!r} is not a dotted import path", "syntax")
    pending = _pending(path, group)
    if pending is not None:  # a plugin entry, imported through its registry
        reg, name = pending
        entry = reg.entry(name)
        return Resolved(entry.target, entry, reg)
    homes = _homes()
    extra = REFERENCE_ALLOW if reference else ()

    def may_import(module: str) -> bool:
        return allow.covers(module, extra) or _under(module, homes)

    try:
        obj = _walk(path, may_import)
    except _NotAllowedError as err:
        module = str(err.args[0])
        suggestion = _suggest(path, group)
        if not _exists(module):
            raise TargetError(
                f"{path!r} does not exist.{_hint(suggestion)}", "not_found", suggestion
            ) from None
        raise TargetError(
            f"{path!r} is not allowed: it is not a registered component, and its module "
            f"{module!r} is not allowed, so it was not even imported. Register it "
            f"(@pbgml.registry.<group>.register) or allow it in code: "
            f"instantiate(cfg, allow=[{path.rsplit('.', 1)[0]!r}]).{_hint(suggestion)}",
            "not_allowed",
            suggestion,
        ) from None
    except AttributeError:
        suggestion = _suggest(path, group)
        raise TargetError(
            f"{path!r} does not exist.{_hint(suggestion)}", "not_found", suggestion
        ) from None
    except Exception as err:  # an allowed module failed to import: say why, as it said
        if isinstance(err, ModuleNotFoundError) and err.name and path.startswith(err.name):
            suggestion = _suggest(path, group)
            raise TargetError(
                f"{path!r} does not exist.{_hint(suggestion)}", "not_found", suggestion
            ) from None
        text = " ".join(str(err).split())
        text = text if len(text) <= 300 else text[:297] + "..."
        raise TargetError(
            f"{path!r} could not be imported: {type(err).__name__}: {text}", "import_error"
        ) from None
    found = _find(obj, group)
    if found is not None:
        return Resolved(obj, found[0], found[1])
    canonical = _canonical(obj)
    if canonical is not None and allow.covers(canonical, extra):
        return Resolved(obj, None, None)
    shown = f"{path!r}" if canonical in (None, path) else f"{path!r} (that is {canonical})"
    suggestion = _suggest(path, group)
    raise TargetError(
        f"{shown} is not allowed: it is not a registered component and not under an "
        f"allowed prefix. Register it or allow it in code: "
        f"instantiate(cfg, allow=[...]).{_hint(suggestion)}",
        "not_allowed",
        suggestion,
    )
