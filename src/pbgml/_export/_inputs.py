"""Inputs to predict on: image files (through the eval transforms), CSV rows, tensor files.

Each input becomes one sample tensor with an id (the file, or ``file:line`` for a CSV
row, ``file[i]`` for a row of a tensor file), checked against the model's sample shape.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from pbgml._errors import require
from pbgml._export._errors import ExportError, _MissingFileError

__all__ = ["IMAGE_SUFFIXES", "expand", "read_inputs", "to_image_tensor"]

IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".pgm", ".png", ".ppm", ".tif", ".tiff", ".webp")
_TENSOR_SUFFIXES = (".pt", ".pth")
_KINDS = (
    "images (" + ", ".join(IMAGE_SUFFIXES) + "), a CSV of features (.csv) or a tensor file "
    "(.pt, saved with torch.save)"
)


def _dims(shape: Sequence[int]) -> str:
    return "x".join(str(s) for s in shape) or "()"


def expand(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The input files: each file as given, each folder's images and CSV/tensor files (sorted,
    recursively).

    Examples
    --------
    >>> from pbgml._export import expand
    >>> try:
    ...     expand(["no/such.png"])
    ... except FileNotFoundError as err:
    ...     print(err)
    no/such.png: no such file or folder
    """
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in (*IMAGE_SUFFIXES, *_TENSOR_SUFFIXES, ".csv")
            )
            if not found:
                raise ExportError(f"{path}: the folder holds no input file; expected {_KINDS}")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise _MissingFileError(f"{path}: no such file or folder", path=str(path))
    return files


def to_image_tensor(image: Any, transform: Any, sample_shape: Sequence[int] | None) -> torch.Tensor:
    """One PIL image as the model's input: grayscale or RGB to match the sample shape, then
    the eval transform (``to_tensor`` when there is none)."""
    channels = sample_shape[0] if sample_shape is not None and len(sample_shape) == 3 else 3
    image = image.convert({1: "L", 4: "RGBA"}.get(channels, "RGB"))
    if transform is None:
        from pbgml.data import ToTensor

        transform = ToTensor()
    out = transform(image)
    if not isinstance(out, torch.Tensor):
        raise ExportError(f"the eval transform returned a {type(out).__name__}, not a tensor")
    return out


def _image(path: Path, transform: Any, shape: Sequence[int] | None) -> torch.Tensor:
    pil = require("PIL.Image", extra="vision", purpose=f"Reading the image {path}")
    try:
        with pil.open(path) as image:
            image.load()
            return to_image_tensor(image, transform, shape)
    except OSError as err:
        raise ExportError(f"{path}: not a readable image ({err})", path=str(path)) from err


def _csv_rows(path: Path, data_cfg: Mapping[str, Any]) -> Iterator[tuple[str, torch.Tensor]]:
    text = path.read_text(encoding="utf-8-sig")
    delimiter = str(data_cfg.get("delimiter") or ",")
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        raise ExportError(
            f"{path}: the CSV file is empty; expected a header and rows of features",
            path=str(path),
        )
    features = data_cfg.get("features")
    target = data_cfg.get("target")
    first_line = 2
    lines: Iterable[list[str]] = reader
    if _numeric(header):  # no header: the first row is data, the features by position
        lines = itertools.chain([header], reader)
        first_line = 1
        columns = list(range(len(header)))
    elif features:
        missing = [f for f in features if f not in header]
        if missing:
            raise ExportError(
                f"{path}: the CSV has no column {', '.join(map(repr, missing))} (the model's "
                f"features: {', '.join(features)}; columns: {', '.join(header)})",
                path=str(path),
            )
        columns = [header.index(f) for f in features]
    else:
        columns = [i for i, name in enumerate(header) if name != target]
    count = 0
    for line, row in enumerate(lines, start=first_line):
        if not row:
            continue
        count += 1
        try:
            values = [float(row[i]) for i in columns]
        except (ValueError, IndexError):
            raise ExportError(
                f"{path}, line {line}: expected {len(columns)} numeric features, got {row!r}",
                path=str(path),
            ) from None
        if not all(math.isfinite(v) for v in values):
            raise ExportError(
                f"{path}, line {line}: a feature is not finite: {row!r}", path=str(path)
            )
        yield f"{path}:{line}", torch.tensor(values, dtype=torch.float32)
    if count == 0:
        raise ExportError(
            f"{path}: the CSV file has a header but no rows; expected rows of features",
            path=str(path),
        )


