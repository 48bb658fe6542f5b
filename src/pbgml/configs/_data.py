"""Typed configs for pbgml.data: the ready data modules and the transforms.

Every data-module config carries the :class:`~pbgml.data.DataModule` loader settings
(``seed``, ``batch_size``, ``eval_batch_size``, ``num_workers``, ``pin_memory``,
``persistent_workers``, ``drop_last``, ``shuffle``) before its own fields: it
inherits them from :class:`~pbgml.data._settings.LoaderSettings`, where the data
factories' signatures get them from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pbgml.configs._core import ComponentConf, DataConf
from pbgml.data._settings import LoaderSettings

__all__ = [
    "CIFAR100DataConf",
    "CIFAR10DataConf",
    "CSVDataConf",
    "ComposeConf",
    "DigitsDataConf",
    "FashionMNISTDataConf",
    "ImageFolderDataConf",
    "MNISTDataConf",
    "NormalizeConf",
    "RandomCropConf",
    "RandomHorizontalFlipConf",
    "SyntheticClassificationDataConf",
    "SyntheticRegressionDataConf",
    "TensorFileDataConf",
    "ToTensorConf",
    "TransformConf",
]


@dataclass(kw_only=True)
class _DataModuleConf(LoaderSettings, DataConf):
    """A data-module config (not a target itself): ``_target_``, then the loader settings.

    The settings' fields, types and defaults are those of
    :class:`~pbgml.data._settings.LoaderSettings`, the single definition that the
    data factories' signatures are made from too.
    """


@dataclass(kw_only=True)
class CIFAR10DataConf(_DataModuleConf):
    """:func:`pbgml.data.cifar10`: CIFAR-10 from ``root/cifar-10-batches-py``, split 45000/5000/10000.

    Examples
    --------
    >>> from pbgml.configs import CIFAR10DataConf, NormalizeConf, ToTensorConf
    >>> course = CIFAR10DataConf(
    ...     root="./data",
    ...     batch_size=4,
    ...     num_workers=2,
    ...     train_transforms=[ToTensorConf(), NormalizeConf(preset="half")],
    ... )
    >>> course.val_split, course.shuffle
    (5000, True)
    """

    _target_: str = field(default="pbgml.data.cifar10", init=False, repr=False)
    root: str = "data"
    val_split: float | None = 5000
    train_transforms: list[Any] | None = None
    eval_transforms: list[Any] | None = None


@dataclass(kw_only=True)
class CIFAR100DataConf(_DataModuleConf):
    """:func:`pbgml.data.cifar100`: CIFAR-100 from ``root/cifar-100-python``.

    Examples
    --------
    >>> from pbgml.configs import CIFAR100DataConf
    >>> CIFAR100DataConf(label_type="coarse").label_type
    'coarse'
    """

    _target_: str = field(default="pbgml.data.cifar100", init=False, repr=False)
    root: str = "data"
    label_type: str = "fine"
    val_split: float | None = 5000
    train_transforms: list[Any] | None = None
    eval_transforms: list[Any] | None = None


@dataclass(kw_only=True)
class MNISTDataConf(_DataModuleConf):
    """:func:`pbgml.data.mnist`: MNIST from the IDX files in ``root/MNIST/raw``.

    Examples
    --------
    >>> from pbgml.configs import MNISTDataConf
    >>> MNISTDataConf(batch_size=128).batch_size
    128
    """

    _target_: str = field(default="pbgml.data.mnist", init=False, repr=False)
    root: str = "data"
    val_split: float | None = 5000
    train_transforms: list[Any] | None = None
    eval_transforms: list[Any] | None = None


@dataclass(kw_only=True)
class FashionMNISTDataConf(_DataModuleConf):
    """:func:`pbgml.data.fashion_mnist`: Fashion-MNIST from ``root/FashionMNIST/raw``.

    Examples
    --------
    >>> from pbgml.configs import FashionMNISTDataConf
    >>> FashionMNISTDataConf().root
    'data'
    """

    _target_: str = field(default="pbgml.data.fashion_mnist", init=False, repr=False)
    root: str = "data"
    val_split: float | None = 5000
    train_transforms: list[Any] | None = None
    eval_transforms: list[Any] | None = None


@dataclass(kw_only=True)
class DigitsDataConf(_DataModuleConf):
    """:func:`pbgml.data.digits`: scikit-learn's 8x8 digits, split train/val/test.

    Examples
    --------
    >>> from pbgml.configs import DigitsDataConf
    >>> DigitsDataConf(batch_size=64).test_split
    0.2
    """

    _target_: str = field(default="pbgml.data.digits", init=False, repr=False)
    flatten: bool = True
    test_split: float | None = 0.2
    val_split: float | None = 0.1


@dataclass(kw_only=True)
class SyntheticClassificationDataConf(_DataModuleConf):
    """:func:`pbgml.data.synthetic_classification`: seeded Gaussian blobs.

    Examples
    --------
    >>> from pbgml.configs import SyntheticClassificationDataConf
    >>> SyntheticClassificationDataConf(num_classes=3).num_features
    20
    """

    _target_: str = field(default="pbgml.data.synthetic_classification", init=False, repr=False)
    num_samples: int = 1000
    num_features: int = 20
    num_classes: int = 2
    noise: float = 1.0
    test_split: float | None = 0.2
    val_split: float | None = 0.1


@dataclass(kw_only=True)
class SyntheticRegressionDataConf(_DataModuleConf):
    """:func:`pbgml.data.synthetic_regression`: seeded linear regression data.

    Examples
    --------
    >>> from pbgml.configs import SyntheticRegressionDataConf
    >>> SyntheticRegressionDataConf().noise
    0.1
    """

    _target_: str = field(default="pbgml.data.synthetic_regression", init=False, repr=False)
    num_samples: int = 1000
    num_features: int = 20
    num_targets: int = 1
    noise: float = 0.1
    test_split: float | None = 0.2
    val_split: float | None = 0.1


@dataclass(kw_only=True)
class TensorFileDataConf(_DataModuleConf):
    """:func:`pbgml.data.tensor_file`: tensors saved in ``.pt`` or ``.npz`` files.

    Examples
    --------
    >>> from pbgml.configs import TensorFileDataConf
    >>> TensorFileDataConf(path="train.pt", test_split=0.2).x_key
    'x'
    """

    _target_: str = field(default="pbgml.data.tensor_file", init=False, repr=False)
    path: str
    x_key: str = "x"
    y_key: str = "y"
    val_path: str | None = None
    test_path: str | None = None
    val_split: float | None = None
    test_split: float | None = None


@dataclass(kw_only=True)
class CSVDataConf(_DataModuleConf):
    """:func:`pbgml.data.csv`: numeric feature columns and a target column of a CSV file.

    Examples
    --------
    >>> from pbgml.configs import CSVDataConf
    >>> CSVDataConf(path="iris.csv", target="species").delimiter
    ','
    """

    _target_: str = field(default="pbgml.data.csv", init=False, repr=False)
    path: str
    target: str
    features: list[str] | None = None
    delimiter: str = ","
    regression: bool = False
    val_path: str | None = None
    test_path: str | None = None
    val_split: float | None = None
    test_split: float | None = None


@dataclass(kw_only=True)
class ImageFolderDataConf(_DataModuleConf):
    """:func:`pbgml.data.image_folder`: images in class folders, ``root/<class>/<image>``.

    Examples
    --------
    >>> from pbgml.configs import ImageFolderDataConf
    >>> ImageFolderDataConf(root="images/train", val_split=0.1).val_root is None
    True
    """

    _target_: str = field(default="pbgml.data.image_folder", init=False, repr=False)
    root: str
    val_root: str | None = None
    test_root: str | None = None
    extensions: list[str] | None = None
    val_split: float | None = None
    train_transforms: list[Any] | None = None
    eval_transforms: list[Any] | None = None


# -- transforms ----------------------------------------------------------------------


@dataclass(kw_only=True)
class TransformConf(ComponentConf):
    """Base of transform configs (the ``transform`` group).

    Examples
    --------
    >>> from pbgml.configs import ToTensorConf, TransformConf
    >>> isinstance(ToTensorConf(), TransformConf)
    True
    """


@dataclass(kw_only=True)
class ToTensorConf(TransformConf):
    """:class:`pbgml.data.ToTensor`: an HWC uint8 image to a CHW float tensor in [0, 1].

    Examples
    --------
    >>> from pbgml.configs import ToTensorConf
    >>> ToTensorConf()._target_
    'pbgml.data.ToTensor'
    """

    _target_: str = field(default="pbgml.data.ToTensor", init=False, repr=False)


@dataclass(kw_only=True)
class NormalizeConf(TransformConf):
    """:class:`pbgml.data.Normalize`: per-channel ``mean``/``std``, or a ``preset``.

    Presets: ``cifar10``, ``cifar100``, ``mnist``, ``fashion_mnist``, ``imagenet`` and
    ``half`` (mean 0.5, std 0.5 per channel, as in the course).

    Examples
    --------
    >>> from pbgml.configs import NormalizeConf
    >>> NormalizeConf(preset="half").preset
    'half'
    >>> NormalizeConf(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5]).std
    [0.5, 0.5, 0.5]
    """

    _target_: str = field(default="pbgml.data.Normalize", init=False, repr=False)
    mean: list[float] | None = None
    std: list[float] | None = None
    preset: str | None = None


@dataclass(kw_only=True)
class RandomCropConf(TransformConf):
    """:class:`pbgml.data.RandomCrop`: a random ``size`` window after ``padding``.

    ``size`` is an int (a square) or ``[height, width]``.

    Examples
    --------
    >>> from pbgml.configs import RandomCropConf
    >>> RandomCropConf(size=32, padding=4).padding_mode
    'constant'
    """

    _target_: str = field(default="pbgml.data.RandomCrop", init=False, repr=False)
    size: Any
    padding: int = 0
    fill: float = 0.0
    padding_mode: str = "constant"


@dataclass(kw_only=True)
class RandomHorizontalFlipConf(TransformConf):
    """:class:`pbgml.data.RandomHorizontalFlip`: mirror left-right with probability ``p``.

    Examples
    --------
    >>> from pbgml.configs import RandomHorizontalFlipConf
    >>> RandomHorizontalFlipConf().p
    0.5
    """

    _target_: str = field(default="pbgml.data.RandomHorizontalFlip", init=False, repr=False)
    p: float = 0.5


@dataclass(kw_only=True)
class ComposeConf(TransformConf):
    """:class:`pbgml.data.Compose`: transforms (configs or registered names) in order.

    Examples
    --------
    >>> from pbgml.configs import ComposeConf, NormalizeConf
    >>> len(ComposeConf(transforms=["to_tensor", NormalizeConf(preset="half")]).transforms)
    2
    """

    _target_: str = field(default="pbgml.data.Compose", init=False, repr=False)
    transforms: list[Any]
