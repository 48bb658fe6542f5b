"""``pbgml check FILE.yaml [overrides]``: validate an experiment without building anything.

The experiment is a YAML file, or a packaged (or ``./conf``) preset named as
``digits_mlp`` or ``experiment=digits_mlp``. ``key=value`` overrides (Hydra's
override grammar: ``optimizer.lr=1e-3``, ``model.hidden=[64,64]``, ``~scheduler``,
``optimizer=sgd`` to pick another registered component) are applied first, then
:func:`pbgml.check` reports every problem at once, each with its key path (and the
file's line for keys the file sets). Exit code 0 when valid, 2 otherwise.

Examples
--------
>>> from pbgml.cli import main
>>> main(["check", "digits_mlp", "optimizer.lr=0.1"])
ok: experiment digits_mlp (1 override) is valid
0
>>> main(["check", "digits_mlp", "optimizer.lrr=0.1"])  # doctest: +NORMALIZE_WHITESPACE
pbgml check: 1 problem in experiment digits_mlp (1 override)
  optimizer.lrr: unknown key for ...; did you mean 'lr'?
2
"""

from __future__ import annotations

import copy
import errno
import importlib
from pathlib import Path
from typing import Any

from pbgml._errors import ConfigError, UnknownNameError, closest
from pbgml._groups import by_key
from pbgml.cli._list import parse_args, parser
from pbgml.cli._report import USAGE_ERROR, UsageError
from pbgml.cli._tools_groups import presets

__all__ = ["apply_overrides", "main"]

_NO_PRESETS_OF = (
    "{key}={value}: the {key} presets compose only through pbgml train (or pbgml.compose); "
    "give the registered entries instead: {key}=[name,...]"
)
_DEFAULTS_LIST = (
    "{path} has a Hydra defaults list: it composes with pbgml train; check it by name "
    "(put it in conf/experiment/ and run pbgml check experiment={stem})"
)


def _parse(overrides: list[str]) -> list[Any]:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parsed = []
    for text in overrides:
        try:
            parsed += OverridesParser.create().parse_overrides([text])
        except HydraException as err:
            message = " ".join(str(err).split("\n")[0].split())
            raise UsageError(f"bad override {text!r}: {message}") from None
    for override in parsed:
        key = override.key_or_group
        if override.package is not None:
            raise UsageError(f"{key}@{override.package}: packages are for pbgml train")
        if override.is_sweep_override():
            raise UsageError(
                f"{key}: a sweep ({override.input_line}) checks one value at a time; "
                "sweeps run with pbgml train -m"
            )
    return parsed


def _component(key: str, name: str) -> dict[str, Any]:
    """The plain config of the registry entry ``name`` of the group filling ``key``."""
    from pbgml import registry
    from pbgml._config._tree import read_tree
    from pbgml.configs import config_for

    spec = by_key()[key]
    reg = registry.groups()[spec.name]
    if name not in reg:
        hits = closest(name, reg.names())
        hint = f" Did you mean {hits[0]!r}?" if hits else ""
        raise UsageError(f"{key}={name}: unknown {spec.name} {name!r}.{hint} (pbgml list {key})")
    root = read_tree(config_for(spec.name, name), resolve=False).root
    assert isinstance(root, dict)
    return root


def _group_value(key: str, value: Any, config_dir: str | None) -> Any:
    """What ``optimizer=sgd`` / ``metrics=[accuracy]`` / ``scheduler=null`` put at ``key``."""
    spec = by_key()[key]
    if value is None or value == "none":
        return None
    if not spec.collection:
        return _component(key, value) if isinstance(value, str) else value
    names = [value] if isinstance(value, str) else value
    if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        return value  # a mapping written out: the checker reads it
    out: dict[str, Any] = {}
    for name in names:
        if name in presets(key, config_dir) and not _in_registry(key, name):
            raise UsageError(_NO_PRESETS_OF.format(key=key, value=name))
        out[name] = _component(key, name)
    return out


def _in_registry(key: str, name: str) -> bool:
    from pbgml import registry

    return name in registry.groups()[by_key()[key].name]


