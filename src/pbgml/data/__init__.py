"""pbgml.data: data modules, datasets and transforms (plain PyTorch, no Hydra).

The ``data`` and ``transform`` registries load its components on first use: the ready data modules
(``cifar10``, ``digits``, ...), :class:`DataModule` itself (``datamodule``) and the
datasets (``cifar10_dataset``, ...) in :data:`pbgml.registry.data`, and the
transforms (``to_tensor``, ``normalize``, ...) in :data:`pbgml.registry.transform`.
Nothing here ever downloads: datasets are read from files already on disk.

Examples
--------
>>> from pbgml import registry
>>> dm = registry.data.build("synthetic_classification", num_samples=200, batch_size=32)
>>> dm
DataModule(train=144, val=16, test=40, batch_size=32)
>>> registry.transform.build("normalize", preset="half")
Normalize(preset='half')
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pbgml._errors import (
    MissingExtraError as MissingExtraError,  # re-exported: pbgml.MissingExtraError
)
from pbgml.data._datasets import ArrayDataset, SyntheticClassification, SyntheticRegression
from pbgml.data._errors import DataError, DataNotFoundError
from pbgml.data._factories import (
    cifar10,
    cifar100,
    csv,
    digits,
    fashion_mnist,
    image_folder,
    mnist,
    synthetic_classification,
    synthetic_regression,
    tensor_file,
)
from pbgml.data._folder import IMAGE_EXTENSIONS, ImageFolder
from pbgml.data._module import DataModule, EpochSampler, split_indices
from pbgml.data._settings import LoaderSettings, takes_loader_settings
from pbgml.data._tabular import CSVDataset, Digits, TensorFileDataset
from pbgml.data._transforms import (
    NORMALIZE_PRESETS,
    Compose,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    ToTensor,
    Transform,
    as_transform,
    register_torchvision,
)
from pbgml.data._vision import CIFAR10, CIFAR100, MNIST, FashionMNIST, read_idx

__all__ = [
    "CIFAR10",
    "CIFAR100",
    "IMAGE_EXTENSIONS",
    "MNIST",
    "NORMALIZE_PRESETS",
    "ArrayDataset",
    "CSVDataset",
    "Compose",
    "DataError",
    "DataModule",
    "DataNotFoundError",
    "EpochSampler",
    "Digits",
    "FashionMNIST",
    "ImageFolder",
    "LoaderSettings",
    "Normalize",
    "RandomCrop",
    "RandomHorizontalFlip",
    "SyntheticClassification",
    "SyntheticRegression",
    "TensorFileDataset",
    "ToTensor",
    "Transform",
    "as_transform",
    "cifar10",
    "cifar100",
    "csv",
    "digits",
    "fashion_mnist",
    "image_folder",
    "mnist",
    "read_idx",
    "split_indices",
    "synthetic_classification",
    "synthetic_regression",
    "takes_loader_settings",
    "tensor_file",
]


if TYPE_CHECKING:
    from pbgml._registry import Registry

_FACTORIES = (
    cifar10,
    cifar100,
    mnist,
    fashion_mnist,
    digits,
    synthetic_classification,
    synthetic_regression,
    tensor_file,
    csv,
    image_folder,
)
_DATASETS = {
    "cifar10": CIFAR10,
    "cifar100": CIFAR100,
    "mnist": MNIST,
    "fashion_mnist": FashionMNIST,
    "digits": Digits,
    "synthetic_classification": SyntheticClassification,
    "synthetic_regression": SyntheticRegression,
    "tensor_file": TensorFileDataset,
    "csv": CSVDataset,
    "image_folder": ImageFolder,
}
_TRANSFORMS = {
    "to_tensor": ToTensor,
    "normalize": Normalize,
    "random_crop": RandomCrop,
    "random_horizontal_flip": RandomHorizontalFlip,
    "compose": Compose,
}


def _load_data(reg: Registry[Any]) -> None:
    """Loader of the ``data`` group: the ready data modules, ``datamodule`` and datasets."""
    for factory in _FACTORIES:
        reg.register(factory, name=factory.__name__)
    reg.register(DataModule, name="datamodule", aliases=["DataModule"])
    for name, cls in _DATASETS.items():
        reg.register(cls, name=f"{name}_dataset")


def _load_transforms(reg: Registry[Any]) -> None:
    """Loader of the ``transform`` group: pbgml's transforms."""
    for name, target in _TRANSFORMS.items():
        reg.register(target, name=name, aliases=[target.__name__])


def _load_torchvision_transforms(reg: Registry[Any]) -> None:
    """Loader of the ``transform`` group: torchvision's v2 transforms, when installed."""
    register_torchvision(reg)
