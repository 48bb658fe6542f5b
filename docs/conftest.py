"""Doctest set-up for the pages that read files: they run in a scratch folder.

``data.rst`` reads CIFAR-10 from ``./data/cifar-10-batches-py``: a small copy in the
real format (python pickles, 5120 training images, 16 test images) is written there.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _dump(path: Path, obj: object) -> None:
    with path.open("wb") as file:
        pickle.dump(obj, file, protocol=2)


def _fake_cifar10(root: Path) -> None:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for b, count in [(1, 1024), (2, 1024), (3, 1024), (4, 1024), (5, 1024), (0, 16)]:
        labels = [int(x) for x in rng.integers(0, 10, count)]
        batch = {b"labels": labels, b"data": rng.integers(0, 256, (count, 3072), dtype=np.uint8)}
        _dump(folder / (f"data_batch_{b}" if b else "test_batch"), batch)
    _dump(folder / "batches.meta", {b"label_names": [n.encode() for n in _NAMES]})


@pytest.fixture(autouse=True)
def _scratch_folder(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = Path(str(request.node.fspath)).name
    if name in {"data.rst", "export.rst"}:
        monkeypatch.chdir(tmp_path)
    if name == "data.rst":
        _fake_cifar10(tmp_path / "data")
