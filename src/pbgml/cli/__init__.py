"""The ``pbgml`` command: ``train``, ``list``, ``show``, ``check``, ``plot``, ``export``, ``predict``.

``pbgml <command> [args]`` (console script) and ``python -m pbgml <command> [args]`` are
the same program: :func:`main`. Each command lives in its own private module
(``pbgml.cli._<command>``) that exposes ``main(argv) -> int`` and is imported only
when that command runs, so ``pbgml list`` never pays for Hydra's app machinery.

Exit codes: 0 success, 2 a user mistake (bad override, unknown name, invalid config,
missing file or extra: a short message with the key and the fix, no traceback unless
``PBGML_FULL_ERROR=1`` or ``HYDRA_FULL_ERROR=1``), 1 anything else.

Examples
--------
>>> from pbgml.cli import main
>>> main(["--version"])  # doctest: +ELLIPSIS
pbgml ...
0
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from pbgml._errors import did_you_mean
from pbgml._version import __version__
from pbgml.cli._report import USAGE_ERROR, guarded

__all__ = ["COMMANDS", "main"]

#: Each command, with its one-line help, in the order ``pbgml --help`` lists them.
COMMANDS: dict[str, str] = {
    "train": "train an experiment (a Hydra app: overrides, -m sweeps, --cfg job, --help)",
    "list": "list registered components and presets: pbgml list [group] [pattern]",
    "show": "show a component's config with every field: pbgml show group/name",
    "check": "check an experiment without building it: pbgml check FILE.yaml [overrides]",
    "plot": "plot training curves from run directories: pbgml plot RUN_DIR... [--output PNG]",
    "export": "export a checkpoint: pbgml export CKPT --format onnx|exported-program|...",
    "predict": "predict with a checkpoint: pbgml predict CKPT INPUTS... [--output preds.csv]",
}


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [f"  {name:<{width}}  {doc}" for name, doc in COMMANDS.items()]
    return "usage: pbgml <command> [args]\n\ncommands:\n" + "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``pbgml`` command with ``argv`` (``sys.argv[1:]`` when None); return its exit code.

    Examples
    --------
    >>> from pbgml.cli import main
    >>> main(["no-such-command"])
    pbgml: unknown command 'no-such-command'. Commands: train, list, show, check, plot, export, predict
    2
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        sys.stdout.write(_usage())
        return 0 if args else USAGE_ERROR
    if args[0] in ("-V", "--version"):
        print(f"pbgml {__version__}")
        return 0
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        hint = did_you_mean(command, COMMANDS)
        print(f"pbgml: unknown command {command!r}.{hint} Commands: {', '.join(COMMANDS)}")
        return USAGE_ERROR
    module = importlib.import_module(f"pbgml.cli._{command}")
    return guarded(lambda: int(module.main(rest)))


def console() -> None:
    """Entry point of the ``pbgml`` console script: :func:`main` with ``sys.exit``."""
    sys.exit(main())
