from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from pbgml import PbgmlError
from pbgml.data import (
    CIFAR10,
    CIFAR100,
    MNIST,
    DataError,
    DataNotFoundError,
    FashionMNIST,
    ToTensor,
    read_idx,
)

# -- CIFAR ---------------------------------------------------------------------------


def test_cifar10_reads_the_official_batches(cifar10_root: Path, files: Any) -> None:
    train = CIFAR10(str(cifar10_root), train=True)
    test = CIFAR10(str(cifar10_root), train=False)
    assert len(train) == 40
    assert len(test) == 6
    assert train.classes == files.cifar10_names
    assert train.data.shape == (40, 32, 32, 3)
    assert train.data.dtype == torch.uint8
    image, label = test[0]
    assert int(label) == 9
    # the 3072-byte rows are three 1024-byte planes: HWC puts them last
    assert image[..., 0].unique().tolist() == [9]
    assert image[..., 1].unique().tolist() == [109]
    assert image[..., 2].unique().tolist() == [209]
    assert test.targets.tolist() == [9, 8, 7, 6, 5, 4]


def test_cifar10_root_may_be_the_batches_folder(cifar10_root: Path) -> None:
    assert len(CIFAR10(str(cifar10_root / "cifar-10-batches-py"), train=False)) == 6


def test_cifar10_transforms_apply(cifar10_root: Path) -> None:
    ds = CIFAR10(str(cifar10_root), train=False, transform=ToTensor(), target_transform=str)
    image, label = ds[0]
    assert image.shape == (3, 32, 32)
    assert image[0].max().item() == pytest.approx(9 / 255)
    assert label == "tensor(9)"


def test_cifar10_missing_batch_names_file_root_and_url(cifar10_root: Path) -> None:
    (cifar10_root / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(DataNotFoundError) as info:
        CIFAR10(str(cifar10_root))
    err = info.value
    assert isinstance(err, FileNotFoundError)
    assert isinstance(err, PbgmlError)
    message = str(err)
    assert message.startswith(f"root={str(cifar10_root)!r}:")
    assert "data_batch_3 is missing" in message
    assert "cifar-10-batches-py" in message
    assert "https://www.cs.toronto.edu/~kriz/cifar.html" in message
    assert "never downloads" in message
    assert err.param == "root"
    # the test split does not need the training batches
    assert len(CIFAR10(str(cifar10_root), train=False)) == 6


def test_cifar10_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="that folder does not exist"):
        CIFAR10(str(tmp_path))


def test_cifar10_malformed_batch(cifar10_root: Path, files: Any) -> None:
    folder = cifar10_root / "cifar-10-batches-py"
    files.dump(folder / "test_batch", {b"labels": [1], b"data": np.zeros((1, 100), np.uint8)})
    with pytest.raises(DataError, match="uint8 rows of 3072 bytes") as info:
        CIFAR10(str(cifar10_root), train=False)
    assert isinstance(info.value, ValueError)
    assert not isinstance(info.value, FileNotFoundError)
    assert "test_batch" in str(info.value)


def test_cifar10_not_a_pickle(cifar10_root: Path) -> None:
    (cifar10_root / "cifar-10-batches-py" / "test_batch").write_bytes(b"not a pickle at all")
    with pytest.raises(DataError, match="not a CIFAR python batch"):
        CIFAR10(str(cifar10_root), train=False)


def test_cifar10_label_count_and_key_checked(cifar10_root: Path, files: Any) -> None:
    folder = cifar10_root / "cifar-10-batches-py"
    files.dump(folder / "test_batch", {b"labels": [1, 2, 3], b"data": files.cifar_rows([1, 2])})
    with pytest.raises(DataError, match="3 labels for 2 images"):
        CIFAR10(str(cifar10_root), train=False)
    files.dump(folder / "test_batch", {b"data": files.cifar_rows([1, 2])})
    with pytest.raises(DataError, match="no key b'labels'"):
        CIFAR10(str(cifar10_root), train=False)
    files.dump(folder / "test_batch", {b"labels": [1, 12], b"data": files.cifar_rows([1, 2])})
    with pytest.raises(DataError, match=r"labels must lie in \[0, 9\]"):
        CIFAR10(str(cifar10_root), train=False)


class _Exploit:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.getenv, ("HOME",))


def test_cifar_pickles_may_only_hold_arrays(cifar10_root: Path, files: Any) -> None:
    files.dump(cifar10_root / "cifar-10-batches-py" / "test_batch", {b"data": _Exploit()})
    with pytest.raises(DataError, match=r"references (os|posix)\.getenv"):
        CIFAR10(str(cifar10_root), train=False)


