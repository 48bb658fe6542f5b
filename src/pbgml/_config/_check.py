"""Validate a whole config tree against its targets' signatures, constructing nothing."""

from __future__ import annotations

import collections.abc as cabc
import enum
import inspect
import os
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from pbgml._config._targets import GET_OBJ, Allow, Resolved, TargetError, resolve_target
from pbgml._config._tree import MISSING_VALUE, Tree, read_tree
from pbgml._errors import ArgumentError, ConfigError, ConfigIssue, closest
from pbgml._groups import by_key

__all__ = ["GROUP_KEYS", "RESERVED", "Checked", "check", "check_tree", "signature_of"]

#: Hydra's reserved keys in a node with a ``_target_``.
RESERVED = frozenset({"_target_", "_partial_", "_args_", "_recursive_", "_convert_"})
#: Which registry a registry name (``_target_: adamw``) is looked up in, by top-level key
#: (from the table of groups, :mod:`pbgml._groups`).
GROUP_KEYS = {key: spec.name for key, spec in by_key().items()}
_COLLECTION_GROUPS = {key for key, spec in by_key().items() if spec.collection}
#: How deep a config may nest (far beyond any real one; keeps recursion bounded).
MAX_DEPTH = 100
_IN_CONFIG_ALLOW = (
    "an allowlist cannot be written inside a config (a config must not widen what it may "
    "run); pass it in code: pbgml.instantiate(cfg, allow=['my_project.models'])"
)


@dataclass
class Signature:
    """What the checker needs of a target's signature (cached per target)."""

    params: dict[str, inspect.Parameter]
    hints: dict[str, Any]
    var_keyword: bool
    var_positional: bool


_signatures: dict[int, tuple[Any, Signature | None]] = {}


def _typed_hints(obj: Any) -> dict[str, Any]:
    from pbgml._names import public_path
    from pbgml.configs._index import typed_config_for

    try:
        conf = typed_config_for(public_path(obj))
    except TypeError:
        return {}
    if conf is None:
        return {}
    try:
        hints = typing.get_type_hints(conf)
    except Exception:
        return {}
    # a field the config system cannot type (a union) is Any there: keep the target's own
    return {name: hint for name, hint in hints.items() if hint is not Any}


def signature_of(obj: Any) -> Signature | None:
    """The parameters and resolved annotations of a target, or ``None`` if unknown."""
    cached = _signatures.get(id(obj))
    if cached is not None and cached[0] is obj:
        return cached[1]
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        result = None
    else:
        func: Any = getattr(obj, "__init__", obj) if isinstance(obj, type) else obj
        try:
            hints = typing.get_type_hints(func)
        except Exception:
            hints = {
                name: p.annotation
                for name, p in sig.parameters.items()
                if p.annotation is not inspect.Parameter.empty and not isinstance(p.annotation, str)
            }
        hints.update(_typed_hints(obj))  # a typed config's field types read better
        kinds = [p.kind for p in sig.parameters.values()]
        result = Signature(
            params=dict(sig.parameters),
            hints=hints,
            var_keyword=inspect.Parameter.VAR_KEYWORD in kinds,
            var_positional=inspect.Parameter.VAR_POSITIONAL in kinds,
        )
    _signatures[id(obj)] = (obj, result)
    return result


# -- type conformance ---------------------------------------------------------------


