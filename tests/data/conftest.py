"""Writers of small data files in the REAL formats (CIFAR pickles, IDX), as fixtures."""

from __future__ import annotations

import gzip
import pickle
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

CIFAR10_NAMES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]


def cifar_rows(labels: list[int]) -> np.ndarray:
    """Rows of 3072 bytes: red plane = label, green = 100 + label, blue = 200 + label."""
    rows = np.zeros((len(labels), 3072), dtype=np.uint8)
    for i, label in enumerate(labels):
        rows[i, :1024] = label
        rows[i, 1024:2048] = 100 + label
        rows[i, 2048:] = 200 + label
    return rows


def dump(path: Path, obj: object) -> None:
    """Pickle as the official files are: protocol 2, bytes keys."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as file:
        pickle.dump(obj, file, protocol=2)


@pytest.fixture
def cifar10_root(tmp_path: Path) -> Path:
    """``tmp/cifar-10-batches-py`` with 5 train batches of 8 images and a test batch of 6."""
    folder = tmp_path / "cifar-10-batches-py"
    for b in range(1, 6):
        labels = [(b + i) % 10 for i in range(8)]
        batch = {
            b"batch_label": f"training batch {b} of 5".encode(),
            b"labels": labels,
            b"data": cifar_rows(labels),
            b"filenames": [f"img_{b}_{i}.png".encode() for i in range(8)],
        }
        dump(folder / f"data_batch_{b}", batch)
    test_labels = [9, 8, 7, 6, 5, 4]
    dump(folder / "test_batch", {b"labels": test_labels, b"data": cifar_rows(test_labels)})
    meta = {b"label_names": [n.encode() for n in CIFAR10_NAMES], b"num_vis": 3072}
    dump(folder / "batches.meta", meta)
    return tmp_path


@pytest.fixture
def cifar100_root(tmp_path: Path) -> Path:
    folder = tmp_path / "cifar-100-python"
    fine = [i * 7 % 100 for i in range(12)]
    coarse = [f // 5 for f in fine]
    for split, count in (("train", 12), ("test", 4)):
        dump(
            folder / split,
            {
                b"fine_labels": fine[:count],
                b"coarse_labels": coarse[:count],
                b"data": cifar_rows([f % 50 for f in fine[:count]]),
            },
        )
    meta = {
        b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
        b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)],
    }
    dump(folder / "meta", meta)
    return tmp_path


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(">u1").tobytes()


WriteMnist = Callable[..., Path]


class DataFiles:
    """The writers, for tests that build malformed files (``files`` fixture)."""

    cifar10_names = CIFAR10_NAMES
    cifar_rows = staticmethod(cifar_rows)
    dump = staticmethod(dump)
    idx_bytes = staticmethod(idx_bytes)


@pytest.fixture
def files() -> type[DataFiles]:
    return DataFiles


@pytest.fixture
def write_mnist(tmp_path: Path) -> WriteMnist:
    """Write MNIST-style IDX files; returns the folder written to."""

    def write(
        folder: str = "MNIST/raw", *, gz: bool = True, n_train: int = 12, n_test: int = 5
    ) -> Path:
        target = tmp_path / folder
        target.mkdir(parents=True, exist_ok=True)
        for prefix, n in (("train", n_train), ("t10k", n_test)):
            images = np.arange(n * 28 * 28, dtype=np.int64).reshape(n, 28, 28) % 256
            labels = np.arange(n) % 10
            for name, payload in (
                (f"{prefix}-images-idx3-ubyte", idx_bytes(images, 2051)),
                (f"{prefix}-labels-idx1-ubyte", idx_bytes(labels, 2049)),
            ):
                if gz:
                    (target / f"{name}.gz").write_bytes(gzip.compress(payload))
                else:
                    (target / name).write_bytes(payload)
        return target

    return write