def test_cifar_pickles_from_numpy_1(cifar10_root: Path, files: Any) -> None:
    """The official files reference numpy.core.multiarray (numpy 1.x)."""
    path = cifar10_root / "cifar-10-batches-py" / "test_batch"
    raw = pickle.dumps({b"labels": [3], b"data": files.cifar_rows([3])}, protocol=2)
    assert b"numpy._core.multiarray" in raw
    path.write_bytes(raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    assert CIFAR10(str(cifar10_root), train=False).targets.tolist() == [3]


def test_cifar100_fine_and_coarse(cifar100_root: Path) -> None:
    fine = CIFAR100(str(cifar100_root), train=True)
    coarse = CIFAR100(str(cifar100_root), train=False, label_type="coarse")
    assert len(fine) == 12
    assert len(coarse) == 4
    assert fine.num_classes == 100
    assert coarse.num_classes == 20
    assert fine.targets.tolist()[:3] == [0, 7, 14]
    assert coarse.targets.tolist()[:3] == [0, 1, 2]
    assert fine.classes is not None
    assert fine.classes[7] == "fine7"
    assert fine.data.shape == (12, 32, 32, 3)


def test_cifar100_errors(cifar100_root: Path) -> None:
    with pytest.raises(DataError, match="Did you mean 'coarse'"):
        CIFAR100(str(cifar100_root), label_type="corse")
    (cifar100_root / "cifar-100-python" / "meta").unlink()
    with pytest.raises(DataNotFoundError, match="meta is missing"):
        CIFAR100(str(cifar100_root))


# -- MNIST ---------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_reads_idx_files(write_mnist: Any, gz: bool) -> None:
    folder = write_mnist(gz=gz)
    root = folder.parent.parent
    train, test = MNIST(str(root)), MNIST(str(root), train=False)
    assert len(train) == 12
    assert len(test) == 5
    assert train.data.shape == (12, 28, 28)
    assert train.data.dtype == torch.uint8
    assert train.targets.tolist() == [i % 10 for i in range(12)]
    image, label = train[1]
    assert int(label) == 1
    assert image[0, 0].item() == (28 * 28) % 256
    assert train.classes == [str(i) for i in range(10)]


def test_mnist_accepts_root_with_the_files(write_mnist: Any) -> None:
    folder = write_mnist("flat", gz=False)
    assert len(MNIST(str(folder), train=False)) == 5


def test_fashion_mnist_layout_and_classes(write_mnist: Any) -> None:
    folder = write_mnist("FashionMNIST/raw")
    ds = FashionMNIST(str(folder.parent.parent))
    assert ds.classes is not None
    assert ds.classes[9] == "Ankle boot"
    with pytest.raises(DataNotFoundError, match="MNIST IDX files"):
        MNIST(str(folder.parent.parent))  # no MNIST folder there


def test_mnist_missing_names_the_folders(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError) as info:
        MNIST(str(tmp_path))
    message = str(info.value)
    assert "train-images-idx3-ubyte" in message
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "never downloads" in message


def test_idx_truncated(write_mnist: Any) -> None:
    folder = write_mnist(gz=False)
    path = folder / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError, match=r"truncated") as info:
        MNIST(str(folder))
    assert info.value.param == "root"
    assert str(path) in str(info.value)


def test_idx_wrong_magic(write_mnist: Any) -> None:
    folder = write_mnist(gz=False)
    images = folder / "train-images-idx3-ubyte"
    labels = folder / "train-labels-idx1-ubyte"
    images.write_bytes(labels.read_bytes())  # a labels file where images belong
    with pytest.raises(DataError, match="magic number 2049, expected 2051"):
        MNIST(str(folder))


def test_idx_counts_must_match(write_mnist: Any, files: Any) -> None:
    folder = write_mnist(gz=False)
    (folder / "train-labels-idx1-ubyte").write_bytes(files.idx_bytes(np.zeros(3, np.uint8), 2049))
    with pytest.raises(DataError, match="do not match"):
        MNIST(str(folder))


def test_idx_bad_gzip(write_mnist: Any) -> None:
    folder = write_mnist(gz=True)
    path = folder / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(b"x")[:-4] + b"\x00")
    with pytest.raises(DataError, match="gzip"):
        MNIST(str(folder), train=False)


def test_read_idx_multibyte_big_endian(tmp_path: Path) -> None:
    path = tmp_path / "values-idx2-int"
    values = [[1, -2], [70000, 3]]
    header = struct.pack(">BBBBII", 0, 0, 0x0C, 2, 2, 2)
    path.write_bytes(header + struct.pack(">4i", 1, -2, 70000, 3))
    assert read_idx(path).tolist() == values
    with pytest.raises(DataNotFoundError):
        read_idx(tmp_path / "nope")
