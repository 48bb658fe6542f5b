"""``pbgml predict CKPT INPUTS... [--output preds.csv]``: one row per input.

Inputs are image files or folders of them (through the data config's eval
transforms), CSV files of features, or tensor files (``torch.save``, read with
``weights_only``). The rows (input, predicted class, its label, each class's
probability) go to ``--output`` or to stdout, as CSV; inputs run in batches, on the GPU
when there is one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pbgml.cli._report import UsageError

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see pbgml predict --help)")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _device(text: str | None) -> str | None:
    """``--device`` checked before any work: a device torch knows, and one this machine has."""
    if text is None:
        return None
    import torch

    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise UsageError(
            f"--device {text!r} is not a device; pass cpu, cuda, cuda:1 or mps"
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"--device {text}: CUDA is not available here; pass --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UsageError(
                f"--device {text}: this machine has {torch.cuda.device_count()} CUDA device(s)"
            )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UsageError(f"--device {text}: MPS is not available here; pass --device cpu")
    return text


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pbgml predict",
        description="Predict with a checkpoint (or a safetensors file from pbgml export).",
    )
    parser.add_argument("checkpoint", help="a .ckpt or .safetensors written by pbgml")
    parser.add_argument("inputs", nargs="+", help="images, folders of images, .csv or .pt files")
    parser.add_argument("--output", "-o", default=None, help="the CSV to write (default: stdout)")
    parser.add_argument("--batch-size", type=_positive, default=64, help="inputs per batch")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: GPU if any)")
    parser.add_argument(
        "--allow", action="append", default=[], metavar="PREFIX", help="your model's module prefix"
    )
    return parser


def main(argv: list[str]) -> int:
    """Run ``pbgml predict``; return the exit code (2 for a user mistake).

    Examples
    --------
    >>> from pbgml.cli._predict import main
    >>> main(["--help"])  # doctest: +ELLIPSIS
    usage: pbgml predict ...
    0
    """
    from pbgml._export import (
        ExportError,
        eval_transform,
        expand,
        predict_rows,
        read_inputs,
        read_source,
    )
    from pbgml._export._predict import write_csv
    from pbgml._export._samples import _dtype

    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_:  # --help
        return int(exit_.code or 0)
    device = _device(args.device)
    output = None if args.output is None else Path(args.output)
    if output is not None and output.is_dir():
        raise UsageError(f"--output {output} is a folder; pass the CSV file to write")
    source = read_source(args.checkpoint, allow=args.allow)
    files = expand(args.inputs)
    data_cfg = source.experiment.get("data")
    inputs = read_inputs(
        files,
        transform=eval_transform(source.experiment),
        sample_shape=source.sample_shape,
        data_cfg=data_cfg if isinstance(data_cfg, dict) else {},
        dtype=_dtype(source),
    )
    rows = list(predict_rows(source, inputs, batch_size=args.batch_size, device=device))
    if output is None:
        write_csv(rows, sys.stdout)
    else:
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            with output.open("w", encoding="utf-8", newline="") as f:
                write_csv(rows, f)
        except OSError as err:
            raise ExportError(
                f"{output}: cannot write the predictions there ({err.strerror or err}); "
                "pass another --output",
                path=str(output),
            ) from err
        print(f"wrote {len(rows)} predictions to {output}", file=sys.stderr)
    return 0
