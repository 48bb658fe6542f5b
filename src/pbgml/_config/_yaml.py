"""YAML in and out, with exact round-trips."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pbgml._config._interpolation import escape
from pbgml._config._tree import read_tree, read_yaml_text

__all__ = ["load_yaml", "to_yaml"]


def to_yaml(cfg: Any) -> str:
    """Write a config as YAML: a dataclass (class or instance), DictConfig, dict or path.

    Hidden fields are written too (``_target_``, ``_partial_``), so the YAML builds
    the same objects as the Python config it came from. Interpolations are written as
    they are (``${oc.env:HOME}`` stays that text, an escaped ``\\${x}`` stays
    escaped): nothing resolved, so no environment variable lands in the file.

    Examples
    --------
    >>> import pbgml
    >>> from pbgml.configs import StepLRConf
    >>> print(pbgml.to_yaml(StepLRConf(step_size=5)), end="")
    _target_: pbgml.optim.StepLR
    _partial_: true
    interval: epoch
    frequency: 1
    monitor: null
    step_size: 5
    gamma: 0.1
    """
    import yaml

    root = read_tree(cfg, resolve=False).root  # interpolations as written, never resolved
    text: str = yaml.dump(
        root, Dumper=_dumper(), default_flow_style=False, allow_unicode=True, sort_keys=False
    )
    return text


def _typed(target: Any, key: str) -> Any:
    """The typed config of a ``_target_``: a dotted path, or a registry name looked up in
    the group of ``key`` (``adamw`` under ``optimizer`` is :class:`AdamWConf`)."""
    from pbgml._config._check import GROUP_KEYS
    from pbgml._names import public_path
    from pbgml.configs._index import typed_config_for

    if not isinstance(target, str):
        return None
    if "." in target:
        return typed_config_for(target)
    group = GROUP_KEYS.get(key)
    if group is None:
        return None
    from pbgml import registry

    reg = registry.groups()[group]
    if target not in reg:
        return None
    try:
        return typed_config_for(public_path(reg.get(target)))
    except TypeError:
        return None


def _tuple_hint(hint: Any) -> bool:
    """True when ``hint`` is a tuple type (``tuple[int, ...]``, ``tuple[float, float] | None``)."""
    import types
    import typing

    origin = typing.get_origin(hint)
    if origin is tuple or hint is tuple:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_tuple_hint(arg) for arg in typing.get_args(hint))
    return False


def _typed_object(node: Any, hint: Any) -> Any:
    """The typed config a merged node stands for: dataclasses rebuilt, tuples restored."""
    import dataclasses
    import typing

    from omegaconf import DictConfig, ListConfig, OmegaConf

    if isinstance(node, DictConfig | ListConfig):
        if node._is_none():
            return None
        if node._is_missing():
            return "???"
    if isinstance(node, DictConfig):
        kind = OmegaConf.get_type(node)
        if not (isinstance(kind, type) and dataclasses.is_dataclass(kind)):
            return {str(k): _typed_object(node._get_node(k), Any) for k in node}
        hints = typing.get_type_hints(kind)
        values = {str(k): _typed_object(node._get_node(k), hints.get(str(k), Any)) for k in node}
        init = {f.name for f in dataclasses.fields(kind) if f.init}
        obj = kind(**{k: v for k, v in values.items() if k in init})
        for key, value in values.items():  # a hidden _target_ the YAML names otherwise
            if key not in init and getattr(obj, key, value) != value:
                object.__setattr__(obj, key, value)
        return obj
    if isinstance(node, ListConfig):
        items = [_typed_object(node._get_node(i), Any) for i in range(len(node))]
        return tuple(items) if _tuple_hint(hint) else items
    value = node._value() if hasattr(node, "_value") else node
    if isinstance(value, str):  # load_yaml escaped "${" so nothing resolves: the text back
        value = value.replace("\\${", "${")
    if isinstance(value, list) and _tuple_hint(hint):
        return tuple(value)
    return value


def _retarget(base: Any, plain: Any, prefix: str = "") -> None:
    """Where the YAML picks another component than the schema's default (an SGD where
    the schema has AdamW), swap in that component's typed config, or an untyped node
    when it has none, so the YAML's keys merge onto the right fields."""
    from omegaconf import DictConfig, OmegaConf

    if not isinstance(plain, dict) or not isinstance(base, DictConfig):
        return
    for key, value in plain.items():
        current = base._get_node(key) if isinstance(key, str) else None
        if not isinstance(value, dict) or current is None:  # ("key in base" is False for ???)
            continue
        target = value.get("_target_")
        filled = (
            isinstance(current, DictConfig) and not current._is_none() and not current._is_missing()
        )
        if isinstance(current, DictConfig) and filled and target in (None, current.get("_target_")):
            _retarget(current, value)
            continue
        if target is None:
            continue
        typed = _typed(target, key if not prefix else f"{prefix}.{key}")
        if typed is not None:  # the schema's default, or nothing yet (model: ???)
            base[key] = OmegaConf.structured(typed)
            base[key]._target_ = target  # as written: a name stays a name
            _retarget(base._get_node(key), value)
        elif filled:
            base[key] = {}