def _set(root: dict[str, Any], key: str, value: Any, *, delete: bool = False) -> None:
    parts = key.split(".")
    node: Any = root
    for i, part in enumerate(parts[:-1]):
        where = ".".join(parts[: i + 1])
        if isinstance(node, dict):
            if node.get(part) is None and not delete:
                node[part] = {}
            elif part not in node:
                raise _no_key(key, part, node)
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise UsageError(f"cannot set {key!r}: {where} is {type(node).__name__}, not a mapping")
    last = parts[-1]
    if isinstance(node, list) and last.isdigit() and int(last) < len(node):
        if delete:
            del node[int(last)]
        else:
            node[int(last)] = value
        return
    if not isinstance(node, dict):
        raise UsageError(f"cannot set {key!r}: its parent is {type(node).__name__}")
    if delete:
        if last not in node:
            raise _no_key(key, last, node)
        del node[last]
    else:
        node[last] = value


def _no_key(key: str, part: str, node: dict[str, Any]) -> UsageError:
    hits = closest(part, [str(k) for k in node])
    hint = f" Did you mean {hits[0]!r}?" if hits else ""
    return UsageError(f"cannot delete {key!r}: no key {part!r} there.{hint}")


def apply_overrides(
    root: dict[str, Any], overrides: list[str], config_dir: str | None = None
) -> tuple[dict[str, Any], list[str]]:
    """Apply Hydra-style overrides to a plain experiment tree; return it and the keys set.

    Examples
    --------
    >>> from pbgml.cli._check import apply_overrides
    >>> tree, keys = apply_overrides({"optimizer": {"lr": 0.1}}, ["optimizer.lr=1e-3", "+seed=3"])
    >>> tree, keys
    ({'optimizer': {'lr': 0.001}, 'seed': 3}, ['optimizer.lr', 'seed'])
    """
    root = copy.deepcopy(root)
    keys: list[str] = []
    groups = by_key()
    for override in _parse(overrides):
        key = str(override.key_or_group)
        if override.is_delete():
            _set(root, key, None, delete=True)
        else:
            value = override.value()
            if key in groups:
                value = _group_value(key, value, config_dir)
            _set(root, key, value)
        keys.append(key)
    return root, keys


def _describe(name: str, count: int) -> str:
    if not count:
        return name
    return f"{name} ({count} override{'s' if count != 1 else ''})"


def _resolve_target(
    target: str | None, overrides: list[str], config_dir: str | None
) -> tuple[Path, str | None, list[str]]:
    """(file, preset name, the remaining overrides) from the command line."""
    rest = list(overrides)
    preset: str | None = None
    if target is None or "=" in target:
        if target is not None:
            rest.insert(0, target)
        chosen = [o for o in rest if o.startswith("experiment=")]
        if not chosen:
            raise UsageError(
                "what to check? pbgml check FILE.yaml [overrides], "
                "or a preset: pbgml check experiment=NAME (pbgml list experiment)"
            )
        rest = [o for o in rest if o not in chosen]
        preset = chosen[-1].partition("=")[2]
    else:
        path = Path(target)
        if path.is_file():
            return path, None, rest
        if path.suffix in (".yaml", ".yml") or path.parent != Path(".") or path.is_dir():
            if path.is_dir():
                raise UsageError(f"{target}: is a directory, not a YAML file")
            raise FileNotFoundError(errno.ENOENT, "no such file", target)
        preset = target
    found = presets("experiment", config_dir)
    if preset not in found:
        hits = closest(preset, found)
        hint = f" Did you mean {hits[0]!r}?" if hits else ""
        raise UsageError(
            f"no such file or experiment preset {preset!r}.{hint} (pbgml list experiment)"
        )
    return found[preset], preset, rest


def _tree(path: Path, overrides: list[str], config_dir: str | None) -> Any:
    """The tree to check: the file as it is, or with the overrides applied."""
    from pbgml._config._tree import Tree, read_tree

    raw = read_tree(path, resolve=False)
    root = raw.root
    if isinstance(root, dict) and "defaults" in root:
        raise UsageError(_DEFAULTS_LIST.format(path=path, stem=path.stem))
    if not overrides:
        return path
    if not isinstance(root, dict):
        raise UsageError(f"{path}: overrides need a mapping at the top, got {type(root).__name__}")
    root, keys = apply_overrides(root, overrides, config_dir)
    resolved = read_tree(root).root  # interpolations resolved after the overrides
    lines = {
        k: line
        for k, line in raw.lines.items()
        if not any(k == key or k.startswith((f"{key}.", f"{key}[")) for key in keys)
    }
    return Tree(resolved, raw.source, lines)


