"""Turn any config input into one plain tree: dicts, lists and scalars.

Checking and building walk plain Python containers, not OmegaConf nodes: that is
what makes pbgml's instantiation cheap, and it means no OmegaConf container can leak
into a built object. Dataclass configs are read field by field (no OmegaConf at all
unless a string holds an interpolation); DictConfigs are converted once, with their
interpolations resolved; YAML files keep a map from key paths to line numbers.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def _omegaconf_to_plain(node: Any, source: str | None) -> Any:
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        return OmegaConf.to_container(node, resolve=True, throw_on_missing=False)
    except OmegaConfBaseException as err:
        key = str(getattr(err, "full_key", "") or "")
        message = str(err).splitlines()[0]
        raise ConfigError(
            [ConfigIssue(key, f"cannot resolve: {message}", "interpolation", source=source)],
            source=source,
        ) from None


def _compose(text: str) -> Any:
    """The document's YAML node graph (aliases shared, not expanded), or None."""
    import yaml

    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None


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


def read_yaml_text(text: str, source: str | None) -> Tree:
    """Parse YAML text (OmegaConf's dialect) into a plain tree with line numbers."""
    from omegaconf import OmegaConf

    composed = _compose(text)
    if _expanded_size(composed) > MAX_YAML_NODES:  # "billion laughs": aliases of aliases
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
    try:
        node = OmegaConf.create(text)
    except Exception as err:  # yaml.YAMLError and OmegaConf's own errors
        message = " ".join(str(err).split())
        raise ConfigError(
            [ConfigIssue("", f"not valid YAML: {message}", "syntax", source=source)],
            source=source,
        ) from None
    return Tree(_omegaconf_to_plain(node, source), source, _yaml_lines(composed))


def read_tree(cfg: Any) -> Tree:
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
        return read_yaml_text(path.read_text(encoding="utf-8"), str(path))
    if type(cfg).__module__.startswith("omegaconf"):
        return Tree(_omegaconf_to_plain(cfg, None))
    try:
        plain = _dataclass_to_plain(cfg)
        interpolated = _has_interpolation(plain)
    except _TooDeepError:
        raise ConfigError(
            [ConfigIssue("", f"nested deeper than {MAX_DEPTH} levels", "syntax")]
        ) from None
    if interpolated:
        from omegaconf import OmegaConf

        try:
            node = OmegaConf.create(plain)
        except Exception as err:  # a malformed interpolation, a key OmegaConf refuses
            message = str(err).splitlines()[0]
            key = str(getattr(err, "full_key", "") or "")
            raise ConfigError([ConfigIssue(key, message, "interpolation")]) from None
        return Tree(_omegaconf_to_plain(node, None))
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
