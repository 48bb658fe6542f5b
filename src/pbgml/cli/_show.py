"""``pbgml show group/name``: a component's config as YAML, each field with its type, default and doc.

The YAML is what ``pbgml.to_yaml`` writes for the component's structured config
(:func:`pbgml.configs.config_for`), so it can be pasted into an experiment; above
each field a comment gives its type, its default and the first paragraph of its doc
(from the target's numpydoc ``Parameters`` or Google-style ``Args:`` section). A
preset (``pbgml show experiment/digits_mlp``) is printed as its YAML file is.

Examples
--------
>>> from pbgml.cli import main
>>> main(["show", "optimizer/sgd"])  # doctest: +ELLIPSIS
# optimizer/sgd: ...
# lr (float, default 0.001): learning rate ...
lr: 0.001
...
0
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import textwrap
import types
import typing
from pathlib import Path
from typing import Any

from pbgml._errors import UnknownNameError, closest
from pbgml.cli._list import parse_args, parser, write
from pbgml.cli._report import UsageError
from pbgml.cli._tools_groups import Group, find_group, preset_folders, presets
from pbgml.cli._tools_text import param_docs, plain, shorten

__all__ = ["main", "show_component", "show_preset"]

#: Width of the comment lines.
WIDTH = 88
#: Docs of the keys pbgml adds to a group's configs (the registry's ``meta``).
META_DOCS = {
    "param_groups": (
        "How to split the model's parameters (no_decay, lr_mult, freeze); 'default': the "
        "optimizer's default groups; null: one group. Read by pbgml, not the optimizer."
    ),
    "interval": "'epoch' or 'step': when the trainer steps the scheduler.",
    "frequency": "Step the scheduler every this many intervals.",
    "monitor": "The logged metric a ReduceLROnPlateau scheduler steps on.",
}
_RESERVED_DOCS = {
    "_target_": "what the config builds",
    "_partial_": "built as a functools.partial: {later} supplied later",
}
_TOP_KEY = re.compile(r"^(['\"]?)([^\s'\"#:][^:]*?)\1:(\s|$)")


def _type_text(hint: Any) -> str:
    """Spell a type as Python 3.10 does: ``int | tuple[int, int]``, ``ParamGroupsConf | None``."""
    if isinstance(hint, str):
        return hint
    if hint is type(None) or hint is None:
        return "None"
    if hint is Any:
        return "Any"
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union or (origin is not None and origin is types.UnionType):
        return " | ".join(_type_text(a) for a in args)
    if origin is typing.Literal:
        return "Literal[" + ", ".join(repr(a) for a in args) + "]"
    if origin is not None and args:
        name = getattr(origin, "__name__", None) or str(origin).replace("typing.", "")
        inner = ", ".join("..." if a is Ellipsis else _type_text(a) for a in args)
        return f"{name}[{inner}]"
    if isinstance(hint, type):
        module = hint.__module__
        return (
            hint.__qualname__
            if module in ("builtins",) or module.startswith("pbgml")
            else (f"{module}.{hint.__qualname__}")
        )
    return str(hint).replace("typing.", "")


def _field_types(conf: type[Any]) -> dict[str, str]:
    try:
        hints = typing.get_type_hints(conf)
    except Exception:
        hints = {f.name: f.type for f in dataclasses.fields(conf)}
    return {name: _type_text(hint) for name, hint in hints.items() if hint is not Any}


def _signature_types(target: Any) -> dict[str, str]:
    try:
        params = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return {}
    return {
        name: _type_text(p.annotation)
        for name, p in params.items()
        if p.annotation is not inspect.Parameter.empty
    }


def _default(field: dataclasses.Field[Any]) -> Any:
    if field.default is not dataclasses.MISSING:
        return dataclasses.MISSING if field.default == "???" else field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def _flow(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if dataclasses.is_dataclass(value):
        return "as below"
    try:
        return shorten(json.dumps(value), 40)
    except (TypeError, ValueError):
        return shorten(str(value), 40)


def _blocks(text: str) -> list[tuple[str | None, list[str]]]:
    """Split YAML text into its top-level keys' blocks (key, lines)."""
    blocks: list[tuple[str | None, list[str]]] = []
    for line in text.splitlines():
        match = _TOP_KEY.match(line)
        if match:
            blocks.append((match.group(2), [line]))
        elif blocks:
            blocks[-1][1].append(line)
        else:
            blocks.append((None, [line]))
    return blocks