def main(argv: list[str]) -> int:
    """Run ``pbgml check``; return the exit code.

    Examples
    --------
    >>> from pbgml.cli._check import main
    >>> main(["experiment=digits_mlp"])
    ok: experiment digits_mlp is valid
    0
    """
    cli = parser(
        "pbgml check",
        "Check an experiment (a YAML file or a preset) without building anything: "
        "every problem with its key path; exit code 2 when there is one.",
    )
    cli.add_argument("target", nargs="?", help="FILE.yaml, a preset name, or experiment=NAME")
    cli.add_argument("overrides", nargs="*", help="key=value overrides (Hydra's grammar)")
    cli.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import this module first (registers your own components); repeatable",
    )
    cli.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="PREFIX",
        help="allow targets under this dotted prefix besides the registered ones; repeatable",
    )
    cli.add_argument("--config-dir", help="the user's config folder (default: ./conf if present)")
    args = parse_args(cli, argv)
    if isinstance(args, int):
        return args
    for module in args.imports:
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise UsageError(f"--import {module}: {err}") from None
    path, preset, overrides = _resolve_target(args.target, list(args.overrides), args.config_dir)
    name = f"experiment {preset}" if preset is not None else str(path)
    described = _describe(name, len(overrides))
    try:
        cfg = _experiment(path, preset, overrides, args.config_dir)
        _check(cfg, args.allow)
    except ConfigError as err:
        problems = str(err).splitlines()[1:]
        count = len(err.errors)
        print(f"pbgml check: {count} problem{'s' if count != 1 else ''} in {described}")
        print("\n".join(problems))
        return USAGE_ERROR
    except UnknownNameError as err:
        raise UsageError(str(err)) from None
    print(f"ok: {described} is valid")
    return 0


def _experiment(
    path: Path, preset: str | None, overrides: list[str], config_dir: str | None
) -> Any:
    """The tree to check: composed by :func:`pbgml.compose` where it exists and the
    experiment is a preset (or a file in an ``experiment/`` folder with a defaults list),
    else the file with the overrides applied here."""
    import pbgml

    _parse(overrides)  # syntax and sweeps: one message, whichever path follows
    has_defaults = _has_defaults(path)
    if hasattr(pbgml, "compose"):
        if preset is not None:
            return _composed(preset, overrides, config_dir)
        if has_defaults and path.parent.name == "experiment":
            return _composed(path.stem, overrides, str(path.parent.parent))
    if preset is not None and has_defaults:
        from pbgml.hydra import presets as packaged

        if preset in packaged("experiment") and path.parent == _packaged_experiments():
            path = Path(packaged("experiment")[preset])  # the complete, composed tree
    return _tree(path, overrides, config_dir)


def _packaged_experiments() -> Path:
    from importlib import resources

    return Path(str(resources.files("pbgml") / "conf" / "experiment"))


def _has_defaults(path: Path) -> bool:
    from pbgml._config._tree import read_tree

    root = read_tree(path, resolve=False).root
    return isinstance(root, dict) and "defaults" in root


def _composed(preset: str, overrides: list[str], config_dir: str | None) -> Any:
    """:func:`pbgml.compose` of the preset with the overrides.

    Composition stops at its first problem; when it fails, the preset is composed
    without the overrides, they are applied here and the whole tree is checked, so that
    every problem is reported at once (composition's own error when that finds none).
    """
    import pbgml

    try:
        return _compose(preset, overrides, config_dir)
    except ConfigError as first:
        if not overrides:
            raise
        try:
            base = _compose(preset, [], config_dir)
            from pbgml._config._tree import read_tree

            root = read_tree(base, resolve=False).root
            tree, _ = apply_overrides(root, overrides, config_dir)
            pbgml.check(tree)
        except ConfigError as every:
            if len(every.errors) >= len(first.errors):
                raise every from None
        except UsageError:
            pass
        raise


def _compose(preset: str, overrides: list[str], config_dir: str | None) -> Any:
    from hydra.errors import HydraException

    import pbgml

    try:
        return pbgml.compose(overrides=overrides, experiment=preset, config_dir=config_dir)
    except HydraException as err:
        raise UsageError(" ".join(str(err).split())) from None


def _check(cfg: Any, allow: list[str]) -> None:
    import pbgml

    try:
        pbgml.check(cfg, allow=allow)
    except ValueError as err:
        if isinstance(err, ConfigError):
            raise
        raise UsageError(f"--allow: {err}") from None
