from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from pbgml import configs, data, registry
from pbgml.configs import (
    CIFAR10DataConf,
    DigitsDataConf,
    NormalizeConf,
    RandomCropConf,
    RandomHorizontalFlipConf,
    ToTensorConf,
    config_for,
)
from pbgml.data import Compose, DataError, DataModule, DataNotFoundError, Normalize, RandomCrop
from pbgml.data._module import EpochSampler

FACTORIES = {
    "cifar10": (data.cifar10, configs.CIFAR10DataConf),
    "cifar100": (data.cifar100, configs.CIFAR100DataConf),
    "mnist": (data.mnist, configs.MNISTDataConf),
    "fashion_mnist": (data.fashion_mnist, configs.FashionMNISTDataConf),
    "digits": (data.digits, configs.DigitsDataConf),
    "synthetic_classification": (
        data.synthetic_classification,
        configs.SyntheticClassificationDataConf,
    ),
    "synthetic_regression": (data.synthetic_regression, configs.SyntheticRegressionDataConf),
    "tensor_file": (data.tensor_file, configs.TensorFileDataConf),
    "csv": (data.csv, configs.CSVDataConf),
    "image_folder": (data.image_folder, configs.ImageFolderDataConf),
}


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_factories_are_registered_with_their_typed_config(name: str) -> None:
    factory, conf = FACTORIES[name]
    assert registry.data.get(name) is factory
    assert config_for("data", name) is conf
    assert conf.__dataclass_fields__["_target_"].default == f"pbgml.data.{name}"


def test_datamodule_and_datasets_are_registered() -> None:
    assert registry.data.get("datamodule") is DataModule
    assert registry.data.get("DataModule") is DataModule
    assert set(registry.data.names("*_dataset")) == {f"{n}_dataset" for n in FACTORIES}


def test_cifar10_default_pipeline(cifar10_root: Path) -> None:
    dm = data.cifar10(str(cifar10_root), val_split=10, batch_size=8)
    assert len(dm.train_dataset) == 30
    assert len(dm.val_dataset) == 10
    assert len(dm.test_dataset) == 6
    assert dm.sample_shape == (3, 32, 32)
    assert dm.num_classes == 10
    assert dm.classes is not None
    assert dm.classes[0] == "airplane"
    x, y = next(iter(dm.test_dataloader()))
    assert x.shape == (6, 3, 32, 32)
    assert x.dtype == torch.float32
    expected = Normalize(preset="cifar10")(torch.full((3, 1, 1), 9 / 255))
    assert x[0, 0, 0, 0].item() == pytest.approx(expected[0, 0, 0].item())
    assert y.tolist() == [9, 8, 7, 6, 5, 4]


def test_course_setup_batch_4_two_workers_half_normalization(cifar10_root: Path) -> None:
    dm = data.cifar10(
        str(cifar10_root),
        val_split=None,
        batch_size=4,
        num_workers=2,
        train_transforms=["to_tensor", Normalize(preset="half")],
    )
    loader = dm.train_dataloader()
    assert loader.batch_size == 4
    assert loader.num_workers == 2
    sampler = loader.sampler
    assert isinstance(sampler, EpochSampler)
    assert sampler.shuffle
    assert dm.val_dataset is None
    x, _ = dm.test_dataset[0]
    assert x[0].unique().item() == pytest.approx(9 / 255 * 2 - 1)  # eval reuses train's


def test_eval_transforms_default_to_train_without_random_ones(cifar10_root: Path) -> None:
    dm = data.cifar10(
        str(cifar10_root),
        val_split=5,
        train_transforms=[
            "to_tensor",
            RandomCrop(32, padding=4),
            "random_horizontal_flip",
            Normalize(preset="half"),
        ],
    )
    assert isinstance(dm.train_transform, Compose)
    assert len(dm.train_transform.transforms) == 4
    assert isinstance(dm.eval_transform, Compose)
    assert repr(dm.eval_transform) == "Compose([ToTensor(), Normalize(preset='half')])"
    explicit = data.cifar10(
        str(cifar10_root), val_split=None, train_transforms=["to_tensor"], eval_transforms=[]
    )
    assert explicit.test_dataset[0][0].dtype == torch.uint8  # raw HWC image


def test_cifar100_factory(cifar100_root: Path) -> None:
    dm = data.cifar100(str(cifar100_root), label_type="coarse", val_split=2)
    assert dm.num_classes == 20
    assert dm.sample_shape == (3, 32, 32)


def test_mnist_factories(write_mnist: Any) -> None:
    root = write_mnist().parent.parent
    dm = data.mnist(str(root), val_split=2)
    assert (len(dm.train_dataset), len(dm.val_dataset), len(dm.test_dataset)) == (10, 2, 5)
    assert dm.sample_shape == (1, 28, 28)
    fashion_root = write_mnist("FashionMNIST/raw").parent.parent
    assert data.fashion_mnist(str(fashion_root), val_split=None).num_classes == 10


def test_vision_factories_report_missing_files(tmp_path: Path) -> None:
    for factory in (data.cifar10, data.cifar100, data.mnist, data.fashion_mnist):
        with pytest.raises(DataNotFoundError, match="root="):
            factory(str(tmp_path))


def test_digits_factory_splits() -> None:
    dm = data.digits(test_split=0.5, val_split=None, seed=1)
    train, test = dm.train_dataset, dm.test_dataset
    assert (len(train), len(test)) == (899, 898)
    assert not set(train.indices) & set(test.indices)
    again = data.digits(test_split=0.5, val_split=None, seed=1)
    assert again.test_dataset.indices == test.indices


