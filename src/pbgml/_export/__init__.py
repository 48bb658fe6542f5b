"""Export and inference: :func:`pbgml.export` and :func:`pbgml.load_model`.

A trained model leaves pbgml as ONNX, a ``torch.export`` ExportedProgram (``.pt2``),
safetensors (weights plus the config, from which the model is rebuilt) or a TorchServe
archive; every file is verified right after it is written. The run layer: it reads
pbgml's checkpoints and rebuilds models through the config layer's allowlist.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import torch

from pbgml._errors import did_you_mean
from pbgml._export._errors import ExportError, VerificationError
from pbgml._export._formats import (
    tolerance,
    write_exported_program,
    write_onnx,
    write_safetensors,
)
from pbgml._export._inputs import expand, read_inputs
from pbgml._export._predict import predict_rows, probabilities_row, write_csv
from pbgml._export._samples import eval_transform, sample_batch, verify_batch
from pbgml._export._serve import verify_torchserve, write_torchserve
from pbgml._export._source import Source, build_model, load_model, read_source, strip_prefix

__all__ = [
    "FORMATS",
    "ExportError",
    "Source",
    "VerificationError",
    "build_model",
    "eval_transform",
    "expand",
    "export",
    "load_model",
    "predict_rows",
    "probabilities_row",
    "read_inputs",
    "read_source",
    "sample_batch",
    "strip_prefix",
    "tolerance",
    "verify_batch",
    "write_csv",
]

#: Each format, its file suffix and the extra it needs.
FORMATS: dict[str, tuple[str, str]] = {
    "onnx": (".onnx", "onnx"),
    "exported-program": (".pt2", "export (torch only)"),
    "safetensors": (".safetensors", "safetensors"),
    "torchserve": (".mar", "serve"),
}


def export(
    checkpoint_or_model: str | os.PathLike[str] | torch.nn.Module,
    format: str,
    path: str | os.PathLike[str],
    *,
    sample: torch.Tensor | None = None,
    allow: Iterable[str] = (),
) -> Path:
    """Export a trained model to ``format`` at ``path``, and verify the file.

    ``checkpoint_or_model`` is a checkpoint written by :func:`pbgml.run` (the model is
    rebuilt from its own config through the allowlist, the weights loaded with
    ``weights_only``), a safetensors file from :func:`pbgml.export`, a run folder (its
    ``checkpoints/last.ckpt``) or a :class:`torch.nn.Module`. The formats:

    ``onnx``
        ``torch.onnx.export(dynamo=True)`` with a dynamic batch dimension; run in
        onnxruntime right after (extra ``onnx``).
    ``exported-program``
        :func:`torch.export.export` saved as ``.pt2`` (dynamic batch); loaded back and run.
        :func:`pbgml.load_model` refuses a ``.pt2`` (loading one can run code): load
        one you trust with :func:`torch.export.load`.
    ``safetensors``
        The weights, with the experiment's config, the class names and the sample
        shape as metadata: :func:`pbgml.load_model` rebuilds the model from it alone
        (extra ``safetensors``).
    ``torchserve``
        A ``.mar`` archive with pbgml's handler (extra ``serve``); the handler is run
        in-process on a sample batch sent as JSON and its probabilities compared with
        the model's (skipped when no sample can be made: no sample shape, token ids).

    ONNX and the ExportedProgram are checked on a batch of another size than the
    export's: their outputs must match the model's within 1e-5 for float32 (relative
    to values above 1; the dtype's tolerance otherwise).

    Parameters
    ----------
    checkpoint_or_model
        What to export.
    format
        ``"onnx"``, ``"exported-program"``, ``"safetensors"`` or ``"torchserve"``.
    path
        The file to write, named with the format's suffix (its folder is created); it
        is replaced only once the new file is written and verified, and never when it
        is the file being exported.
    sample
        A batch of inputs to trace with; by default two random samples of the shape
        the checkpoint's data recorded (needed for a model object).
    allow
        Extra allowed target prefixes for the model's config (your own modules).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    pbgml.ExportError
        A bad checkpoint, an unknown format, an output without the format's suffix
        or that is the input itself, a model torch.export cannot capture, or an
        export whose outputs differ (:class:`~pbgml._export.VerificationError`).
    pbgml.MissingExtraError
        The format's extra is not installed (``pip install pbgml[onnx]``).

    Examples
    --------
    >>> import tempfile, torch, pbgml
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU())
    >>> out = pbgml.export(model, "exported-program", f"{tempfile.mkdtemp()}/m.pt2",
    ...                    sample=torch.randn(2, 4))
    >>> out.suffix, torch.export.load(out).module()(torch.randn(5, 4)).shape
    ('.pt2', torch.Size([5, 3]))
    """
    return _export(checkpoint_or_model, format, path, sample=sample, allow=allow)[0]


def _export(
    checkpoint_or_model: str | os.PathLike[str] | torch.nn.Module,
    format: str,
    path: str | os.PathLike[str],
    *,
    sample: torch.Tensor | None,
    allow: Iterable[str],
) -> tuple[Path, bool]:
    """:func:`export`, and whether the file was verified (a TorchServe archive is not when
    no sample can be made for its handler)."""
    if format not in FORMATS:
        hint = did_you_mean(format, FORMATS)
        raise ExportError(
            f"format={format!r} is not an export format.{hint} Choose one of {', '.join(FORMATS)}"
        )
    target = Path(path)
    suffix = FORMATS[format][0]
    if target.suffix != suffix:  # exactly: torch.export.load and TorchServe need it so
        raise ExportError(
            f"{target}: a {format} export's name ends with {suffix} (got "
            f"{target.suffix or 'no suffix'}); pass an output such as "
            f"{target.with_suffix(suffix).name}",
            path=str(target),
        )
    if isinstance(checkpoint_or_model, str | os.PathLike):
        given = Path(checkpoint_or_model)
        if target.exists() and given.exists() and os.path.samefile(given, target):
            raise ExportError(
                f"{target}: the output is the file being exported; pass another --output",
                path=str(target),
            )
    if target.is_dir():
        raise ExportError(f"{target}: a folder; pass the file to write", path=str(target))
    source = read_source(checkpoint_or_model, allow=allow)
    # written in a private folder next to the target, moved in place once verified: an
    # existing file is replaced only by a complete, verified export
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        private = tempfile.TemporaryDirectory(prefix=".pbgml-export-", dir=target.parent)
    except OSError as err:
        raise ExportError(_unwritable(target, err), path=str(target)) from err
    with private as tmp:
        staged = Path(tmp) / target.name
        verified = True
        try:
            if format == "safetensors":
                write_safetensors(source, staged)
            elif format == "torchserve":
                write_torchserve(source, staged)
                verified = verify_torchserve(source, staged)
            else:
                batch = sample_batch(source, sample)
                if format == "onnx":
                    write_onnx(source, batch, staged)
                else:
                    write_exported_program(source, batch, staged)
        except ExportError as err:  # name the target, not the private folder
            raise type(err)(
                str(err).replace(str(staged), str(target)), path=str(target)
            ) from err.__cause__
        try:
            for produced in sorted(Path(tmp).iterdir()):  # the file (and ONNX external data)
                os.replace(produced, target.parent / produced.name)
        except OSError as err:
            raise ExportError(_unwritable(target, err), path=str(target)) from err
    return target, verified


def _unwritable(target: Path, err: OSError) -> str:
    return f"{target}: cannot write the export there ({err.strerror or err}); pass another path"