@functools.cache
def _dumper() -> Any:
    """OmegaConf's YAML dumper, made exact for strings with line breaks or controls.

    YAML folds U+0085, U+2028 and U+2029 (line breaks to YAML 1.1) in plain and
    single-quoted scalars, so such strings would not read back equal; they, and any
    string with a non-printable character, are written double-quoted, with escapes.
    """
    from omegaconf._utils import get_omega_conf_dumper

    base: Any = get_omega_conf_dumper()
    represent_str = base.yaml_representers[str]

    class Dumper(base):  # type: ignore[misc]
        pass

    def exact_str(dumper: Any, data: str) -> Any:
        if not data.isprintable() or any(ch in data for ch in "\x85\u2028\u2029"):
            return dumper.represent_scalar("tag:yaml.org,2002:str", data, style='"')
        return represent_str(dumper, data)

    Dumper.add_representer(str, exact_str)
    return Dumper


def load_yaml(
    path_or_text: str | Path,
    *,
    schema: Any = None,
    resolvers: Iterable[str] = (),
    as_object: bool = False,
) -> Any:
    """Read a config from a YAML file or from YAML text.

    Parameters
    ----------
    path_or_text
        A path (``str`` or ``Path``) to a ``.yaml``/``.yml`` file, or YAML text.
    schema
        A config dataclass to merge the YAML onto: the result is then typed, and a
        value of the wrong type, or a key the schema lacks, is a
        :class:`~pbgml.ConfigError` naming its key.
    resolvers
        Interpolation resolvers allowed besides the safe ones (``["oc.env"]``).
    as_object
        With a ``schema``: return the typed config itself (the dataclass instances,
        the components' own typed configs where the YAML picks one, and tuples where a
        field is a tuple), so ``load_yaml(to_yaml(cfg), schema=type(cfg),
        as_object=True) == cfg``.

    Returns
    -------
    omegaconf.DictConfig
        The config, interpolations resolved (with the allowed resolvers only); a
        ``${`` left in a value, from escaped text, is escaped again, so reading the
        node later never resolves anything. With ``as_object=True``, the typed
        config instead.

    Examples
    --------
    >>> import pbgml
    >>> from pbgml.configs import SGDConf
    >>> cfg = pbgml.load_yaml(pbgml.to_yaml(SGDConf(lr=0.1, momentum=0.9)))
    >>> cfg.momentum, cfg == pbgml.load_yaml(pbgml.to_yaml(cfg))
    (0.9, True)
    >>> pbgml.load_yaml("lr: 0.5", schema=SGDConf).lr
    0.5
    >>> from pbgml.configs import AdamWConf
    >>> cfg = AdamWConf(lr=0.1, betas=(0.8, 0.9))
    >>> again = pbgml.load_yaml(pbgml.to_yaml(cfg), schema=AdamWConf, as_object=True)
    >>> again.betas, again == cfg
    ((0.8, 0.9), True)
    """
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from pbgml._errors import ConfigError, ConfigIssue

    text: str
    source: str | None = None
    if isinstance(path_or_text, Path) or (
        "\n" not in path_or_text and str(path_or_text).endswith((".yaml", ".yml"))
    ):
        tree = read_tree(path_or_text, resolvers=resolvers)
        source = tree.source
    else:
        text = str(path_or_text)
        tree = read_yaml_text(text, None, resolvers=resolvers)
    try:  # resolved already: escape "${" so no text becomes a live interpolation again
        node = OmegaConf.create(escape(tree.root))
    except (OmegaConfBaseException, ValueError) as err:  # a value OmegaConf cannot hold
        message = " ".join(str(err).split())[:200]
        issue = ConfigIssue("", f"not a config value: {message}", "type", source=source)
        raise ConfigError([issue], source=source) from None
    if schema is None:
        if as_object:
            raise TypeError("load_yaml(..., as_object=True) needs a schema")
        return node
    try:
        base = OmegaConf.structured(schema)
        _retarget(base, tree.root)
        merged = OmegaConf.merge(base, node)
        return _typed_object(merged, Any) if as_object else merged
    except OmegaConfBaseException as err:
        key = str(getattr(err, "full_key", "") or "")
        message = str(err).splitlines()[0]
        issue = ConfigIssue(key, message, "type", source=source, line=tree.lines.get(key))
        raise ConfigError([issue], source=source) from None