def test_synthetic_factories() -> None:
    dm = data.synthetic_classification(num_samples=50, num_classes=5, test_split=10, val_split=8)
    assert (len(dm.train_dataset), len(dm.val_dataset), len(dm.test_dataset)) == (32, 8, 10)
    assert dm.num_classes == 5
    reg = data.synthetic_regression(num_samples=20, num_features=2, num_targets=3)
    assert reg.train_dataset[0][1].shape == (3,)


def test_tensor_file_factory_with_separate_files(tmp_path: Path) -> None:
    for split, n in (("train", 10), ("val", 4), ("test", 3)):
        torch.save({"x": torch.randn(n, 2), "y": torch.arange(n) % 2}, tmp_path / f"{split}.pt")
    dm = data.tensor_file(
        str(tmp_path / "train.pt"),
        val_path=str(tmp_path / "val.pt"),
        test_path=str(tmp_path / "test.pt"),
    )
    assert (len(dm.train_dataset), len(dm.val_dataset), len(dm.test_dataset)) == (10, 4, 3)
    with pytest.raises(DataError, match="not both") as info:
        data.tensor_file(
            str(tmp_path / "train.pt"), test_path=str(tmp_path / "test.pt"), test_split=2
        )
    assert info.value.param == "test_split"


def test_csv_factory(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,b,y\n" + "".join(f"{i},{i * 2},{i % 2}\n" for i in range(20)))
    dm = data.csv(str(path), target="y", features=["b"], val_split=0.25, test_split=4)
    assert (len(dm.train_dataset), len(dm.val_dataset), len(dm.test_dataset)) == (12, 4, 4)
    assert dm.sample_shape == (1,)


def test_csv_factory_gives_val_and_test_files_the_train_classes(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("a,label\n1,cat\n2,dog\n3,eel\n4,cat\n")
    (tmp_path / "test.csv").write_text("a,label\n1,dog\n2,eel\n")
    (tmp_path / "val.csv").write_text("a,label\n1,eel\n")
    dm = data.csv(
        str(tmp_path / "train.csv"),
        target="label",
        val_path=str(tmp_path / "val.csv"),
        test_path=str(tmp_path / "test.csv"),
    )
    assert dm.classes == ["cat", "dog", "eel"]
    assert [int(y) for _, y in dm.test_dataset] == [1, 2]  # dog, eel in the train's indices
    assert [int(y) for _, y in dm.val_dataset] == [2]
    assert dm.test_dataset.classes == ["cat", "dog", "eel"]


@pytest.mark.parametrize("param", ["val_path", "test_path"])
def test_csv_factory_rejects_labels_the_train_file_lacks(tmp_path: Path, param: str) -> None:
    (tmp_path / "train.csv").write_text("a,label\n1,cat\n2,dog\n")
    (tmp_path / "other.csv").write_text("a,label\n1,dog\n2,dgo\n")
    other: dict[str, Any] = {param: str(tmp_path / "other.csv")}
    with pytest.raises(DataError) as info:
        data.csv(str(tmp_path / "train.csv"), target="label", **other)
    message = str(info.value)
    assert info.value.param == param
    assert message.startswith(f"{param}=")
    assert "'dgo'" in message
    assert "known classes ['cat', 'dog']" in message
    assert "Did you mean 'dog'?" in message


@pytest.mark.parametrize("factory", ["csv", "tensor_file"])
def test_val_path_and_val_split_name_both_keys(tmp_path: Path, factory: str) -> None:
    (tmp_path / "t.csv").write_text("a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(6)))
    torch.save((torch.randn(6, 2), torch.arange(6) % 2), tmp_path / "t.pt")
    path = str(tmp_path / ("t.csv" if factory == "csv" else "t.pt"))
    kwargs: dict[str, Any] = {"target": "y"} if factory == "csv" else {}
    with pytest.raises(DataError) as info:
        registry.data.build(factory, path=path, val_path=path, val_split=2, **kwargs)
    assert f"val_path={path!r}" in str(info.value)
    assert "val_split=2" in str(info.value)
    assert info.value.param == "val_split"


def test_image_folder_factory_checks_matching_classes(tmp_path: Path) -> None:
    for split, classes in (("train", ("a", "b")), ("val", ("a", "c"))):
        for cls in classes:
            (tmp_path / split / cls).mkdir(parents=True)
            torch.save(torch.zeros(5, 5, 3, dtype=torch.uint8), tmp_path / split / cls / "0.pt")
    dm = data.image_folder(str(tmp_path / "train"), test_root=str(tmp_path / "train"))
    assert dm.sample_shape == (3, 5, 5)
    with pytest.raises(DataError, match="the class folders must match") as info:
        data.image_folder(str(tmp_path / "train"), val_root=str(tmp_path / "val"))
    assert info.value.param == "val_root"


def test_typed_configs_instantiate_with_hydra(cifar10_root: Path) -> None:
    dm = instantiate(OmegaConf.structured(DigitsDataConf(batch_size=32)))
    assert isinstance(dm, DataModule)
    assert dm.batch_size == 32
    course = CIFAR10DataConf(
        root=str(cifar10_root),
        val_split=10,
        batch_size=4,
        train_transforms=[
            ToTensorConf(),
            RandomCropConf(size=32, padding=4),
            RandomHorizontalFlipConf(),
            NormalizeConf(preset="half"),
        ],
    )
    node = OmegaConf.structured(course)
    assert OmegaConf.create(OmegaConf.to_yaml(node)) == node
    built = instantiate(node)
    assert len(built.val_dataset) == 10
    assert repr(built.eval_transform) == "Compose([ToTensor(), Normalize(preset='half')])"
    x, _ = next(iter(built.train_dataloader()))
    assert x.shape == (4, 3, 32, 32)
