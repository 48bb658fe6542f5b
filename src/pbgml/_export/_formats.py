"""The export formats: ONNX, ExportedProgram (``.pt2``) and safetensors, each verified.

Every file is checked right after it is written: the ONNX file runs in onnxruntime
and the ExportedProgram in torch, on a batch of another size than the export's, and
their outputs must match the model's within the dtype's tolerance (1e-5 for float32);
the safetensors file must give back every tensor exactly. A mismatch raises
:class:`~pbgml._export.VerificationError`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from pbgml._errors import require
from pbgml._export._errors import ExportError, VerificationError
from pbgml._export._samples import verify_batch
from pbgml._export._source import (
    FORMAT_TAG,
    META_CLASSES,
    META_CONFIG,
    META_FORMAT,
    META_SHAPE,
    META_VERSION,
    Source,
)

__all__ = ["tolerance", "write_exported_program", "write_onnx", "write_safetensors"]

#: The FutureWarning torch 2.13 raises inside ``run_decompositions`` on the ONNX path.
_LEAFSPEC_WARNING = r"`isinstance\(treespec, LeafSpec\)` is deprecated"
_MISMATCH = (
    "{path}: the {what} does not reproduce the model: on a batch of {batch} its outputs "
    "differ by up to {diff:.3g} (tolerance {atol:.0e}), so the file was removed; the "
    "model may branch on its input's values, its batch size or on being exported, which "
    "an export cannot capture"
)
_TOLERANCES = {torch.float16: 1e-3, torch.bfloat16: 1e-2, torch.float64: 1e-7}


def tolerance(dtype: torch.dtype) -> float:
    """The largest difference allowed between the model and its export, for ``dtype``.

    Examples
    --------
    >>> import torch
    >>> from pbgml._export import tolerance
    >>> tolerance(torch.float32), tolerance(torch.float16)
    (1e-05, 0.001)
    """
    return _TOLERANCES.get(dtype, 1e-5)


def _outputs(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, list | tuple):
        return [t for v in value for t in _outputs(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _outputs(v)]
    raise ExportError(f"a model output must be tensors, got {type(value).__name__}")


def _compare(expected: Any, actual: list[torch.Tensor], path: Path, what: str, batch: int) -> float:
    wanted = _outputs(expected)
    if len(wanted) != len(actual):
        raise VerificationError(
            f"{path}: the {what} returns {len(actual)} outputs, the model {len(wanted)}",
            path=str(path),
        )
    worst, atol = 0.0, 1e-5
    for want, got in zip(wanted, actual, strict=True):
        got = got.to(want.device)
        atol = tolerance(want.dtype)
        if got.shape != want.shape:
            raise VerificationError(
                f"{path}: the {what} returns shape {tuple(got.shape)} on a batch of "
                f"{batch}, the model {tuple(want.shape)}; the batch dimension is not dynamic",
                path=str(path),
            )
        if want.is_floating_point():
            scale = want.abs().clamp(min=1.0)
            diff = float(((got.to(want.dtype) - want).abs() / scale).max()) if want.numel() else 0.0
        else:
            diff = float((got != want).any())
        worst = max(worst, diff)
        if diff > atol:
            raise VerificationError(
                _MISMATCH.format(path=path, what=what, batch=batch, diff=diff, atol=atol),
                path=str(path),
            )
    return worst


@contextlib.contextmanager
def _quiet_onnx() -> Iterator[None]:
    """The ONNX exporter's known noise: one torch FutureWarning and its registry logs."""
    logger = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = logger.level
    logger.setLevel(logging.ERROR)  # "torchvision is not installed. Skipping torchvision::nms"
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_LEAFSPEC_WARNING, category=FutureWarning)
            yield
    finally:
        logger.setLevel(level)


def _large(model: torch.nn.Module) -> bool:
    """Whether the weights need ONNX's external data (protobuf's 2 GB limit): else one file."""
    size = sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))
    return size > 1_500_000_000


def _dynamic(sample: torch.Tensor) -> tuple[dict[int, Any]]:
    return ({0: torch.export.Dim("batch")},)


def write_onnx(source: Source, sample: torch.Tensor, path: Path) -> float:
    """Export to ONNX (``torch.onnx.export(dynamo=True)``, dynamic batch) and verify it in
    onnxruntime; returns the largest difference seen."""
    require("onnx", extra="onnx", purpose="Exporting to ONNX")
    require("onnxscript", extra="onnx", purpose="Exporting to ONNX")
    ort = require("onnxruntime", extra="onnx", purpose="Checking an ONNX export")
    try:
        with _quiet_onnx(), torch.no_grad():
            torch.onnx.export(
                source.model,
                (sample,),
                str(path),
                dynamo=True,
                dynamic_shapes=_dynamic(sample),
                input_names=["input"],
                output_names=["output"],
                verbose=False,
                external_data=_large(source.model),
            )
    except Exception as err:
        raise ExportError(_failed(source, "ONNX", err), path=str(path)) from err
    batch = verify_batch(sample)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    got = [torch.from_numpy(a) for a in session.run(None, {name: batch.cpu().numpy()})]
    with torch.no_grad():
        expected = source.model(batch)
    return _compare(expected, got, path, "ONNX model (run in onnxruntime)", len(batch))


def _failed(source: Source, what: str, err: BaseException) -> str:
    first = next((line.strip() for line in str(err).splitlines() if line.strip()), "")
    return (
        f"{source.name}: the model cannot be exported to {what} ({type(err).__name__}: "
        f"{first[:300]}); torch.export needs a forward without data-dependent Python "
        "control flow"
    )


def write_exported_program(source: Source, sample: torch.Tensor, path: Path) -> float:
    """Export with :func:`torch.export.export` (dynamic batch), save a ``.pt2``, load it back
    and verify it; returns the largest difference seen."""
    if path.suffix != ".pt2":  # torch.export.load reads only files named *.pt2
        raise ExportError(f"{path}: an ExportedProgram's name ends with .pt2", path=str(path))
    try:
        with torch.no_grad():
            program = torch.export.export(source.model, (sample,), dynamic_shapes=_dynamic(sample))
    except Exception as err:
        raise ExportError(_failed(source, "an ExportedProgram", err), path=str(path)) from err
    torch.export.save(program, str(path))
    loaded = torch.export.load(str(path))
    batch = verify_batch(sample)
    with torch.no_grad():
        got = _outputs(loaded.module()(batch))
        expected = source.model(batch)
    return _compare(expected, got, path, "ExportedProgram", len(batch))


def write_safetensors(source: Source, path: Path) -> float:
    """Write the weights with the config, classes and sample shape as metadata; read the
    file back and check every tensor is identical (returns 0.0)."""
    st = require("safetensors.torch", extra="safetensors", purpose="Writing safetensors")
    from pbgml._version import __version__

    metadata = {META_FORMAT: FORMAT_TAG, META_VERSION: str(__version__)}
    if source.config_text is not None:
        metadata[META_CONFIG] = source.config_text
    if source.classes is not None:
        metadata[META_CLASSES] = json.dumps(source.classes)
    if source.sample_shape is not None:
        metadata[META_SHAPE] = json.dumps(list(source.sample_shape))
    st.save_model(source.model, str(path), metadata=metadata)
    expected = source.model.state_dict()
    with st.safe_open(str(path), framework="pt") as handle:
        keys = set(handle.keys())
        for key in keys:
            if key not in expected or not torch.equal(handle.get_tensor(key), expected[key]):
                raise VerificationError(
                    f"{path}: the tensor {key!r} read back differs from the model's",
                    path=str(path),
                )
    return 0.0
