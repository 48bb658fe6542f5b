"""Turn any config input into one plain tree: dicts, lists and scalars.

Checking and building walk plain Python containers, not OmegaConf nodes: that is
what makes pbgml's instantiation cheap, and it means no OmegaConf container can leak
into a built object. Dataclass configs are read field by field (no OmegaConf at all
unless a string holds an interpolation); DictConfigs are converted once, with their
interpolations resolved; YAML files keep a map from key paths to line numbers.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pbgml._config._interpolation import guard, restricted
from pbgml._errors import ConfigError, ConfigIssue

__all__ = ["MISSING_VALUE", "Tree", "read_tree"]

#: How a value that must still be set is spelled (OmegaConf's ``MISSING``).
MISSING_VALUE = "???"
#: Bounds that keep reading an untrusted config cheap.
MAX_DEPTH = 100
MAX_YAML_NODES = 100_000
_YAML_SUFFIXES = (".yaml", ".yml")


@dataclass
class Tree:
    """A config as plain containers, with where it came from."""

    root: Any
    source: str | None = None
    lines: dict[str, int] = field(default_factory=dict)

    def issue(
        self, key: str, message: str, kind: str, suggestion: str | None = None
    ) -> ConfigIssue:
        """Make a :class:`ConfigIssue` located in this tree's source."""
        return ConfigIssue(key, message, kind, suggestion, self.source, self.lines.get(key))


class _TooDeepError(Exception):
    pass


def _has_interpolation(value: Any, depth: int = 0) -> bool:
    if depth > MAX_DEPTH:
        raise _TooDeepError
    if isinstance(value, str):
        return "${" in value
    if isinstance(value, Mapping):
        return any(_has_interpolation(v, depth + 1) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_interpolation(v, depth + 1) for v in value)
    return False


def _dataclass_to_plain(obj: Any, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise _TooDeepError
    if dataclasses.is_dataclass(obj):
        out: dict[str, Any] = {}
        is_class = isinstance(obj, type)
        for f in dataclasses.fields(obj):
            if is_class:
                if f.default is not dataclasses.MISSING:
                    value: Any = f.default
                elif f.default_factory is not dataclasses.MISSING:
                    value = f.default_factory()
                else:
                    value = MISSING_VALUE
            else:
                value = getattr(obj, f.name)
            out[f.name] = _dataclass_to_plain(value, depth + 1)
        return out
    if isinstance(obj, Mapping):
        return {k: _dataclass_to_plain(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_dataclass_to_plain(v, depth + 1) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj


def _guarded(plain: Any, source: str | None, resolvers: Iterable[str]) -> None:
    """Refuse resolvers that are not allowed and runaway expansion, before resolving."""
    found = guard(plain, resolvers)
    if found:
        raise ConfigError(
            [ConfigIssue(key, message, "interpolation", source=source) for key, message in found],
            source=source,
        )


def _omegaconf_to_plain(
    node: Any, source: str | None, *, resolve: bool = True, resolvers: Iterable[str] = ()
) -> Any:
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    if resolve:
        _guarded(OmegaConf.to_container(node, resolve=False), source, resolvers)
    try:
        with restricted(resolvers):
            return OmegaConf.to_container(node, resolve=resolve, throw_on_missing=False)
    except OmegaConfBaseException as err:
        key = str(getattr(err, "full_key", "") or "")
        message = str(err).splitlines()[0]
        raise ConfigError(
            [ConfigIssue(key, f"cannot resolve: {message}", "interpolation", source=source)],
            source=source,
        ) from None


@functools.cache
def _loader_class() -> Any:
    """OmegaConf's YAML dialect on libyaml's C parser when it is there (10x faster).

    The same rules as ``OmegaConf.create(text)``: YAML 1.2 floats (``1e-3``), no
    timestamps, duplicate keys refused.
    """
    import yaml
    from omegaconf._utils import get_yaml_loader

    dialect: Any = get_yaml_loader()
    base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc]
        yaml_implicit_resolvers = dialect.yaml_implicit_resolvers

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            keys: set[str] = set()
            for key_node, _ in node.value:
                if key_node.tag != yaml.resolver.BaseResolver.DEFAULT_SCALAR_TAG:
                    continue
                if key_node.value in keys:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"found duplicate key {key_node.value}",
                        key_node.start_mark,
                    )
                keys.add(key_node.value)
            return super().construct_mapping(node, deep=deep)

    return Loader


def _nesting(text: str) -> int:
    """How deep a YAML text nests, read cheaply before any parser sees it.

    Block nesting is the depth of the stack of indentation columns; flow nesting the
    depth of ``[`` and ``{`` (quotes and comments aside, roughly: an over-estimate
    only refuses a file that is nearly too deep anyway).
    """
    deepest = 0
    stack: list[int] = []
    flow = 0
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(stripped)
        while stack and stack[-1] >= indent:
            stack.pop()
        stack.append(indent)
        # compact block nesting on one line: "- - - x" (or "? "): one level per indicator
        rest, compact = stripped, 0
        while rest[:2] in ("- ", "? ") or rest in ("-", "?"):
            compact += 1
            rest = rest[2:].lstrip(" ")
        deepest = max(deepest, len(stack) + compact)
        quote = ""
        for ch in stripped:
            if quote:
                quote = "" if ch == quote else quote
            elif ch in "'\"":
                quote = ch
            elif ch == "#":
                break
            elif ch in "[{":
                flow += 1
                deepest = max(deepest, len(stack) + flow)
            elif ch in "]}":
                flow = max(0, flow - 1)
        deepest = max(deepest, len(stack) + flow)
    return deepest


def _parse(text: str, source: str | None) -> tuple[Any, Any]:
    """Parse YAML once: the node graph (for line numbers and the size bound) and its data."""
    import yaml

    if _nesting(text) > MAX_DEPTH:  # the parsers recurse: refuse before they start
        issue = ConfigIssue("", f"nested deeper than {MAX_DEPTH} levels", "syntax", source=source)
        raise ConfigError([issue], source=source)
    loader = _loader_class()(text)
    try:
        node = loader.get_single_node()
        if _expanded_size(node) > MAX_YAML_NODES:  # "billion laughs": aliases of aliases
            raise ConfigError(
                [
                    ConfigIssue(
                        "",
                        f"YAML aliases expand to more than {MAX_YAML_NODES} nodes; refusing to "
                        "expand them",
                        "syntax",
                        source=source,
                    )
                ],
                source=source,
            )
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        where = f" (line {line}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        issue = ConfigIssue(
            "", f"not valid YAML: {problem}{where}", "syntax", source=source, line=line
        )
        raise ConfigError([issue], source=source) from None
    finally:
        loader.dispose()
    return node, data