def _comment(text: str, first: str) -> list[str]:
    lines = textwrap.wrap(text, WIDTH - 4, initial_indent="", subsequent_indent="")
    if not lines:
        return [f"# {first}"]
    head = f"# {first}: {lines[0]}"
    if len(head) <= WIDTH:
        return [head, *(f"#   {line}" for line in lines[1:])]
    return [f"# {first}:", *(f"#   {line}" for line in lines)]


def _doc(text: str) -> str:
    """A field's doc, at most a few lines: the first sentence of a long paragraph."""
    if len(text) <= 240:
        return text
    sentence = re.split(r"(?<=[.;])\s", text, maxsplit=1)[0]
    return shorten(sentence, 240)


def show_component(group: str, name: str) -> str:
    """The commented YAML of the registry entry ``name`` of ``group``.

    Examples
    --------
    >>> from pbgml.cli._show import show_component
    >>> text = show_component("optimizer", "sgd")
    >>> "\\nlr: 0.001\\n" in text and "momentum" in text
    True
    """
    from pbgml import registry
    from pbgml._config._yaml import to_yaml
    from pbgml._groups import GROUPS
    from pbgml._names import public_path
    from pbgml.configs import config_for

    reg = registry.groups()[group]
    entry = reg.entry(name)
    conf = config_for(group, name)
    target = entry.target
    docs = {**param_docs(conf), **param_docs(target)}
    types = _signature_types(target)
    types.update(_field_types(conf))
    spec = GROUPS[group]
    try:
        path = public_path(target)
    except TypeError:
        path = entry.origin
    head = [f"# {group}/{entry.name}: {plain(entry.doc)}".rstrip(": ")]
    details = f"# target: {path}"
    if entry.aliases:
        details += f"; aliases: {', '.join(entry.aliases)}"
    head.append(details)
    if conf.__module__.startswith("pbgml.configs"):
        head.append(f"# typed config: pbgml.configs.{conf.__name__}")
    if spec.key is not None:
        if spec.collection:
            head.append(f"# in an experiment: one of the {spec.key}, as {spec.key}.{entry.name}")
        else:
            head.append(f"# select it: pbgml train {spec.key}={entry.name} {spec.key}.FIELD=VALUE")
    fields = {f.name: f for f in dataclasses.fields(conf)}
    out = [*head]
    for key, lines in _blocks(to_yaml(conf)):
        field = fields.get(key) if key is not None else None
        if field is not None and key is not None:
            out += _field_comment(
                key, field, types, docs, later=", ".join(spec.later) or "arguments"
            )
        out += lines
    return "\n".join(out) + "\n"


def _field_comment(
    key: str,
    field: dataclasses.Field[Any],
    types: dict[str, str],
    docs: dict[str, str],
    *,
    later: str,
) -> list[str]:
    if key in _RESERVED_DOCS:
        return [f"# {key}: {_RESERVED_DOCS[key].format(later=later)}"]
    default = _default(field)
    parts = [types.get(key, "Any")]
    parts.append("required" if default is dataclasses.MISSING else f"default {_flow(default)}")
    doc = docs.get(key) or META_DOCS.get(key, "")
    return _comment(_doc(doc), f"{key} ({', '.join(parts)})")


def show_preset(folder: str, name: str, path: Path) -> str:
    """A preset's YAML file as it is, after a comment line saying what it is and how to use it.

    Examples
    --------
    >>> from pbgml.cli._show import show_preset
    >>> from pbgml.cli._tools_groups import presets
    >>> text = show_preset("experiment", "digits_mlp", presets("experiment")["digits_mlp"])
    >>> text.splitlines()[0]
    '# experiment preset digits_mlp: pbgml train experiment=digits_mlp'
    """
    head = f"# {folder} preset {name}: pbgml train {folder}={name}\n# file: {path}\n"
    return head + path.read_text(encoding="utf-8")


