"""Ready data modules, selected as ``data=cifar10``: each returns a :class:`DataModule`.

Every factory takes the :class:`DataModule` loader settings (``seed``,
``batch_size``, ``eval_batch_size``, ``num_workers``, ``pin_memory``,
``persistent_workers``, ``drop_last``, ``shuffle``) besides its own arguments, and
reads its files when called, so a missing file is reported when the config is
instantiated. The settings are defined once, in
:class:`~pbgml.data._settings.LoaderSettings`: a factory takes them as
``**loader`` and :func:`~pbgml.data._settings.takes_loader_settings` gives it a
signature in which each of them is a keyword parameter.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from torch.utils.data import Dataset, Subset
from typing_extensions import Unpack

from pbgml._optional import needs
from pbgml.data._datasets import SyntheticClassification, SyntheticRegression
from pbgml.data._errors import DataError
from pbgml.data._folder import ImageFolder
from pbgml.data._module import DataModule, split_indices
from pbgml.data._settings import LoaderKwargs, takes_loader_settings
from pbgml.data._tabular import CSVDataset, Digits, TensorFileDataset
from pbgml.data._transforms import (
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    ToTensor,
    Transform,
    as_transform,
)
from pbgml.data._vision import CIFAR10, CIFAR100, MNIST, FashionMNIST

__all__ = [
    "cifar10",
    "cifar100",
    "csv",
    "digits",
    "fashion_mnist",
    "image_folder",
    "mnist",
    "synthetic_classification",
    "synthetic_regression",
    "tensor_file",
]

TransformList = Sequence[Transform | str]


def _is_random(transform: object) -> bool:
    if isinstance(transform, str):
        return transform.startswith(("random_", "tv_random_"))
    if isinstance(transform, RandomCrop | RandomHorizontalFlip):
        return True
    return type(transform).__name__.startswith("Random")


def _transforms(
    train: TransformList | None, evaluation: TransformList | None, preset: str | None
) -> tuple[Transform | None, Transform | None]:
    """The train and eval transforms; eval defaults to train without random augmentations."""
    if train is None:
        default: list[Transform] = [ToTensor()]
        if preset is not None:
            default.append(Normalize(preset=preset))
        train = default
    if evaluation is None:
        evaluation = [t for t in train if not _is_random(t)]
    return as_transform(list(train)), as_transform(list(evaluation))


def _holdout(
    dataset: Dataset[Any], split: float | None, seed: int
) -> tuple[Dataset[Any], Dataset[Any] | None]:
    """Hold out a test part of ``dataset`` (seeded with ``seed + 1``, apart from val)."""
    if split is None:
        return dataset, None
    kept, held = split_indices(len(dataset), split, seed + 1, param="test_split")  # type: ignore[arg-type]
    return Subset(dataset, kept), Subset(dataset, held)


def _test_split_off(
    dataset: Dataset[Any], test_split: float | None, val_split: float | None, loader: LoaderKwargs
) -> DataModule:
    """A module of ``dataset``: ``test_split`` held out first, then ``val_split`` of the rest."""
    train, test = _holdout(dataset, test_split, loader["seed"])
    return DataModule(train, test=test, val_split=val_split, **loader)


def _one_source(stage: str, path: str | None, split: float | None) -> None:
    """A val or test set comes from its own file or is split off the training file."""
    if path is not None and split is not None:
        raise DataError(
            f"pass {stage}_path={path!r} or {stage}_split={split!r}, not both: "
            f"{stage}_path reads the {stage} set from its own file, {stage}_split holds it "
            "out of path",
            param=f"{stage}_split",
        )


def _same_classes(train: ImageFolder, other: ImageFolder | None, param: str) -> None:
    if other is not None and other.classes != train.classes:
        raise DataError(
            f"{param}={other.root!r} has the classes {other.classes}, but root={train.root!r} "
            f"has {train.classes}; the class folders must match",
            param=param,
        )


def _train_test(
    dataset: Callable[..., Dataset[Any]],
    val_split: float | None,
    transforms: tuple[Transform | None, Transform | None],
    loader: LoaderKwargs,
) -> DataModule:
    """A module of ``dataset(train=True)`` (split for validation) and ``dataset(train=False)``."""
    train_t, eval_t = transforms
    return DataModule(
        dataset(train=True),
        test=dataset(train=False),
        val_split=val_split,
        train_transform=train_t,
        eval_transform=eval_t,
        **loader,
    )


@takes_loader_settings
def cifar10(
    root: str = "data",
    *,
    val_split: float | None = 5000,
    train_transforms: TransformList | None = None,
    eval_transforms: TransformList | None = None,
    **loader: Unpack[LoaderKwargs],
) -> DataModule:
    """CIFAR-10 from ``root/cifar-10-batches-py``: 45000 train / 5000 val / 10000 test.

    Parameters
    ----------
    root
        The folder holding ``cifar-10-batches-py`` (see :class:`~pbgml.data.CIFAR10`).
    val_split
        Held out of the 50000 training images for validation (a count or a fraction).
    train_transforms
        Transforms (or registered names) for training images; default
        ``[to_tensor, normalize(preset="cifar10")]``.
    eval_transforms
        For validation and test images; default: ``train_transforms`` without
        the random augmentations.
    seed, batch_size, eval_batch_size, num_workers, pin_memory, persistent_workers, drop_last, shuffle
        The :class:`~pbgml.data.DataModule` settings.

    Examples
    --------
    >>> from pbgml.data import cifar10
    >>> try:
    ...     cifar10(root="missing")
    ... except FileNotFoundError as err:
    ...     print(str(err).split(": ")[0])
    root='missing'
    """
    transforms = _transforms(train_transforms, eval_transforms, "cifar10")
    return _train_test(functools.partial(CIFAR10, root), val_split, transforms, loader)


@takes_loader_settings
def cifar100(
    root: str = "data",
    *,
    label_type: str = "fine",
    val_split: float | None = 5000,
    train_transforms: TransformList | None = None,
    eval_transforms: TransformList | None = None,
    **loader: Unpack[LoaderKwargs],
) -> DataModule:
    """CIFAR-100 from ``root/cifar-100-python``, with fine (100) or coarse (20) labels.

    Like :func:`cifar10`; the default normalization is the CIFAR-100 preset.

    Examples
    --------
    >>> from pbgml.data import cifar100
    >>> try:
    ...     cifar100(root="missing")
    ... except FileNotFoundError as err:
    ...     print("cifar-100-python" in str(err))
    True
    """
    transforms = _transforms(train_transforms, eval_transforms, "cifar100")
    dataset = functools.partial(CIFAR100, root, label_type=label_type)
    return _train_test(dataset, val_split, transforms, loader)


@takes_loader_settings
def mnist(
    root: str = "data",
    *,
    val_split: float | None = 5000,
    train_transforms: TransformList | None = None,
    eval_transforms: TransformList | None = None,
    **loader: Unpack[LoaderKwargs],
) -> DataModule:
    """MNIST from its IDX files in ``root/MNIST/raw``: 55000 train / 5000 val / 10000 test.

    Images become ``1x28x28`` tensors normalized with the MNIST preset by default.

    Examples
    --------
    >>> from pbgml.data import mnist
    >>> try:
    ...     mnist(root="missing")
    ... except FileNotFoundError as err:
    ...     print("train-images-idx3-ubyte" in str(err))
    True
    """
    transforms = _transforms(train_transforms, eval_transforms, "mnist")
    return _train_test(functools.partial(MNIST, root), val_split, transforms, loader)


@takes_loader_settings
def fashion_mnist(
    root: str = "data",
    *,
    val_split: float | None = 5000,
    train_transforms: TransformList | None = None,
    eval_transforms: TransformList | None = None,
    **loader: Unpack[LoaderKwargs],
) -> DataModule:
    """Fashion-MNIST from its IDX files in ``root/FashionMNIST/raw``.

    Examples
    --------
    >>> from pbgml.data import fashion_mnist
    >>> try:
    ...     fashion_mnist(root="missing")
    ... except FileNotFoundError as err:
    ...     print("FashionMNIST" in str(err))
    True
    """
    transforms = _transforms(train_transforms, eval_transforms, "fashion_mnist")
    return _train_test(functools.partial(FashionMNIST, root), val_split, transforms, loader)


@needs("sklearn", extra="sklearn")
@takes_loader_settings
def digits(
    *,
    flatten: bool = True,
    test_split: float | None = 0.2,
    val_split: float | None = 0.1,
    **loader: Unpack[LoaderKwargs],
) -> DataModule:
    """scikit-learn's 1797 handwritten digits, split into train / val / test.

    ``test_split`` is held out first, then ``val_split`` of the rest (both seeded).
    Needs ``pip install pbgml[sklearn]``.

    Examples
    --------
    >>> from pbgml.data import digits
    >>> dm = digits(batch_size=64)
    >>> len(dm.train_dataset), len(dm.val_dataset), len(dm.test_dataset)
    (1294, 144, 359)
    >>> dm.sample_shape, dm.num_classes
    ((64,), 10)
    """
    return _test_split_off(Digits(flatten=flatten), test_split, val_split, loader)


@takes_loader_settings
def synthetic_classification(
    num_samples: int = 1000,
    num_features: int = 20,
    num_classes: int = 2,
    noise: float = 1.0,
    *,
    test_split: float | None = 0.2,
    val_split: float | None = 0.1,
    **loader: Unpack[LoaderKwargs],
) -> DataModule:
    """Seeded Gaussian blobs (:class:`~pbgml.data.SyntheticClassification`), split in three.

    Examples
    --------
    >>> from pbgml.data import synthetic_classification
    >>> dm = synthetic_classification(num_samples=100, num_features=4, num_classes=3)
    >>> len(dm.train_dataset), len(dm.val_dataset), len(dm.test_dataset), dm.num_classes
    (72, 8, 20, 3)
    """
    dataset = SyntheticClassification(num_samples, num_features, num_classes, noise, loader["seed"])
    return _test_split_off(dataset, test_split, val_split, loader)


@takes_loader_settings
def synthetic_regression(
    num_samples: int = 1000,
    num_features: int = 20,
    num_targets: int = 1,
    noise: float = 0.1,
    *,
    test_split: float | None = 0.2,
    val_split: float | None = 0.1,
    **loader: Unpack[LoaderKwargs],
) -> DataModule:
    """Seeded linear regression data (:class:`~pbgml.data.SyntheticRegression`).

    Examples
    --------
    >>> from pbgml.data import synthetic_regression
    >>> dm = synthetic_regression(num_samples=50, num_features=3, test_split=None)
    >>> len(dm.train_dataset), len(dm.val_dataset), dm.test_dataset, dm.num_classes
    (45, 5, None, None)
    """
    dataset = SyntheticRegression(num_samples, num_features, num_targets, noise, loader["seed"])
    return _test_split_off(dataset, test_split, val_split, loader)


@takes_loader_settings
def tensor_file(
    path: str,
    *,
    x_key: str = "x",
    y_key: str = "y",
    val_path: str | None = None,
    test_path: str | None = None,
    val_split: float | None = None,
    test_split: float | None = None,
    **loader: Unpack[LoaderKwargs],
) -> DataModule:
    """Tensors saved in ``.pt`` / ``.npz`` files (:class:`~pbgml.data.TensorFileDataset`).

    ``path`` is the training file; validation and test come from their own files
    or are split off it (``val_split``, ``test_split``).

    Examples
    --------
    >>> import pathlib, tempfile, torch
    >>> from pbgml.data import tensor_file
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "train.pt"
    >>> torch.save((torch.randn(20, 4), torch.arange(20) % 2), path)
    >>> dm = tensor_file(str(path), val_split=0.25, batch_size=5)
    >>> len(dm.train_dataset), len(dm.val_dataset), len(dm.train_dataloader())
    (15, 5, 3)
    """

    def load(file: str | None) -> TensorFileDataset | None:
        return None if file is None else TensorFileDataset(file, x_key, y_key)

    _one_source("val", val_path, val_split)
    _one_source("test", test_path, test_split)
    train, test = _holdout(TensorFileDataset(path, x_key, y_key), test_split, loader["seed"])
    if test_path is not None:
        test = load(test_path)
    return DataModule(train, val=load(val_path), test=test, val_split=val_split, **loader)


@takes_loader_settings
def csv(
    path: str,
    target: str,
    *,
    features: Sequence[str] | None = None,
    delimiter: str = ",",
    regression: bool = False,
    val_path: str | None = None,
    test_path: str | None = None,
    val_split: float | None = None,
    test_split: float | None = None,
    **loader: Unpack[LoaderKwargs],
) -> DataModule:
    """A CSV file of numeric features and a target column (:class:`~pbgml.data.CSVDataset`).

    ``path`` is the training file; validation and test come from their own files
    (``val_path``, ``test_path``) or are split off it (``val_split``, ``test_split``).
    The classes are the training file's, so a label has the same index in every
    file; a label of ``val_path`` or ``test_path`` that the training file lacks is
    an error.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from pbgml.data import csv
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "points.csv"
    >>> rows = "".join(f"{i},{i % 3},{i % 2}\\n" for i in range(10))
    >>> _ = path.write_text("a,b,label\\n" + rows)
    >>> dm = csv(str(path), target="label", test_split=0.2)
    >>> len(dm.train_dataset), len(dm.test_dataset), dm.sample_shape, dm.num_classes
    (8, 2, (2,), 2)
    """

    _one_source("val", val_path, val_split)
    _one_source("test", test_path, test_split)
    full = CSVDataset(path, target, features, delimiter, regression)

    def load(param: str, file: str) -> CSVDataset:
        try:
            return CSVDataset(file, target, features, delimiter, regression, full.classes)
        except DataError as err:
            if err.param != "classes":
                raise
            message = err.message.removeprefix("classes: ")
            raise DataError(
                f"{param}={file!r}: {message} (the classes are those of path={path!r})",
                path=file,
                param=param,
            ) from None

    train, test = _holdout(full, test_split, loader["seed"])
    if test_path is not None:
        test = load("test_path", test_path)
    val = None if val_path is None else load("val_path", val_path)
    return DataModule(train, val=val, test=test, val_split=val_split, **loader)


@needs("PIL", extra="vision")
@takes_loader_settings
def image_folder(
    root: str,
    *,
    val_root: str | None = None,
    test_root: str | None = None,
    extensions: Sequence[str] | None = None,
    val_split: float | None = None,
    train_transforms: TransformList | None = None,
    eval_transforms: TransformList | None = None,
    **loader: Unpack[LoaderKwargs],
) -> DataModule:
    """Images in class folders (:class:`~pbgml.data.ImageFolder`): ``root/<class>/<image>``.

    ``root`` is the training tree; ``val_root`` / ``test_root`` are trees with the
    same classes. Default transforms: ``[to_tensor]``.

    Examples
    --------
    >>> import pathlib, tempfile, torch
    >>> from pbgml.data import image_folder
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for cls in ("a", "b"):
    ...     (root / cls).mkdir()
    ...     for i in range(4):
    ...         torch.save(torch.zeros(6, 6, 3, dtype=torch.uint8), root / cls / f"{i}.pt")
    >>> dm = image_folder(str(root), val_split=2)
    >>> len(dm.train_dataset), dm.sample_shape, dm.classes
    (6, (3, 6, 6), ['a', 'b'])
    """
    train_t, eval_t = _transforms(train_transforms, eval_transforms, None)

    def load(folder: str | None) -> ImageFolder | None:
        return None if folder is None else ImageFolder(folder, extensions)

    train = ImageFolder(root, extensions)
    val, test = load(val_root), load(test_root)
    _same_classes(train, val, "val_root")
    _same_classes(train, test, "test_root")
    return DataModule(
        train,
        val=val,
        test=test,
        val_split=val_split,
        train_transform=train_t,
        eval_transform=eval_t,
        **loader,
    )
