"""``pbgml export CKPT --format onnx|exported-program|safetensors|torchserve [--output PATH]``.

Rebuilds the model from the checkpoint's own config, writes the file (next to the
checkpoint, with the format's suffix, unless ``--output`` says where) and verifies it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pbgml.cli._report import UsageError

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see pbgml export --help)")


def _parser() -> argparse.ArgumentParser:
    from pbgml._export import FORMATS

    parser = _Parser(
        prog="pbgml export",
        description="Export a checkpoint (or a run folder, or a safetensors file) and "
        "verify the file: ONNX and the ExportedProgram are run against the model.",
    )
    parser.add_argument("checkpoint", help="a .ckpt written by pbgml (or its run folder)")
    parser.add_argument(
        "--format", "-f", required=True, choices=list(FORMATS), help="the export format"
    )
    parser.add_argument(
        "--output", "-o", default=None, help="the file to write (default: CKPT with the suffix)"
    )
    parser.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="PREFIX",
        help="a module prefix your model's target lives under (repeatable)",
    )
    return parser


def main(argv: list[str]) -> int:
    """Run ``pbgml export``; return the exit code (2 for a user mistake).

    Examples
    --------
    >>> from pbgml.cli._export import main
    >>> main(["--help"])  # doctest: +ELLIPSIS
    usage: pbgml export ...
    0
    """
    from pbgml._export import FORMATS, _export

    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_:  # --help
        return int(exit_.code or 0)
    source = Path(args.checkpoint)
    if args.output is not None:
        output = Path(args.output)
    else:
        base = source / "checkpoints" / "last.ckpt" if source.is_dir() else source
        output = base.with_suffix(FORMATS[args.format][0])
    written, verified = _export(source, args.format, output, sample=None, allow=args.allow)
    print(f"wrote {written} ({args.format}, {'verified' if verified else 'not verified'})")
    return 0
