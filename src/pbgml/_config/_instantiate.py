"""Build objects from a checked config: registered or allowed targets only."""

from __future__ import annotations

import collections.abc as cabc
import functools
import sys
import types
import typing
from typing import Any

from pbgml._config._check import RESERVED, Checked, checked_or_raise, signature_of
from pbgml._config._hooks import finalizer, meta_defaults
from pbgml._config._targets import GET_OBJ
from pbgml._config._tree import MISSING_VALUE

__all__ = ["build_checked", "instantiate"]


def _note(err: BaseException, message: str) -> None:
    if sys.version_info >= (3, 11):
        err.add_note(message)
    else:  # pragma: no cover - Python 3.10 keeps notes without printing them
        notes = getattr(err, "__notes__", None)
        if notes is None:
            notes = []
            err.__notes__ = notes  # type: ignore[attr-defined]
        notes.append(message)


def _is_tuple(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is tuple or annotation is tuple:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_is_tuple(a) for a in typing.get_args(annotation))
    return False


class _Builder:
    def __init__(self, checked: Checked) -> None:
        self.resolved = checked.resolved

    def build(self, value: Any, key: str) -> Any:
        if isinstance(value, dict):
            if "_target_" in value:
                return self.node(value, key)
            return {k: self.build(v, f"{key}.{k}" if key else str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.build(v, f"{key}.{i}" if key else str(i)) for i, v in enumerate(value)]
        return value

    def node(self, node: dict[str, Any], key: str) -> Any:
        resolved = self.resolved[id(node)]
        if node["_target_"] == GET_OBJ:
            return resolved.obj
        registry = resolved.registry
        meta = registry.meta if registry is not None else ()
        recursive = node.get("_recursive_", True) is not False
        sig = signature_of(resolved.obj)
        hints = sig.hints if sig is not None else {}
        partial = node.get("_partial_", False) is True

        def child(name: str, v: Any) -> Any:
            built = self.build(v, f"{key}.{name}" if key else name) if recursive else v
            if isinstance(built, list) and _is_tuple(hints.get(name)):
                return tuple(built)
            return built

        kwargs: dict[str, Any] = {}
        meta_values: dict[str, Any] = dict(meta_defaults(resolved.obj, meta)) if meta else {}
        for name, v in node.items():
            if name in RESERVED:
                continue
            if partial and v == MISSING_VALUE:
                continue  # supplied when the partial is called
            if name in meta:
                meta_values[name] = child(name, v)
            else:
                kwargs[name] = child(name, v)
        args_key = f"{key}._args_" if key else "_args_"
        args = [self.build(a, f"{args_key}.{i}") for i, a in enumerate(node.get("_args_", []))]
        target = resolved.obj
        where = key or "<root>"
        if partial:
            obj: Any = functools.partial(target, *args, **kwargs)
        else:
            try:
                obj = target(*args, **kwargs)
            except Exception as err:
                param = getattr(err, "param", None)  # components may say which argument
                at = f"; the argument is set at {key}.{param}" if isinstance(param, str) else ""
                _note(err, f"pbgml: raised while building {where!r} ({node['_target_']}){at}")
                raise
        if registry is not None and registry.finalize:
            try:
                obj = finalizer(registry.finalize)(obj, **meta_values)
            except Exception as err:
                _note(err, f"pbgml: raised while setting up {where!r} ({node['_target_']})")
                raise
        return obj


def instantiate(
    cfg: Any,
    *,
    allow: cabc.Iterable[str] = (),
    key: str = "",
    resolvers: cabc.Iterable[str] = (),
) -> Any:
    """Check a config, then build it: recursively, partials included.

    Deny by default: a ``_target_`` is built only if it resolves to a registered
    entry, or to an object under a dotted prefix listed in ``allow`` (given here in
    code; an allowlist inside the config is rejected, and so is ``"*"``). The check
    runs before any target's module is imported or anything is called.

    Lists stay lists, dicts stay dicts, and a list becomes a tuple where the
    target's signature asks for one: no OmegaConf container reaches a built object.
    An exception raised by a component's constructor propagates with its own type
    and message, plus a note naming the config key of the node that failed.

    Parameters
    ----------
    cfg
        A config dataclass (class or instance), a ``DictConfig``, a ``dict`` or the
        path of a YAML file.
    allow
        Dotted prefixes of extra allowed targets, e.g. ``["my_project.models"]``.
    key
        The key path of ``cfg`` in a larger tree, for messages and registry names.
    resolvers
        Interpolation resolvers allowed besides the safe ones (``["oc.env"]``).

    Returns
    -------
    object
        The built object; a ``dict`` of built objects for a tree with no root target.

    Raises
    ------
    pbgml.ConfigError
        When the config has problems (all are listed), or a target is not allowed.

    Examples
    --------
    >>> import pbgml
    >>> pbgml.instantiate({"_target_": "linear", "in_features": 2, "out_features": 1})
    Linear(in_features=2, out_features=1, bias=True)
    >>> try:
    ...     pbgml.instantiate({"_target_": "os.system", "command": "echo hi"})
    ... except pbgml.ConfigError as err:
    ...     print(str(err).splitlines()[1][:61])
      _target_: 'os.system' (that is posix.system) is not allowed
    """
    checked = checked_or_raise(cfg, allow, key, complete=False, resolvers=resolvers)
    return build_checked(checked, key)


def build_checked(checked: Checked, key: str = "") -> Any:
    """Build a tree that :func:`checked_or_raise` has already checked."""
    return _Builder(checked).build(checked.tree.root, key)
