"""pbgml.data: data modules, datasets and transforms (plain PyTorch, no Hydra).

Importing this package registers its components: the ready data modules
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

from pbgml import registry as _registry
from pbgml.data._datasets import ArrayDataset, SyntheticClassification, SyntheticRegression
from pbgml.data._errors import DataError, DataNotFoundError, OptionalDependencyError
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
from pbgml.data._module import DataModule, split_indices
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
    "Digits",
    "FashionMNIST",
    "ImageFolder",
    "Normalize",
    "OptionalDependencyError",
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
    "tensor_file",
]


def _register() -> None:
    data, transform = _registry.data, _registry.transform
    factories = (
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
    for factory in factories:
        data.register(factory, name=factory.__name__)
    data.register(DataModule, name="datamodule", aliases=["DataModule"])
    datasets = {
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
    for name, cls in datasets.items():
        data.register(cls, name=f"{name}_dataset")
    transforms = {
        "to_tensor": ToTensor,
        "normalize": Normalize,
        "random_crop": RandomCrop,
        "random_horizontal_flip": RandomHorizontalFlip,
        "compose": Compose,
    }
    for name, target in transforms.items():
        transform.register(target, name=name, aliases=[target.__name__])
    register_torchvision(transform)


_register()
