"""CIFAR-10/100 from the official python batches, MNIST/Fashion-MNIST from the IDX files.

Nothing here downloads: the files must already be on disk, in the layout of the
official archives (which is also torchvision's).
"""

from __future__ import annotations

import gzip
import os
import pickle
import struct
import zlib
from pathlib import Path
from typing import Any, ClassVar

import torch

from pbgml._errors import did_you_mean
from pbgml.data._datasets import ArrayDataset
from pbgml.data._errors import DataError, MissingExtraError, malformed, missing
from pbgml.data._transforms import Transform

__all__ = ["CIFAR10", "CIFAR100", "MNIST", "FashionMNIST", "read_idx"]

_CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"
_NEVER = "pbgml never downloads."
_MNIST_URL = "http://yann.lecun.com/exdb/mnist/ (or a mirror)"
_FASHION_URL = "https://github.com/zalandoresearch/fashion-mnist"

# What a CIFAR pickle may reference: numpy arrays (and the codec Python 2 bytes need).
_PICKLE_ALLOWED = {
    ("_codecs", "encode"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
}


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Unpickle numpy arrays, lists and dicts, and refuse every other global."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _PICKLE_ALLOWED:
            raise pickle.UnpicklingError(
                f"it references {module}.{name}; a CIFAR batch holds only numpy arrays and "
                "lists, so pbgml refuses to unpickle it"
            )
        return super().find_class(module, name)


def _unpickle(path: Path, param: str, value: object) -> dict[bytes, Any]:
    try:
        with path.open("rb") as file:
            obj = _ArraysOnlyUnpickler(file, encoding="bytes").load()
    except ImportError as err:
        raise MissingExtraError(
            f"reading the CIFAR python batches in {path.parent} requires numpy: pip install numpy"
        ) from err
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as err:
        raise malformed(param, value, path, f"not a CIFAR python batch ({err})") from err
    if not isinstance(obj, dict):
        raise malformed(param, value, path, f"expected a pickled dict, got {type(obj).__name__}")
    return obj


def _key(batch: dict[bytes, Any], key: bytes, path: Path, param: str, value: object) -> Any:
    if key in batch:
        return batch[key]
    keys = ", ".join(repr(k) for k in batch)
    raise malformed(param, value, path, f"no key {key!r} (it has {keys})")


def _cifar_images(batch: dict[bytes, Any], path: Path, param: str, value: object) -> torch.Tensor:
    rows = _key(batch, b"data", path, param, value)
    shape = getattr(rows, "shape", None)
    if shape is None or len(shape) != 2 or shape[1] != 3072 or str(rows.dtype) != "uint8":
        got = f"shape {shape} dtype {getattr(rows, 'dtype', type(rows).__name__)}"
        raise malformed(param, value, path, f"b'data' must be uint8 rows of 3072 bytes, got {got}")
    flat = torch.from_numpy(rows.copy())
    return flat.view(-1, 3, 32, 32).permute(0, 2, 3, 1).contiguous()  # HWC, as images are


def _labels(
    raw: Any, count: int, num_classes: int, path: Path, param: str, value: object
) -> torch.Tensor:
    try:
        labels = torch.as_tensor(list(raw), dtype=torch.long)
    except (TypeError, ValueError, RuntimeError) as err:
        raise malformed(param, value, path, f"labels are not integers ({err})") from err
    if labels.ndim != 1 or len(labels) != count:
        raise malformed(param, value, path, f"{len(labels)} labels for {count} images")
    if count and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise malformed(param, value, path, f"labels must lie in [0, {num_classes - 1}]")
    return labels


def _names(raw: Any) -> list[str]:
    return [n.decode() if isinstance(n, bytes) else str(n) for n in raw]


def _cifar_dir(root: str | os.PathLike[str], folder: str, first_file: str) -> Path:
    base = Path(root)
    if not (base / folder).is_dir() and (base / first_file).is_file():
        return base  # root points at the batches folder itself
    return base / folder


def _need(directory: Path, files: list[str], what: str, url: str, value: object) -> None:
    absent = [name for name in files if not (directory / name).is_file()]
    if absent:
        if not directory.is_dir():
            problem = "that folder does not exist"
        else:
            problem = f"{', '.join(absent)} {'is' if len(absent) == 1 else 'are'} missing"
        hint = f"Download them from {url} and extract them there; {_NEVER}"
        raise missing("root", value, what, os.fspath(directory), problem=problem, hint=hint)


class CIFAR10(ArrayDataset):
    """CIFAR-10 from the official python batches in ``root/cifar-10-batches-py``.

    ``data_batch_1`` ... ``data_batch_5`` (50000 training images), ``test_batch``
    (10000) and ``batches.meta`` (the class names), as extracted from
    ``cifar-10-python.tar.gz``. Images are ``32x32x3`` uint8 tensors (``HWC``); pass
    ``transform=ToTensor()`` (or use :func:`pbgml.data.cifar10`) for float ``CHW``.
    The pickles are read with an unpickler that only accepts numpy arrays.

    Parameters
    ----------
    root
        The folder holding ``cifar-10-batches-py`` (or that folder itself).
    train
        The 50000 training images, else the 10000 test images.
    transform, target_transform
        Applied to an image / a label when it is read.

    Raises
    ------
    DataNotFoundError
        A batch file is missing (pbgml never downloads).
    DataError
        A batch file is not a CIFAR batch.

    Examples
    --------
    >>> from pbgml.data import CIFAR10
    >>> try:
    ...     CIFAR10(root="no/such/dir")
    ... except FileNotFoundError as err:
    ...     print(str(err).split(" in ")[0])
    root='no/such/dir': expected the CIFAR-10 python batches (data_batch_1..5, test_batch, batches.meta)
    """

    def __init__(
        self,
        root: str = "data",
        train: bool = True,
        *,
        transform: Transform | None = None,
        target_transform: Transform | None = None,
    ) -> None:
        directory = _cifar_dir(root, "cifar-10-batches-py", "data_batch_1")
        files = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
        what = "the CIFAR-10 python batches (data_batch_1..5, test_batch, batches.meta)"
        _need(directory, [*files, "batches.meta"], what, _CIFAR_URL, root)
        meta = _unpickle(directory / "batches.meta", "root", root)
        classes = _names(_key(meta, b"label_names", directory / "batches.meta", "root", root))
        images, labels = [], []
        for name in files:
            path = directory / name
            batch = _unpickle(path, "root", root)
            block = _cifar_images(batch, path, "root", root)
            raw = _key(batch, b"labels", path, "root", root)
            labels.append(_labels(raw, len(block), len(classes), path, "root", root))
            images.append(block)
        super().__init__(
            torch.cat(images),
            torch.cat(labels),
            transform=transform,
            target_transform=target_transform,
            classes=classes,
        )
        self.root = os.fspath(root)
        self.train = train


class CIFAR100(ArrayDataset):
    """CIFAR-100 from the official python files in ``root/cifar-100-python``.

    ``train`` (50000 images), ``test`` (10000) and ``meta`` (``fine_label_names``,
    ``coarse_label_names``), as extracted from ``cifar-100-python.tar.gz``.

    Parameters
    ----------
    root
        The folder holding ``cifar-100-python`` (or that folder itself).
    train
        The training images, else the test images.
    label_type
        ``"fine"`` (100 classes) or ``"coarse"`` (20 superclasses).
    transform, target_transform
        Applied to an image / a label when it is read.

    Examples
    --------
    >>> from pbgml.data import CIFAR100
    >>> try:
    ...     CIFAR100(root="no/such/dir", label_type="fin")
    ... except ValueError as err:
    ...     print(err)
    label_type='fin' must be 'fine' or 'coarse'. Did you mean 'fine'?
    """

    def __init__(
        self,
        root: str = "data",
        train: bool = True,
        label_type: str = "fine",
        *,
        transform: Transform | None = None,
        target_transform: Transform | None = None,
    ) -> None:
        if label_type not in ("fine", "coarse"):
            raise DataError(
                f"label_type={label_type!r} must be 'fine' or 'coarse'."
                f"{did_you_mean(label_type, ['fine', 'coarse'])}",
                param="label_type",
            )
        directory = _cifar_dir(root, "cifar-100-python", "meta")
        split = "train" if train else "test"
        what = "the CIFAR-100 python files (train, test, meta)"
        _need(directory, [split, "meta"], what, _CIFAR_URL, root)
        meta_path = directory / "meta"
        meta = _unpickle(meta_path, "root", root)
        classes = _names(_key(meta, f"{label_type}_label_names".encode(), meta_path, "root", root))
        path = directory / split
        batch = _unpickle(path, "root", root)
        images = _cifar_images(batch, path, "root", root)
        raw = _key(batch, f"{label_type}_labels".encode(), path, "root", root)
        labels = _labels(raw, len(images), len(classes), path, "root", root)
        super().__init__(
            images, labels, transform=transform, target_transform=target_transform, classes=classes
        )
        self.root = os.fspath(root)
        self.train = train
        self.label_type = label_type


# -- IDX (MNIST) -----------------------------------------------------------------------

_IDX_DTYPES = {
    0x08: torch.uint8,
    0x09: torch.int8,
    0x0B: torch.int16,
    0x0C: torch.int32,
    0x0D: torch.float32,
    0x0E: torch.float64,
}
_IMAGES_MAGIC, _LABELS_MAGIC = 2051, 2049


def read_idx(
    path: str | os.PathLike[str], expected_magic: int | None = None, *, param: str = "path"
) -> torch.Tensor:
    """Read an IDX file (the MNIST format), gzipped (``.gz``) or not.

    The header is checked: the magic number (2051 for images, 2049 for labels) and
    the big-endian dimensions, which must match the file's size.

    Parameters
    ----------
    path
        The file.
    expected_magic
        The magic number the file must have, if one is expected.
    param
        The argument named in error messages.

    Examples
    --------
    >>> import struct, tempfile, pathlib
    >>> from pbgml.data import read_idx
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "labels-idx1-ubyte"
    >>> _ = path.write_bytes(struct.pack(">II", 2049, 3) + bytes([7, 2, 1]))
    >>> read_idx(path, 2049)
    tensor([7, 2, 1], dtype=torch.uint8)
    """
    path = Path(path)
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except FileNotFoundError as err:
        raise missing(
            param, os.fspath(path), "an IDX file", os.fspath(path), problem="there is no such file"
        ) from err
    except (OSError, EOFError, zlib.error) as err:
        raise malformed(param, os.fspath(path), path, f"not a readable gzip file ({err})") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise malformed(param, os.fspath(path), path, "no IDX header (it must start with 0x0000)")
    magic, dtype_code, ndim = int.from_bytes(raw[:4], "big"), raw[2], raw[3]
    if expected_magic is not None and magic != expected_magic:
        kind = {_IMAGES_MAGIC: "images", _LABELS_MAGIC: "labels"}.get(expected_magic, "IDX")
        raise malformed(
            param,
            os.fspath(path),
            path,
            f"magic number {magic}, expected {expected_magic} ({kind})",
        )
    dtype = _IDX_DTYPES.get(dtype_code)
    header = 4 + 4 * ndim
    if dtype is None or len(raw) < header:
        raise malformed(param, os.fspath(path), path, "unsupported or truncated IDX header")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    count = 1
    for d in dims:
        count *= d
    width = torch.empty((), dtype=dtype).element_size()
    size = header + count * width
    if len(raw) != size:
        raise malformed(
            param,
            os.fspath(path),
            path,
            f"the header announces shape {dims} ({size} bytes) but the file has {len(raw)} bytes"
            + (" (truncated)" if len(raw) < size else ""),
        )
    data = torch.frombuffer(bytearray(raw[header:]), dtype=torch.uint8)
    if width > 1:  # IDX stores big-endian values
        data = data.view(-1, width).flip(-1).contiguous().view(dtype)
    return data.view(dtype).reshape(dims)


class MNIST(ArrayDataset):
    """MNIST from the official IDX files (``train-images-idx3-ubyte`` ...), gzipped or not.

    Looked up in ``root/MNIST/raw`` (torchvision's layout), ``root/MNIST`` and
    ``root``. Images are ``28x28`` uint8 tensors; labels 0-9.

    Parameters
    ----------
    root
        The folder holding ``MNIST/raw`` (or the IDX files themselves).
    train
        The 60000 training images, else the 10000 test images (``t10k-*``).
    transform, target_transform
        Applied to an image / a label when it is read.

    Examples
    --------
    >>> from pbgml.data import MNIST
    >>> try:
    ...     MNIST(root="no/such/dir")
    ... except FileNotFoundError as err:
    ...     print(str(err)[:72])
    root='no/such/dir': expected the MNIST IDX files train-images-idx3-ubyte
    """

    folder: ClassVar[str] = "MNIST"
    url: ClassVar[str] = _MNIST_URL
    class_names: ClassVar[tuple[str, ...]] = tuple(str(i) for i in range(10))

    def __init__(
        self,
        root: str = "data",
        train: bool = True,
        *,
        transform: Transform | None = None,
        target_transform: Transform | None = None,
    ) -> None:
        prefix = "train" if train else "t10k"
        names = (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")
        base = Path(root)
        candidates = [base / self.folder / "raw", base / self.folder, base]
        found = [self._find(d, names) for d in candidates]
        hit = next((pair for pair in found if pair is not None), None)
        if hit is None:
            where = ", ".join(os.fspath(d) for d in candidates)
            raise missing(
                "root",
                root,
                f"the {self.folder} IDX files {names[0]} and {names[1]} (or .gz)",
                f"one of {where}",
                problem="none of these folders holds both",
                hint=f"Download them from {self.url}; {_NEVER}",
            )
        images = read_idx(hit[0], _IMAGES_MAGIC, param="root")
        labels = read_idx(hit[1], _LABELS_MAGIC, param="root")
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise malformed(
                "root",
                root,
                hit[0].parent,
                f"{tuple(images.shape)} images do not match {tuple(labels.shape)} labels",
            )
        targets = labels.long()
        if len(targets) and int(targets.max()) >= len(self.class_names):
            raise malformed("root", root, hit[1], "labels must lie in [0, 9]")
        super().__init__(
            images,
            targets,
            transform=transform,
            target_transform=target_transform,
            classes=self.class_names,
        )
        self.root = os.fspath(root)
        self.train = train

    @staticmethod
    def _find(directory: Path, names: tuple[str, str]) -> tuple[Path, Path] | None:
        paths = []
        for name in names:
            for candidate in (directory / name, directory / f"{name}.gz"):
                if candidate.is_file():
                    paths.append(candidate)
                    break
            else:
                return None
        return paths[0], paths[1]


class FashionMNIST(MNIST):
    """Fashion-MNIST from its IDX files, in ``root/FashionMNIST/raw`` (or ``root``).

    Same format and file names as :class:`MNIST`; ten clothing classes.

    Examples
    --------
    >>> from pbgml.data import FashionMNIST
    >>> FashionMNIST.class_names[:3]
    ('T-shirt/top', 'Trouser', 'Pullover')
    """

    folder: ClassVar[str] = "FashionMNIST"
    url: ClassVar[str] = _FASHION_URL
    class_names: ClassVar[tuple[str, ...]] = (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    )
