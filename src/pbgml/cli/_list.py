"""``pbgml list [group] [pattern]``: what is registered, and the presets, with one-line docs.

Cheap on purpose: it reads the registries (their names and the first line of each
target's docstring) and the preset folders, and imports neither Hydra nor hydra-zen,
nor any plugin entry that was not imported yet.

For a preset group (``experiment``, ``trainer``, ``logger``, ``callbacks``,
``hparams_search``) the preset names come first, one a line, then an empty line, so
a shell completion script can read them; the descriptions follow.

Examples
--------
>>> from pbgml.cli import main
>>> main(["list", "optimizer", "adamw"])  # doctest: +ELLIPSIS
optimizer (1 of ...): ...
  adamw  ...
0
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import sys
from pathlib import Path

from pbgml.cli._report import UsageError
from pbgml.cli._tools_groups import (
    Group,
    find_group,
    preset_doc,
    preset_folders,
    presets,
    unknown_group_message,
)
from pbgml.cli._tools_text import plain, shorten

__all__ = ["main"]

#: How wide a listing line may get.
WIDTH = 100
_GLOB = set("*?[")


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as :class:`UsageError` (one line, exit code 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see {self.prog} --help)")


def parser(prog: str, description: str) -> argparse.ArgumentParser:
    """An argparse parser whose mistakes raise :class:`UsageError`."""
    return _Parser(prog=prog, description=description)


def parse_args(cli: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace | int:
    """``cli.parse_args(argv)``, or the exit code when argparse is done (``--help``: 0)."""
    try:
        return cli.parse_args(argv)
    except SystemExit as done:  # --help printed; errors raise UsageError instead
        return done.code if isinstance(done.code, int) else 0


def _matcher(pattern: str | None) -> str | None:
    if pattern is None:
        return None
    pattern = pattern.lower()
    return pattern if _GLOB & set(pattern) else f"*{pattern}*"


def _matches(name: str, pattern: str | None) -> bool:
    return pattern is None or fnmatch.fnmatchcase(name.lower(), pattern)


def _table(rows: list[tuple[str, str]]) -> list[str]:
    if not rows:
        return []
    width = min(max(len(name) for name, _ in rows), 28)
    return [shorten(f"  {name:<{width}}  {doc}".rstrip(), WIDTH) for name, doc in rows]


def _registry_lines(name: str, pattern: str | None) -> list[str]:
    from pbgml import registry
    from pbgml._groups import GROUPS

    reg = registry.groups()[name]
    names = reg.names()
    pending = {entry: origin for origin, entry in reg.pending_origins().items()}
    rows: list[tuple[str, str]] = []
    for entry_name in names:
        if not _matches(entry_name, pattern):
            continue
        if entry_name in pending:
            doc = f"(plugin, not imported yet: {pending[entry_name]})"
        else:
            doc = plain(reg.entry(entry_name).doc)
        rows.append((entry_name, doc))
    count = f"{len(rows)} of {len(names)}" if pattern is not None else str(len(names))
    head = f"{name} ({count}): {GROUPS[name].doc}" if GROUPS[name].doc else f"{name} ({count})"
    return [shorten(head, WIDTH), *_table(rows)]


def _preset_rows(folder: str, pattern: str | None, config_dir: str | None) -> dict[str, Path]:
    return {n: p for n, p in presets(folder, config_dir).items() if _matches(n, pattern)}


def _preset_lines(folder: str, found: dict[str, Path], total: int) -> list[str]:
    count = f"{len(found)} of {total}" if len(found) != total else str(total)
    head = f"{folder} presets ({count}): pbgml train {folder}=NAME"
    return [head, *_table([(name, preset_doc(path)) for name, path in found.items()])]


def _one_group(group: Group, pattern: str | None, config_dir: str | None) -> list[str]:
    lines: list[str] = []
    if group.presets is not None:
        total = len(presets(group.presets, config_dir))
        found = _preset_rows(group.presets, pattern, config_dir)
        if found:  # the names first, one a line: for shell completion
            lines += [*found, ""]
        if total or group.registry is None:
            lines += _preset_lines(group.presets, found, total)
    if group.registry is not None:
        if lines:
            lines.append("")
        lines += _registry_lines(group.registry, pattern)
    return lines


def _everything(pattern: str | None, config_dir: str | None) -> list[str]:
    from pbgml import registry

    blocks: list[list[str]] = []
    for name in registry.groups():
        block = _registry_lines(name, pattern)
        if pattern is None or len(block) > 1:
            blocks.append(block)
    for folder in preset_folders(config_dir):
        total = len(presets(folder, config_dir))
        found = _preset_rows(folder, pattern, config_dir)
        if found or (pattern is None and total):
            blocks.append(_preset_lines(folder, found, total))
    lines: list[str] = []
    for block in blocks:
        lines += [*([""] if lines else []), *block]
    return lines


def main(argv: list[str]) -> int:
    """Run ``pbgml list``; return the exit code.

    Examples
    --------
    >>> from pbgml.cli._list import main
    >>> main(["experiment"])  # doctest: +ELLIPSIS
    cifar10_lenet
    digits_mlp
    mnist_lenet
    ...
    0
    """
    cli = parser(
        "pbgml list",
        "List registered components (with their one-line docs) and presets. "
        "For a preset group the names come first, one a line, then an empty line.",
    )
    cli.add_argument("group", nargs="?", help="a group (optimizer, metrics, experiment, ...)")
    cli.add_argument("pattern", nargs="?", help="a name pattern: 'conv*', or a part of the name")
    cli.add_argument("--config-dir", help="the user's config folder (default: ./conf if present)")
    args = parse_args(cli, argv)
    if isinstance(args, int):
        return args
    config_dir: str | None = args.config_dir
    word: str | None = args.group
    pattern = _matcher(args.pattern)
    if word is None:
        lines = _everything(None, config_dir)
    else:
        try:
            group = find_group(word, config_dir)
        except UsageError:
            if args.pattern is not None or not _GLOB & set(word):
                raise
            # `pbgml list 'conv*'`: a pattern over every group
            lines = _everything(_matcher(word), config_dir)
            if not lines:
                raise UsageError(
                    f"nothing matches {word!r}; or {unknown_group_message(word, config_dir)}"
                ) from None
        else:
            lines = _one_group(group, pattern, config_dir)
    return write("\n".join(lines) + "\n")


def write(text: str) -> int:
    """Print ``text``; a reader that went away (``pbgml list | head``) is fine: return 0."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the flush at exit does not fail again
    return 0