def _yaml_lines(node: Any) -> dict[str, int]:
    """Map each key path of a composed YAML document to the (1-based) line that sets it."""
    import yaml

    lines: dict[str, int] = {}

    def walk(n: Any, prefix: str) -> None:
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                key = f"{prefix}.{k.value}" if prefix else str(k.value)
                lines[key] = k.start_mark.line + 1
                walk(v, key)
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                key = f"{prefix}.{i}" if prefix else str(i)
                lines[key] = v.start_mark.line + 1
                walk(v, key)

    walk(node, "")
    return lines


def _is_yaml_path(cfg: Any) -> bool:
    if isinstance(cfg, Path):
        return True
    return isinstance(cfg, str) and "\n" not in cfg and cfg.endswith(_YAML_SUFFIXES)


def _expanded_size(root: Any) -> int:
    """How many nodes a composed document has once its aliases are expanded."""
    import yaml

    sizes: dict[int, int] = {}

    def size(node: Any) -> int:  # aliases are shared nodes: memoize by identity
        known = sizes.get(id(node))
        if known is not None:
            return known
        sizes[id(node)] = 1  # a cycle counts once
        total = 1
        if isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total += sum(size(v) for v in node.value)
        sizes[id(node)] = min(total, MAX_YAML_NODES + 1)
        return sizes[id(node)]

    return size(root) if root is not None else 0


def read_yaml_text(
    text: str, source: str | None, *, resolve: bool = True, resolvers: Iterable[str] = ()
) -> Tree:
    """Parse YAML text (OmegaConf's dialect) once into a plain tree with line numbers."""
    node, data = _parse(text, source)
    if data is None:
        issue = ConfigIssue("", "the YAML is empty: expected a config", "syntax", source=source)
        raise ConfigError([issue], source=source)
    try:
        interpolated = _has_interpolation(data)
    except _TooDeepError:
        raise ConfigError(
            [ConfigIssue("", f"nested deeper than {MAX_DEPTH} levels", "syntax", source=source)],
            source=source,
        ) from None
    if interpolated and resolve:
        from omegaconf import OmegaConf

        try:
            data = _omegaconf_to_plain(OmegaConf.create(data), source, resolvers=resolvers)
        except ConfigError:
            raise
        except Exception as err:  # a malformed interpolation, a key OmegaConf refuses
            message = " ".join(str(err).split())
            raise ConfigError(
                [ConfigIssue("", f"not valid: {message}", "syntax", source=source)],
                source=source,
            ) from None
    return Tree(data, source, _yaml_lines(node) if node is not None else {})


def read_tree(cfg: Any, *, resolve: bool = True, resolvers: Iterable[str] = ()) -> Tree:
    """Read a dataclass (class or instance), a DictConfig, a dict or a YAML path.

    Examples
    --------
    >>> from pbgml.configs import SGDConf
    >>> read_tree(SGDConf(lr=0.1)).root["lr"]
    0.1
    """
    if isinstance(cfg, Tree):
        return cfg
    if _is_yaml_path(cfg):
        path = Path(cfg)
        if not path.is_file():
            raise ConfigError(
                [ConfigIssue("", f"no such YAML file: {str(path)!r}", "not_found")],
                source=str(path),
            )
        text = path.read_text(encoding="utf-8")
        return read_yaml_text(text, str(path), resolve=resolve, resolvers=resolvers)
    if type(cfg).__module__.startswith("omegaconf"):
        return Tree(_omegaconf_to_plain(cfg, None, resolve=resolve, resolvers=resolvers))
    try:
        plain = _dataclass_to_plain(cfg)
        interpolated = _has_interpolation(plain)
    except _TooDeepError:
        raise ConfigError(
            [ConfigIssue("", f"nested deeper than {MAX_DEPTH} levels", "syntax")]
        ) from None
    if interpolated and resolve:
        from omegaconf import OmegaConf

        try:
            node = OmegaConf.create(plain)
        except Exception as err:  # a malformed interpolation, a key OmegaConf refuses
            message = str(err).splitlines()[0]
            key = str(getattr(err, "full_key", "") or "")
            raise ConfigError([ConfigIssue(key, message, "interpolation")]) from None
        return Tree(_omegaconf_to_plain(node, None, resolvers=resolvers))
    if not isinstance(plain, dict):
        raise ConfigError(
            [
                ConfigIssue(
                    "",
                    f"expected a config (dataclass, dict, DictConfig or YAML path), got {cfg!r}",
                    "type",
                )
            ]
        )
    return Tree(plain)
