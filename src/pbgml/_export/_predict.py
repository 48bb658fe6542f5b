"""Predictions of a rebuilt model: one row per input, in batches, on the GPU when there is one."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import torch

from pbgml._export._errors import ExportError
from pbgml._export._source import Source

__all__ = ["header", "predict_rows", "probabilities_row", "write_csv"]


def _labels(source: Source, width: int) -> list[str]:
    classes = source.classes
    if classes is not None and len(classes) == width:
        return list(classes)
    return [str(i) for i in range(width)]


def unique_keys(labels: Sequence[str]) -> list[str]:
    """The labels as distinct keys: a label shared by several classes gets ``#<index>``.

    Examples
    --------
    >>> from pbgml._export._predict import unique_keys
    >>> unique_keys(["cat", "dog", "cat"])
    ['cat#0', 'dog', 'cat#2']
    """
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    keys: list[str] = []
    taken = {label for label, n in counts.items() if n == 1}
    for index, label in enumerate(labels):
        key = label
        if counts[label] > 1:
            key = f"{label}#{index}"
            while key in taken:  # "cat#2" could itself be a class name
                key += "#"
        taken.add(key)
        keys.append(key)
    return keys


def probabilities_row(logits: torch.Tensor, labels: Sequence[str]) -> dict[str, Any]:
    """The predicted class, its label and every class's probability, for one sample's logits.

    The probabilities are keyed by label, made distinct (:func:`unique_keys`) when
    several classes share one, so that no class is lost.

    Examples
    --------
    >>> import torch
    >>> from pbgml._export import probabilities_row
    >>> row = probabilities_row(torch.tensor([0.0, 2.0]), ["cat", "dog"])
    >>> row["class"], row["label"], round(row["probabilities"]["dog"], 3)
    (1, 'dog', 0.881)
    """
    probs = torch.softmax(logits.float(), dim=-1)
    index = int(probs.argmax())
    return {
        "class": index,
        "label": labels[index],
        "probabilities": {key: float(p) for key, p in zip(unique_keys(labels), probs, strict=True)},
    }


def _batches(
    inputs: Iterable[tuple[str, torch.Tensor]], size: int
) -> Iterator[tuple[list[str], torch.Tensor]]:
    names: list[str] = []
    samples: list[torch.Tensor] = []
    for name, sample in inputs:
        if samples and sample.shape != samples[0].shape:
            raise ExportError(
                f"{name}: shape {tuple(sample.shape)} differs from {names[0]}'s "
                f"{tuple(samples[0].shape)}; inputs of one prediction must share a shape"
            )
        names.append(name)
        samples.append(sample)
        if len(samples) == size:
            yield names, torch.stack(samples)
            names, samples = [], []
    if samples:
        yield names, torch.stack(samples)


def predict_rows(
    source: Source,
    inputs: Iterable[tuple[str, torch.Tensor]],
    *,
    batch_size: int = 64,
    device: str | torch.device | None = None,
) -> Iterator[dict[str, Any]]:
    """One row per input: ``input`` and, for a classifier, ``class``, ``label`` and
    ``probabilities`` (a label -> probability dict); for a regression, ``prediction``.

    Examples
    --------
    >>> import torch
    >>> from pbgml._export import Source, predict_rows
    >>> model = torch.nn.Linear(2, 2)
    >>> rows = list(predict_rows(Source(model, classes=["a", "b"]), [("x", torch.zeros(2))]))
    >>> rows[0]["input"], sorted(rows[0]["probabilities"])
    ('x', ['a', 'b'])
    """
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    model = source.model.to(device).eval()
    with torch.no_grad():
        for names, batch in _batches(inputs, batch_size):
            outputs = model(batch.to(device)).detach().cpu()
            for name, out in zip(names, outputs, strict=True):
                if source.is_regression:
                    value = out.reshape(-1).tolist()
                    yield {"input": name, "prediction": value[0] if len(value) == 1 else value}
                else:
                    labels = _labels(source, out.shape[-1])
                    yield {"input": name, **probabilities_row(out.reshape(-1), labels)}


def header(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The CSV columns of ``rows``: input, class, label, then ``prob_<label>`` per class."""
    if not rows:
        return ["input", "class", "label"]
    first = rows[0]
    if "probabilities" in first:
        return ["input", "class", "label", *(f"prob_{k}" for k in first["probabilities"])]
    return ["input", "prediction"]


def write_csv(rows: Sequence[dict[str, Any]], out: io.TextIOBase | Any) -> None:
    """Write the rows as CSV (one line per input) to a text stream."""
    writer = csv.writer(out)
    writer.writerow(header(rows))
    for row in rows:
        if "probabilities" in row:
            probs = [f"{p:.6g}" for p in row["probabilities"].values()]
            writer.writerow([row["input"], row["class"], row["label"], *probs])
        else:
            writer.writerow([row["input"], row["prediction"]])