def _unknown(group: Group, name: str, config_dir: str | None) -> UsageError:
    from pbgml import registry

    choices: list[str] = []
    if group.presets is not None:
        choices += presets(group.presets, config_dir)
    if group.registry is not None:
        choices += registry.groups()[group.registry].names()
    hits = closest(name, choices)
    hint = f" Did you mean {hits[0]!r}?" if hits else ""
    kind = f"{group.label} preset" if group.registry is None else group.label
    return UsageError(f"unknown {kind} {name!r}.{hint} (pbgml list {group.word} lists them)")


def _find_anywhere(name: str, config_dir: str | None) -> tuple[Group, str]:
    """``pbgml show adamw``: the one group that has ``name``."""
    from pbgml import registry

    found = [g for g, reg in registry.groups().items() if name in reg]
    if not found:  # a preset's name alone: pbgml show digits_mlp
        found = [f for f in preset_folders(config_dir) if name in presets(f, config_dir)]
    if len(found) == 1:
        return find_group(found[0], config_dir), name
    if len(found) > 1:
        spelled = ", ".join(f"{g}/{name}" for g in found)
        raise UsageError(f"{name!r} is in several groups: say which ({spelled})")
    from pbgml.cli._tools_groups import unknown_group_message

    words = [n for reg in registry.groups().values() for n in reg.names()]
    hits = closest(name, words)
    if hits:
        owner = next(g for g, reg in registry.groups().items() if hits[0] in reg)
        raise UsageError(f"unknown component {name!r}. Did you mean {owner}/{hits[0]}?")
    raise UsageError(f"{unknown_group_message(name, config_dir)} (pbgml show GROUP/NAME)")


def main(argv: list[str]) -> int:
    """Run ``pbgml show``; return the exit code.

    Examples
    --------
    >>> from pbgml.cli._show import main
    >>> main(["experiment/digits_mlp"])  # doctest: +ELLIPSIS
    # experiment preset digits_mlp: pbgml train experiment=digits_mlp
    ...
    0
    """
    cli = parser(
        "pbgml show",
        "Show a component's config as YAML, every field with its type, default and doc; "
        "or a preset's YAML.",
    )
    cli.add_argument("what", help="group/name (optimizer/adamw, experiment/digits_mlp), or group")
    cli.add_argument("name", nargs="?", help="the name, when the group is given on its own")
    cli.add_argument(
        "--component",
        action="store_true",
        help="the registered component even where a preset has the same name",
    )
    cli.add_argument("--config-dir", help="the user's config folder (default: ./conf if present)")
    args = parse_args(cli, argv)
    if isinstance(args, int):
        return args
    config_dir: str | None = args.config_dir
    word, _, name = str(args.what).partition("/")
    if args.name is not None:
        if name:
            raise UsageError(f"give group/name or group name, not both: {args.what} {args.name}")
        name = args.name
    if not name:
        try:
            group = find_group(word, config_dir)
        except UsageError:
            group, name = _find_anywhere(word, config_dir)
        else:
            raise UsageError(f"which {group.label}? pbgml show {word}/NAME (pbgml list {word})")
    else:
        group = find_group(word, config_dir)
    return write(_show(group, name, config_dir, component=args.component))


def _show(group: Group, name: str, config_dir: str | None, *, component: bool) -> str:
    if group.presets is not None and not (component and group.registry is not None):
        found = presets(group.presets, config_dir)
        if name in found:
            return show_preset(group.presets, name, found[name])
    if group.registry is None:
        raise _unknown(group, name, config_dir)
    from pbgml import registry

    if name not in registry.groups()[group.registry]:
        raise _unknown(group, name, config_dir)
    try:
        return show_component(group.registry, name)
    except UnknownNameError as err:  # pragma: no cover - checked just above
        raise _unknown(group, name, config_dir) from err
