"""Validate a whole config tree against its targets' signatures, constructing nothing."""

from __future__ import annotations

import collections.abc as cabc
import enum
import functools
import inspect
import os
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from pbgml._config._targets import GET_OBJ, Allow, Resolved, TargetError, resolve_target
from pbgml._config._tree import MISSING_VALUE, Tree, read_tree
from pbgml._errors import ArgumentError, ConfigError, ConfigIssue, closest, did_you_mean
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
#: Where an argument supplied later is set instead, when the experiment has a field for it.
_TOP_LEVEL_INSTEAD = {
    k: f" (set the experiment's top-level {k!r})"
    for k in ("model", "loss", "optimizer", "scheduler", "metrics", "callbacks", "logger")
}
_NEEDS_GROUP = (
    "missing required value: an experiment needs a {key} config (a mapping with a _target_)"
)
_NOT_A_NODE = "expected a {group} config (a mapping with a _target_), got {value}."
_NOT_A_COLLECTION = (
    "expected a mapping of names to configs ({key}: {{name: {{_target_: ...}}}}), got {value}"
)
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


#: Hydra's ``_convert_`` values.
CONVERT_MODES = ("none", "partial", "object", "all")
#: How long a value or a list of choices may grow in a message.
MAX_SHOWN = 80


def _short_text(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def _short(value: Any) -> str:
    """A value as a message shows it: its repr, cut short (no message grows with input)."""
    return _short_text(repr(value))


def _looks_reserved(key: str) -> bool:
    return key.startswith("_") or key.endswith("_")


@dataclass
class _At:
    """The node being checked, and what the passes learned of it."""

    node: dict[str, Any]
    key: str
    depth: int
    resolved: Resolved
    sig: Signature | None
    shown: str
    partial: bool = False
    positional: int = 0

    @property
    def registry(self) -> Any:
        return self.resolved.registry

    @property
    def meta(self) -> Any:
        return self.registry.meta if self.registry is not None else ()


def _join(prefix: str, key: object) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


class _Walker:
    def __init__(self, tree: Tree, allow: Allow) -> None:
        self.tree = tree
        self.allow = allow
        self.out = Checked(tree)

    def problem(self, key: str, message: str, kind: str, suggestion: str | None = None) -> None:
        self.out.issues.append(self.tree.issue(key, message, kind, suggestion))

    def experiment(self, root: dict[str, Any], *, complete: bool = True) -> None:
        """An experiment: its fields (no unknown key), each of the right kind and type."""
        normalize_experiment(root)
        schema = _experiment_schema()
        groups = by_key()
        for k, v in root.items():
            if not isinstance(k, str):
                self.problem(str(k), f"keys must be strings, got {_short(k)}", "type")
                continue
            if k not in schema:
                if k in _EXPERIMENT_EXTRA:
                    continue
                hits = closest(k, schema)
                hint = f"; did you mean {hits[0]!r}?" if hits else ""
                self.problem(
                    k,
                    f"unknown experiment key{hint} An experiment's keys are: {', '.join(schema)}",
                    "unknown_key",
                    hits[0] if hits else None,
                )
                continue
            spec = groups.get(k)
            if spec is None:  # a setting of the run: seed, name, resume, ...
                if v == MISSING_VALUE:
                    self.problem(k, "missing required value", "missing")
                elif conforms(v, schema[k]) is False:
                    self.problem(k, f"expected {type_name(schema[k])}, got {_short(v)}", "type")
                continue
            if v is None or v == MISSING_VALUE:
                if spec.required or v == MISSING_VALUE:
                    self.problem(k, _NEEDS_GROUP.format(key=k, group=spec.name), "missing")
                continue
            if spec.collection:
                if not isinstance(v, dict):
                    self.problem(k, _NOT_A_COLLECTION.format(key=k, value=_short(v)), "type")
                    continue
                for name, entry in v.items():
                    if entry is not None and not (isinstance(entry, dict) and "_target_" in entry):
                        self.problem(
                            _join(k, name),
                            f"expected a {spec.name} config (a mapping with a _target_), got "
                            f"{_short(entry)}",
                            "type",
                        )
            elif not isinstance(v, dict):
                self.problem(
                    k,
                    _NOT_A_NODE.format(key=k, group=spec.name, value=_short(v))
                    + (f" Write {k}: {{_target_: {v}}}." if isinstance(v, str) else ""),
                    "type",
                )
                continue
            self.walk(v, k, spec.name, 1)
        for k, spec in groups.items():
            if complete and spec.required and k not in root:
                self.problem(k, _NEEDS_GROUP.format(key=k, group=spec.name), "missing")

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
            for k in value:
                if _looks_reserved(k) and k not in RESERVED and k != "_allow_":
                    hits = closest(k, sorted(RESERVED))
                    if hits:
                        self.problem(
                            _join(key, k),
                            f"unknown reserved key; did you mean {hits[0]!r}?",
                            "unknown_key",
                            hits[0],
                        )
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
        """A node with a ``_target_``: one small pass per rule, in order."""
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
        self.extras(resolved.obj, key, _display(target, resolved))
        at = _At(node, key, depth, resolved, signature_of(resolved.obj), _display(target, resolved))
        at.partial = self.reserved_keys(at)
        self.positional_args(at)
        if at.sig is None:  # a builtin without a signature: check what is inside only
            for k, v in node.items():
                if k not in RESERVED:
                    self.walk(v, _join(key, k), None, depth + 1)
            return
        for k, v in node.items():
            if k not in RESERVED:
                self.argument(at, k, v)
        if at.registry is not None and at.registry.finalize:
            self.meta_values(node, key, resolved, at.registry)
        self.required(at)

    def extras(self, obj: Any, key: str, shown: str) -> None:
        """An optional package the component declared it needs, and that is missing."""
        from pbgml._optional import installed

        for module, extra in getattr(obj, "__pbgml_needs__", ()):
            if not installed(module):
                package = {"sklearn": "scikit-learn", "PIL": "Pillow"}.get(module, module)
                self.problem(
                    key,
                    f"{shown} needs {package}, which is not installed: pip install pbgml[{extra}]",
                    "missing_extra",
                )

    def reserved_keys(self, at: _At) -> bool:
        """``_partial_``, ``_recursive_``, ``_convert_``: their values; return ``_partial_``."""
        node, key = at.node, at.key
        partial = node.get("_partial_", False)
        if not isinstance(partial, bool):
            self.problem(
                _join(key, "_partial_"), f"expected true or false, got {_short(partial)}", "type"
            )
            partial = False
        recursive = node.get("_recursive_", True)
        if not isinstance(recursive, bool):
            self.problem(
                _join(key, "_recursive_"),
                f"expected true or false, got {_short(recursive)}",
                "type",
            )
        convert = node.get("_convert_")
        if convert is not None and (not isinstance(convert, str) or convert not in CONVERT_MODES):
            hint = did_you_mean(convert, CONVERT_MODES) if isinstance(convert, str) else ""
            self.problem(
                _join(key, "_convert_"),
                f"expected one of {', '.join(CONVERT_MODES)}, got {_short(convert)}.{hint}",
                "type",
            )
        return partial

    def positional_args(self, at: _At) -> None:
        args = at.node.get("_args_", [])
        if not isinstance(args, list):
            self.problem(_join(at.key, "_args_"), f"expected a list, got {_short(args)}", "type")
            args = []
        at.positional = len(args)
        for i, arg in enumerate(args):
            self.walk(arg, _join(at.key, f"_args_.{i}"), None, at.depth + 1)

    def argument(self, at: _At, k: str, v: Any) -> None:
        """One key of a node: known, a meta key, a value of the right type."""
        assert at.sig is not None
        child = _join(at.key, k)
        if k in at.meta:
            self.walk(v, child, None, at.depth + 1)
            return
        registry = at.registry
        if at.partial and registry is not None and registry.partial and k in registry.exclude:
            where = _TOP_LEVEL_INSTEAD.get(k, "")
            self.problem(
                child,
                f"{k!r} is passed in when the {registry.group} is built: remove it from "
                f"here{where}",
                "unknown_key",
            )
            return
        param = at.sig.params.get(k)
        if param is None or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            if not at.sig.var_keyword or _looks_reserved(k):
                self.unknown_key(at, k, child)
                return
        elif param.kind is param.POSITIONAL_ONLY:
            self.problem(child, f"{k!r} is positional-only in {at.shown}; use _args_", "type")
            return
        if v == MISSING_VALUE:
            if not (at.partial and self._later(k, at.registry)):
                self.problem(child, f"missing required value for {at.shown}", "missing")
            return
        annotation = at.sig.hints.get(k, inspect.Parameter.empty)
        if v is None and param is not None and param.default is None:
            return  # an implicit Optional: torch annotates many None defaults as int
        if v is None and _sized_by_the_run(at.resolved.obj, k, at.registry):
            return
        if conforms(v, annotation) is False:
            self.problem(child, f"expected {type_name(annotation)}, got {_short(v)}", "type")
            return
        rule = _rules(at.resolved.obj, at.registry).get(k)
        if rule is not None and _literal(v):
            try:
                rule(v)
            except ArgumentError as err:
                self.problem(child, err.reason, "value")
                return
        self.walk(v, child, None, at.depth + 1)

    def unknown_key(self, at: _At, k: str, child: str) -> None:
        assert at.sig is not None
        named = [
            p.name
            for p in at.sig.params.values()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        ]
        pool = sorted(RESERVED) if _looks_reserved(k) else [*named, *at.meta]
        hits = closest(k, pool)
        if hits:
            message = f"unknown key for {at.shown}; did you mean {hits[0]!r}?"
        else:
            choices = ", ".join(sorted([*named, *at.meta])) or "none"
            message = f"unknown key for {at.shown}; its parameters are: {choices}"
        self.problem(child, message, "unknown_key", hits[0] if hits else None)

    def required(self, at: _At) -> None:
        """Every required parameter is set, or supplied later for a partial."""
        assert at.sig is not None
        registry = at.registry
        for i, p in enumerate(at.sig.params.values()):
            if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                continue
            if p.default is not p.empty or p.name in at.node:
                continue
            if _sized_by_the_run(at.resolved.obj, p.name, registry):
                continue  # left out: the trainer sizes it from the run
            if p.kind is p.POSITIONAL_OR_KEYWORD and i < at.positional:
                continue
            child = _join(at.key, p.name)
            if not at.partial:
                message = f"missing required value for {at.shown}"
                if registry is not None and registry.partial and p.name in registry.exclude:
                    message += (
                        f" (a {registry.group} config is partial: {p.name!r} is passed in "
                        "later; set _partial_: true)"
                    )
                self.problem(child, message, "missing")
            elif not self._later(p.name, registry):
                later = ", ".join(repr(x) for x in registry.exclude) if registry else ""
                self.problem(
                    child,
                    f"required by {at.shown} and not supplied later (when the {registry.group}"
                    f" is built only {later} is passed in); set it in the config"
                    if registry is not None
                    else f"required by {at.shown}",
                    "partial",
                )

    def meta_values(
        self, node: dict[str, Any], key: str, resolved: Resolved, registry: Any
    ) -> None:
        """Dry-run the group's finalize hook on the target class and the meta values.

        The hook only validates and wraps (it never calls the target), so a typo in
        ``interval`` or ``param_groups``, or a ReduceLROnPlateau without ``monitor``,
        is reported by ``check`` with everything else.
        """
        from pbgml._config._hooks import finalizer, meta_defaults

        meta = {
            **meta_defaults(resolved.obj, registry.meta),
            **{k: node[k] for k in registry.meta if k in node},
        }
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


def _literal(value: Any) -> bool:
    """A value a rule can judge: no node to build, no interpolation, nothing missing."""
    if isinstance(value, dict):
        return False
    if isinstance(value, str):
        return "${" not in value and value != MISSING_VALUE
    if isinstance(value, list):
        return all(_literal(v) for v in value)
    return True


def _rules(obj: Any, registry: Any) -> cabc.Mapping[str, Any]:
    """The argument rules of a target: its group's, then its own (see ``_validate``)."""
    from pbgml._groups import GROUPS
    from pbgml._validate import validators_of

    own = validators_of(obj)
    spec = GROUPS.get(registry.group) if registry is not None else None
    if spec is None or spec.rules is None:
        return own
    from pbgml._config._hooks import finalizer

    return {**finalizer(spec.rules), **own}


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


def check_tree(tree: Tree, allow: Allow, prefix: str = "", *, complete: bool = True) -> Checked:
    """Walk a plain tree; collect every problem and the targets resolved.

    A tree whose top level holds an experiment's fields is an experiment: it is checked
    against the experiment's schema first (see :func:`_experiment`).
    """
    walker = _Walker(tree, allow)
    if prefix == "" and is_experiment(tree.root):
        walker.experiment(tree.root, complete=complete)
    else:
        walker.walk(tree.root, prefix, GROUP_KEYS.get(prefix))
    return walker.out


@functools.cache
def _experiment_schema() -> dict[str, Any]:
    from pbgml.configs._experiment import ExperimentConf

    return typing.get_type_hints(ExperimentConf)


#: Keys an experiment may hold besides its fields (Hydra's own node, when composed).
_EXPERIMENT_EXTRA = frozenset({"hydra"})


def is_experiment(root: Any) -> bool:
    """Whether a plain tree is an experiment: a mapping, no ``_target_``, some field of one."""
    if not isinstance(root, dict) or "_target_" in root:
        return False
    return any(isinstance(k, str) and k in _experiment_schema() for k in root)


def normalize_experiment(root: dict[str, Any]) -> None:
    """Give an experiment's nodes their group's semantics, whatever the user wrote.

    A node of a partial group (``optimizer``, ``scheduler``, ``task``, ``trainer``) is
    partial without ``_partial_: true``; a ``trainer`` node without a ``_target_`` holds
    the settings of pbgml's Trainer.
    """
    trainer = root.get("trainer")
    if isinstance(trainer, dict) and "_target_" not in trainer:
        root["trainer"] = {"_target_": "pbgml.train.Trainer", **trainer}
    for key, spec in by_key().items():
        node = root.get(key)
        if not (spec.partial and not spec.collection and isinstance(node, dict)):
            continue
        if "_target_" in node and "_partial_" not in node:
            node["_partial_"] = True


def check(
    cfg: Any,
    *,
    allow: cabc.Iterable[str] = (),
    key: str = "",
    resolvers: cabc.Iterable[str] = (),
) -> None:
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
    resolvers
        Interpolation resolvers allowed besides the safe ones (``["oc.env"]`` to let
        the config read environment variables); see :doc:`/security`.

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
    checked_or_raise(cfg, allow, key, resolvers=resolvers)


def checked_or_raise(
    cfg: Any,
    allow: cabc.Iterable[str],
    key: str,
    *,
    complete: bool = True,
    resolvers: cabc.Iterable[str] = (),
) -> Checked:
    """Read and check ``cfg``; raise a :class:`~pbgml.ConfigError` listing every problem.

    ``complete=False`` (what :func:`pbgml.instantiate` asks) accepts an experiment
    without its required groups: building some of the parts is fine.
    """
    tree = read_tree(cfg, resolvers=resolvers)
    checked = check_tree(tree, Allow(allow), key, complete=complete)
    if checked.issues:
        raise ConfigError(checked.issues, source=tree.source)
    return checked