def _numeric(cells: Sequence[str]) -> bool:
    try:
        [float(cell) for cell in cells]
    except ValueError:
        return False
    return bool(cells)


def _tensor_rows(
    path: Path, shape: Sequence[int] | None, dtype: torch.dtype | None
) -> Iterator[tuple[str, torch.Tensor]]:
    try:
        value = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ExportError(
            f"{path}: not a tensor file torch.load(weights_only=True) can read "
            f"({type(err).__name__}); save inputs with torch.save(tensor, path)",
            path=str(path),
        ) from err
    if isinstance(value, Mapping):  # {"x": tensor, ...} as pbgml's tensor_file data reads
        value = next((value[k] for k in ("x", "inputs", "features") if k in value), value)
    if not isinstance(value, torch.Tensor):
        raise ExportError(
            f"{path}: expected a tensor (or a dict with an 'x' tensor), got {type(value).__name__}",
            path=str(path),
        )
    if value.dim() == 0:
        raise ExportError(
            f"{path}: the tensor is a single number (0-d); save a batch of samples "
            "(first dimension: the samples) or one sample of the model's input shape",
            path=str(path),
        )
    if value.numel() == 0:
        raise ExportError(
            f"{path}: the tensor is empty (shape {_dims(value.shape)}); save at least one sample",
            path=str(path),
        )
    if value.is_floating_point() or value.is_complex():
        bad = ~torch.isfinite(value)
        if bool(bad.any()):
            where = tuple(int(i) for i in bad.nonzero()[0])
            raise ExportError(
                f"{path}: the tensor holds {int(bad.sum())} non-finite value(s) (NaN or inf), "
                f"the first at index {list(where)}; predict on finite inputs",
                path=str(path),
            )
    if value.is_floating_point():
        value = value.float()
    elif dtype is not None and dtype.is_floating_point:  # integers for a model of floats
        value = value.to(dtype)
    if shape is not None and tuple(value.shape) == tuple(shape):
        yield str(path), value
        return
    for i, row in enumerate(value):
        yield f"{path}[{i}]", row


def read_inputs(
    paths: Iterable[Path],
    *,
    transform: Any,
    sample_shape: Sequence[int] | None,
    data_cfg: Mapping[str, Any],
    dtype: torch.dtype | None = None,
) -> Iterator[tuple[str, torch.Tensor]]:
    """Every input as ``(id, sample)``, checked against ``sample_shape`` when it is known.

    A CSV whose first row is all numbers has no header (its columns are the features, by
    position); an integer tensor is converted to ``dtype`` when that is a float dtype (the
    model's input). Empty inputs, non-finite values and 0-d tensors are refused.
    """
    for path in paths:
        suffix = path.suffix.lower()
        if suffix in IMAGE_SUFFIXES:
            rows: Iterable[tuple[str, torch.Tensor]] = [
                (str(path), _image(path, transform, sample_shape))
            ]
        elif suffix == ".csv":
            rows = _csv_rows(path, data_cfg)
        elif suffix in _TENSOR_SUFFIXES:
            rows = _tensor_rows(path, sample_shape, dtype)
        else:
            raise ExportError(
                f"{path}: cannot predict on a {suffix or 'suffix-less'} file; pass {_KINDS}",
                path=str(path),
            )
        for name, sample in rows:
            if sample_shape is not None and tuple(sample.shape) != tuple(sample_shape):
                raise ExportError(
                    f"{name}: an input of shape {_dims(sample.shape)}, but the model takes "
                    f"samples of shape {_dims(sample_shape)} (its data's sample shape); "
                    "pass inputs like the data it was trained on",
                    path=str(path),
                )
            yield name, sample