def type_name(annotation: Any) -> str:
    """Spell an annotation for a message: ``float``, ``int or None``, ``list of int``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is type(None):
        return "None"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in args)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (list, cabc.Sequence, cabc.Iterable, cabc.MutableSequence) and args:
        return f"list of {type_name(args[0])}"
    if origin is tuple and args:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"tuple of {type_name(args[0])}"
        return "tuple (" + ", ".join(type_name(a) for a in args) + ")"
    if origin in (dict, cabc.Mapping) and args:
        return f"dict of {type_name(args[0])} to {type_name(args[1])}"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _scalar_class(value: Any, cls: type) -> bool | None:
    if cls is bool:
        return isinstance(value, bool)
    if cls is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if cls is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if cls is str:
        return isinstance(value, str)
    if cls is type(None):
        return value is None
    if cls in (list, tuple, cabc.Sequence, cabc.Iterable):
        return isinstance(value, list)
    if cls in (dict, cabc.Mapping):
        return isinstance(value, dict)
    if issubclass(cls, os.PathLike):
        return isinstance(value, str) or None
    if issubclass(cls, enum.Enum):
        return value in cls.__members__ or value in {m.value for m in cls} or None
    if cls.__module__ == "torch" and cls.__name__ == "Tensor":
        return False if isinstance(value, str | bool | list | dict | int | float) else None
    if cls.__module__ == "torch" and cls.__name__ in ("dtype", "device"):
        return None if cls.__name__ == "device" and isinstance(value, str) else False
    if isinstance(value, str | int | float | bool) and cls not in (object,):
        return isinstance(value, cls) or None
    return None


def conforms(value: Any, annotation: Any) -> bool | None:
    """Whether a plain config value fits an annotation: True, False, or None (can't tell)."""
    if annotation is Any or annotation is inspect.Parameter.empty or annotation is object:
        return None
    if isinstance(value, dict) and ("_target_" in value):
        return None  # a nested component: its own node is checked
    if isinstance(value, str) and "${" in value:
        return None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        results = [conforms(value, a) for a in args]
        if any(r is True for r in results):
            return True
        return False if all(r is False for r in results) else None
    if origin is typing.Literal:
        return value in args
    if origin is typing.Annotated:
        return conforms(value, args[0])
    if origin is tuple:
        if not isinstance(value, list):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return _all(conforms(v, args[0]) for v in value)
        if args and args != ((),):
            if len(value) != len(args):
                return False
            return _all(conforms(v, a) for v, a in zip(value, args, strict=True))
        return True
    if origin in (list, cabc.Sequence, cabc.MutableSequence, cabc.Iterable, cabc.Collection):
        if not isinstance(value, list):
            return False if not isinstance(value, dict) else None
        return _all(conforms(v, args[0]) for v in value) if args else True
    if origin in (dict, cabc.Mapping, cabc.MutableMapping):
        if not isinstance(value, dict):
            return False
        return _all(conforms(v, args[1]) for v in value.values()) if len(args) == 2 else True
    if origin is not None:
        return None
    if isinstance(annotation, type):
        return _scalar_class(value, annotation)
    return None


def _all(results: cabc.Iterable[bool | None]) -> bool | None:
    seen = list(results)
    if any(r is False for r in seen):
        return False
    return True if all(r is True for r in seen) else None


# -- the walk -----------------------------------------------------------------------


@dataclass
class Checked:
    """The outcome of a check: problems, and the targets resolved on the way."""

    tree: Tree
    issues: list[ConfigIssue] = field(default_factory=list)
    #: by ``id()`` of the node in ``tree`` (alive as long as the tree): two nodes may
    #: print the same key path ({"a.b": ...} and {"a": {"b": ...}})
    resolved: dict[int, Resolved] = field(default_factory=dict)


def _join(prefix: str, key: object) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


class _Walker:
    def __init__(self, tree: Tree, allow: Allow) -> None:
        self.tree = tree
        self.allow = allow
        self.out = Checked(tree)

    def problem(self, key: str, message: str, kind: str, suggestion: str | None = None) -> None:
        self.out.issues.append(self.tree.issue(key, message, kind, suggestion))

    def walk(self, value: Any, key: str, group: str | None, depth: int = 0) -> None:
        if depth > MAX_DEPTH:
            self.problem(key, f"nested deeper than {MAX_DEPTH} levels", "syntax")
            return
        if isinstance(value, dict):
            bad = [k for k in value if not isinstance(k, str)]
            for k in bad:
                self.problem(_join(key, k), f"keys must be strings, got {k!r}", "type")
            if bad:
                return
            if "_allow_" in value:
                self.problem(_join(key, "_allow_"), _IN_CONFIG_ALLOW, "not_allowed")
            if "_target_" in value:
                self.node(value, key, group, depth)
                return
            for k, v in value.items():
                child = _join(key, k)
                if key == "":
                    child_group = GROUP_KEYS.get(str(k))
                elif key in _COLLECTION_GROUPS and group is not None:
                    child_group = group
                else:
                    child_group = None
                self.walk(v, child, child_group, depth + 1)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                self.walk(v, _join(key, i), group, depth + 1)
        elif value == MISSING_VALUE:
            self.problem(key, "missing required value", "missing")

    def node(self, node: dict[str, Any], key: str, group: str | None, depth: int) -> None:
        target = node["_target_"]
        if target == GET_OBJ:
            self.reference(node, key)
            return
        try:
            resolved = resolve_target(target, self.allow, group=group)
        except TargetError as err:
            self.problem(_join(key, "_target_"), err.message, err.kind, err.suggestion)
            for k, v in node.items():
                if k != "_target_":
                    self.walk(v, _join(key, k), None, depth + 1)
            return
        self.out.resolved[id(node)] = resolved
        sig = signature_of(resolved.obj)
        registry = resolved.registry
        meta = registry.meta if registry is not None else ()
        partial = node.get("_partial_", False)
        if not isinstance(partial, bool):
            self.problem(
                _join(key, "_partial_"), f"expected true or false, got {partial!r}", "type"
            )
            partial = False
        args = node.get("_args_", [])
        if not isinstance(args, list):
            self.problem(_join(key, "_args_"), f"expected a list, got {args!r}", "type")
            args = []
        for i, arg in enumerate(args):
            self.walk(arg, _join(key, f"_args_.{i}"), None, depth + 1)
        shown = _display(target, resolved)
        if sig is None:
            for k, v in node.items():
                if k not in RESERVED:
                    self.walk(v, _join(key, k), None, depth + 1)
            return
        named = [
            p.name
            for p in sig.params.values()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        ]
        for k, v in node.items():
            if k in RESERVED:
                continue
            child = _join(key, k)
            if k in meta:
                self.walk(v, child, None, depth + 1)
                continue
            param = sig.params.get(k)
            if param is None or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                if not sig.var_keyword:
                    hits = closest(k, [*named, *meta])
                    hint = f"; did you mean {hits[0]!r}?" if hits else ""
                    choices = ", ".join(sorted([*named, *meta])) or "none"
                    message = (
                        f"unknown key for {shown}{hint}"
                        if hits
                        else f"unknown key for {shown}; its parameters are: {choices}"
                    )
                    self.problem(child, message, "unknown_key", hits[0] if hits else None)
                    continue
            elif param.kind is param.POSITIONAL_ONLY:
                self.problem(child, f"{k!r} is positional-only in {shown}; use _args_", "type")
                continue
            if v == MISSING_VALUE:
                if not (partial and self._later(k, registry)):
                    self.problem(child, f"missing required value for {shown}", "missing")
                continue
            annotation = sig.hints.get(k, inspect.Parameter.empty)
            if v is None and param is not None and param.default is None:
                continue  # an implicit Optional: torch annotates many None defaults as int
            if v is None and _sized_by_the_run(resolved.obj, k, registry):
                continue
            if conforms(v, annotation) is False:
                self.problem(child, f"expected {type_name(annotation)}, got {v!r}", "type")
                continue
            self.walk(v, child, None, depth + 1)
        if registry is not None and registry.finalize:
            self.meta_values(node, key, resolved, registry)
        positional = len(args)
        for i, p in enumerate(sig.params.values()):
            if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                continue
            if p.default is not p.empty or p.name in node:
                continue
            if _sized_by_the_run(resolved.obj, p.name, registry):
                continue  # left out: the trainer sizes it from the run
            if p.kind is p.POSITIONAL_OR_KEYWORD and i < positional:
                continue
            child = _join(key, p.name)
            if partial:
                if not self._later(p.name, registry):
                    later = ", ".join(repr(x) for x in registry.exclude) if registry else ""
                    self.problem(
                        child,
                        f"required by {shown} and not supplied later (when the {registry.group}"
                        f" is built only {later} is passed in); set it in the config"
                        if registry is not None
                        else f"required by {shown}",
                        "partial",
                    )
            else:
                self.problem(child, f"missing required value for {shown}", "missing")

    def meta_values(
        self, node: dict[str, Any], key: str, resolved: Resolved, registry: Any
    ) -> None:
        """Dry-run the group's finalize hook on the target class and the meta values.

        The hook only validates and wraps (it never calls the target), so a typo in
        ``interval`` or ``param_groups``, or a ReduceLROnPlateau without ``monitor``,
        is reported by ``check`` with everything else.
        """
        from pbgml._config._hooks import finalizer

        meta = {k: node[k] for k in registry.meta if k in node}
        if any(isinstance(v, str) and "${" in v for v in meta.values()):
            return
        try:
            finalizer(registry.finalize)(resolved.obj, **meta)
        except ArgumentError as err:  # the component names the argument; we add the key
            self.problem(_join(key, err.param) if err.param else key, err.reason, "type")
        except (ValueError, TypeError) as err:
            self.problem(key, str(err), "type")

    @staticmethod
    def _later(name: str, registry: Any) -> bool:
        """Whether a partial's missing argument is supplied when it is called."""
        if registry is None or not registry.partial:
            return True  # a partial outside pbgml's groups: its caller supplies the rest
        return name in registry.exclude

    def reference(self, node: dict[str, Any], key: str) -> None:
        path = node.get("path")
        try:
            self.out.resolved[id(node)] = resolve_target(path, self.allow, reference=True)
        except TargetError as err:
            self.problem(_join(key, "path"), err.message, err.kind, err.suggestion)


def _sized_by_the_run(obj: Any, name: str, registry: Any) -> bool:
    """Whether ``name`` is a scheduler's length that ``None`` asks the trainer to size."""
    if registry is None or registry.group != "scheduler":
        return False
    from pbgml.optim._factories import LENGTH_ARGUMENTS

    return any(
        isinstance(obj, type) and issubclass(obj, cls) and arg == name
        for cls, arg in LENGTH_ARGUMENTS.items()
    )


def _display(target: str, resolved: Resolved) -> str:
    if "." in target:
        return target
    from pbgml._names import public_path

    try:
        return public_path(resolved.obj)
    except TypeError:
        return target


def check_tree(tree: Tree, allow: Allow, prefix: str = "") -> Checked:
    """Walk a plain tree; collect every problem and the targets resolved."""
    walker = _Walker(tree, allow)
    walker.walk(tree.root, prefix, GROUP_KEYS.get(prefix))
    return walker.out


def check(cfg: Any, *, allow: cabc.Iterable[str] = (), key: str = "") -> None:
    """Validate a whole config without constructing anything; raise every problem at once.

    The config may be a config dataclass (class or instance), a ``DictConfig``, a
    plain ``dict``, or the path of a YAML file. Every node with a ``_target_`` is
    checked against the target's signature and annotations: unknown keys (with a
    did-you-mean), missing required values, values of the wrong type, unknown
    registry names, targets that are not allowed, and partials whose missing
    arguments the pipeline will not supply. No constructor is called, and no
    module that is not allowed is imported.

    Parameters
    ----------
    cfg
        The config to check.
    allow
        Dotted prefixes of targets allowed besides the registered entries.
    key
        The key path of ``cfg`` in a larger tree (``"optimizer"``): it prefixes every
        reported key, and says which registry a bare name is looked up in.

    Raises
    ------
    pbgml.ConfigError
        Listing every problem, each with its full key path (and, for a YAML file,
        the file and line).

    Examples
    --------
    >>> import pbgml
    >>> from pbgml.configs import AdamWConf
    >>> pbgml.check(AdamWConf(lr=3e-3))  # fine: returns None
    >>> bad = {"_target_": "torch.optim.AdamW", "_partial_": True, "lr": "fast", "lrr": 1}
    >>> try:
    ...     pbgml.check(bad, key="optimizer")
    ... except pbgml.ConfigError as err:
    ...     print(err)
    2 problems in the config
      optimizer.lr: expected float, got 'fast'
      optimizer.lrr: unknown key for torch.optim.AdamW; did you mean 'lr'?
    """
    checked_or_raise(cfg, allow, key)


def checked_or_raise(cfg: Any, allow: cabc.Iterable[str], key: str) -> Checked:
    """Read and check ``cfg``; raise a :class:`~pbgml.ConfigError` listing every problem."""
    tree = read_tree(cfg)
    checked = check_tree(tree, Allow(allow), key)
    if checked.issues:
        raise ConfigError(checked.issues, source=tree.source)
    return checked
