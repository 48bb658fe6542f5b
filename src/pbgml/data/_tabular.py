"""Tabular and array datasets: scikit-learn's digits, CSV files, saved tensors (.pt/.npz)."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from pbgml._errors import did_you_mean
from pbgml._optional import needs
from pbgml.data._datasets import ArrayDataset
from pbgml.data._errors import DataError, malformed, missing, require
from pbgml.data._transforms import Transform

__all__ = ["CSVDataset", "Digits", "TensorFileDataset"]


def _unknown_column(param: str, name: str, columns: Sequence[str], path: str) -> DataError:
    return DataError(
        f"{param}={name!r} is not a column of {path}.{did_you_mean(name, columns)} "
        f"Columns: {', '.join(repr(c) for c in columns)}.",
        path=path,
        param=param,
    )


@needs("sklearn", extra="sklearn")
class Digits(ArrayDataset):
    """scikit-learn's handwritten digits: 1797 images of 8x8 pixels, ten classes.

    Real data shipped with scikit-learn (``sklearn.datasets.load_digits``; needs
    ``pip install pbgml[sklearn]``). Pixels are scaled from 0-16 to [0, 1].

    Parameters
    ----------
    flatten
        Samples as 64 features (for an MLP), else as ``1x8x8`` images (for a CNN).
    transform, target_transform
        Applied to a sample / a label when it is read.

    Examples
    --------
    >>> from pbgml.data import Digits
    >>> ds = Digits()
    >>> len(ds), ds.sample_shape, ds.num_classes, float(ds.data.max())
    (1797, (64,), 10, 1.0)
    >>> Digits(flatten=False).sample_shape
    (1, 8, 8)
    """

    def __init__(
        self,
        flatten: bool = True,
        *,
        transform: Transform | None = None,
        target_transform: Transform | None = None,
    ) -> None:
        datasets = require("sklearn.datasets", extra="sklearn", purpose="the digits dataset")
        bunch = datasets.load_digits()
        images = torch.as_tensor(bunch.images, dtype=torch.float32) / 16.0
        data = images.reshape(len(images), -1) if flatten else images.unsqueeze(1)
        targets = torch.as_tensor(bunch.target, dtype=torch.long)
        super().__init__(
            data,
            targets,
            transform=transform,
            target_transform=target_transform,
            classes=[str(i) for i in range(10)],
        )
        self.flatten = flatten


def _integer_labels(values: list[str]) -> list[int] | None:
    labels = []
    for value in values:
        try:
            number = float(value)
        except ValueError:
            return None
        if not math.isfinite(number) or number != int(number) or number < 0:
            return None
        labels.append(int(number))
    return labels


class CSVDataset(ArrayDataset):
    """Numeric feature columns and one target column of a CSV file with a header row.

    Read with the standard :mod:`csv` module (UTF-8, a byte-order mark is skipped).
    Features become a float32 tensor. The target is a class index (integers are
    kept, other values such as ``"setosa"`` become the index of their sorted name),
    or, with ``regression=True``, a float tensor of shape ``(N, 1)``.

    Parameters
    ----------
    path
        The CSV file.
    target
        The target column's name.
    features
        The feature columns (default: every column but the target).
    delimiter
        The field separator.
    regression
        Read the target as a float instead of a class.
    classes
        The class names in index order, e.g. the training file's ``classes`` when
        reading its validation or test file, so a label gets the same index in every
        file. A label that is not one of them raises :class:`~pbgml.data.DataError`
        (``param="classes"``). Default: the labels of this file.
    transform, target_transform
        Applied to a sample / a target when it is read.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from pbgml.data import CSVDataset
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "iris.csv"
    >>> _ = path.write_text("length,width,species\\n5.1,3.5,setosa\\n7.0,3.2,versicolor\\n")
    >>> ds = CSVDataset(path, target="species")
    >>> ds.classes, ds.data.shape, ds[1][1].item()
    (['setosa', 'versicolor'], torch.Size([2, 2]), 1)
    >>> try:
    ...     CSVDataset(path, target="specie")
    ... except ValueError as err:
    ...     print(str(err).split(".csv.")[1].strip())
    Did you mean 'species'? Columns: 'length', 'width', 'species'.
    >>> test = path.with_name("test.csv")
    >>> _ = test.write_text("length,width,species\\n6.3,3.3,versicolor\\n")
    >>> CSVDataset(test, target="species", classes=ds.classes).targets.tolist()
    [1]
    """

    def __init__(
        self,
        path: str,
        target: str,
        features: Sequence[str] | None = None,
        delimiter: str = ",",
        regression: bool = False,
        classes: Sequence[str] | None = None,
        *,
        transform: Transform | None = None,
        target_transform: Transform | None = None,
    ) -> None:
        where = os.fspath(path)
        try:
            with open(where, newline="", encoding="utf-8-sig") as file:
                rows = [row for row in csv.reader(file, delimiter=delimiter) if row]
        except FileNotFoundError as err:
            raise missing(
                "path",
                where,
                "a CSV file with a header row",
                where,
                problem="there is no such file",
            ) from err
        except (UnicodeDecodeError, csv.Error) as err:
            raise malformed("path", where, where, f"not a readable CSV file ({err})") from err
        if len(rows) < 2:
            raise malformed("path", where, where, "expected a header row and at least one data row")
        columns = [name.strip() for name in rows[0]]
        if target not in columns:
            raise _unknown_column("target", target, columns, where)
        chosen = [c for c in columns if c != target] if features is None else list(features)
        for name in chosen:
            if name not in columns:
                raise _unknown_column("features", name, columns, where)
        feature_idx = [columns.index(c) for c in chosen]
        target_idx = columns.index(target)
        values: list[list[float]] = []
        raw_targets: list[str] = []
        for line, row in enumerate(rows[1:], start=2):
            if len(row) != len(columns):
                raise malformed(
                    "path",
                    where,
                    where,
                    f"line {line} has {len(row)} fields, the header {len(columns)}",
                )
            try:
                values.append([float(row[i]) for i in feature_idx])
            except ValueError:
                bad = next(i for i in feature_idx if not _is_float(row[i]))
                raise malformed(
                    "path",
                    where,
                    where,
                    f"line {line}, column {columns[bad]!r}: {row[bad]!r} is not a number "
                    "(choose numeric columns with features=[...])",
                ) from None
            raw_targets.append(row[target_idx].strip())
        data = torch.tensor(values, dtype=torch.float32)
        names: list[str] | None = None
        if regression:
            if not all(_is_float(v) for v in raw_targets):
                bad_value = next(v for v in raw_targets if not _is_float(v))
                raise malformed(
                    "path", where, where, f"target {target!r} holds {bad_value!r}, not a number"
                )
            targets = torch.tensor([[float(v)] for v in raw_targets], dtype=torch.float32)
        elif classes is not None:
            names = [str(c) for c in classes]
            targets = torch.tensor(_known_labels(raw_targets, names, where), dtype=torch.long)
        else:
            labels = _integer_labels(raw_targets)
            if labels is None:
                names = sorted(set(raw_targets))
                lookup = {name: i for i, name in enumerate(names)}
                labels = [lookup[v] for v in raw_targets]
            else:
                names = [str(i) for i in range(max(labels) + 1)]
            targets = torch.tensor(labels, dtype=torch.long)
        super().__init__(
            data, targets, transform=transform, target_transform=target_transform, classes=names
        )
        self.path = where
        self.columns = chosen


def _known_labels(raw: list[str], classes: list[str], where: str) -> list[int]:
    """Class indices of ``raw`` labels in the given ``classes`` (an error for any other)."""
    lookup = {name: i for i, name in enumerate(classes)}
    numbered = classes == [str(i) for i in range(len(classes))]
    numbers = _integer_labels(raw) if numbered else None
    labels: list[int] = []
    for line, value in enumerate(raw, start=2):
        index = lookup.get(value)
        if index is None and numbers is not None and numbers[line - 2] < len(classes):
            index = numbers[line - 2]  # "1.0" is class 1
        if index is None:
            shown = ", ".join(repr(c) for c in classes)
            raise DataError(
                f"classes: the label {value!r} (line {line} of {where}) is not one of the "
                f"known classes [{shown}].{did_you_mean(value, classes)}",
                path=where,
                param="classes",
            )
        labels.append(index)
    return labels


def _is_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _as_tensor(value: Any, key: str, where: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        tensor = value
    elif hasattr(value, "__array_interface__"):
        tensor = torch.as_tensor(value)
    else:
        raise malformed("path", where, where, f"{key!r} is a {type(value).__name__}, not an array")
    return tensor.float() if tensor.is_floating_point() else tensor


class TensorFileDataset(ArrayDataset):
    """Samples and targets saved in a ``.pt`` file (``torch.save``) or an ``.npz`` file.

    A ``.pt`` file holds a dict of tensors (keys ``x_key`` and ``y_key``) or an
    ``(x, y)`` tuple, and is loaded with ``weights_only=True`` (no arbitrary
    pickles); an ``.npz`` file (``numpy.savez``) is loaded with
    ``allow_pickle=False``. Floating arrays become float32; integer 1-D targets
    are class indices.

    Parameters
    ----------
    path
        The ``.pt`` or ``.npz`` file.
    x_key, y_key
        The names of the samples and the targets in the file.
    transform, target_transform
        Applied to a sample / a target when it is read.

    Examples
    --------
    >>> import pathlib, tempfile, torch
    >>> from pbgml.data import TensorFileDataset
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "train.pt"
    >>> torch.save({"x": torch.randn(6, 4), "y": torch.tensor([0, 1, 2, 0, 1, 2])}, path)
    >>> ds = TensorFileDataset(path)
    >>> len(ds), ds.sample_shape, ds.num_classes
    (6, (4,), 3)
    """

    def __init__(
        self,
        path: str,
        x_key: str = "x",
        y_key: str = "y",
        *,
        transform: Transform | None = None,
        target_transform: Transform | None = None,
    ) -> None:
        where = os.fspath(path)
        suffix = Path(where).suffix.lower()
        if suffix not in (".pt", ".pth", ".npz"):
            raise DataError(
                f"path={where!r}: expected a .pt (torch.save) or .npz (numpy.savez) file",
                path=where,
                param="path",
            )
        if not os.path.isfile(where):
            raise missing(
                "path",
                where,
                f"a {suffix} file of samples and targets",
                where,
                problem="there is no such file",
            )
        content = self._load(where, suffix)
        if isinstance(content, tuple | list) and len(content) == 2:
            x, y = content
        elif isinstance(content, dict):
            keys = [str(k) for k in content]
            for param, key in (("x_key", x_key), ("y_key", y_key)):
                if key not in content:
                    raise DataError(
                        f"{param}={key!r} is not in {where}.{did_you_mean(key, keys)} "
                        f"Keys: {', '.join(repr(k) for k in keys)}.",
                        path=where,
                        param=param,
                    )
            x, y = content[x_key], content[y_key]
        else:
            raise malformed(
                "path",
                where,
                where,
                f"expected a dict or an (x, y) tuple, got {type(content).__name__}",
            )
        data, targets = _as_tensor(x, x_key, where), _as_tensor(y, y_key, where)
        if len(data) != len(targets):
            raise malformed(
                "path", where, where, f"{len(data)} samples ({x_key!r}) but {len(targets)} targets"
            )
        classes = None
        if targets.ndim == 1 and not targets.is_floating_point() and len(targets):
            targets = targets.long()
            classes = [str(i) for i in range(int(targets.max()) + 1)]
        super().__init__(
            data, targets, transform=transform, target_transform=target_transform, classes=classes
        )
        self.path = where

    @staticmethod
    def _load(where: str, suffix: str) -> Any:
        if suffix == ".npz":
            numpy = require("numpy", extra=None, purpose="reading .npz files")
            try:
                with numpy.load(where, allow_pickle=False) as archive:
                    return {key: archive[key] for key in archive.files}
            except (OSError, ValueError) as err:
                raise malformed("path", where, where, f"not a numpy .npz archive ({err})") from err
        try:
            return torch.load(where, map_location="cpu", weights_only=True)
        except Exception as err:
            raise malformed(
                "path", where, where, f"not a torch.save file of tensors ({err})"
            ) from err
