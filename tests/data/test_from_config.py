"""Registry-driven: every file-reading data entry builds from its config through
``pbgml.instantiate`` (files written in the real formats) and yields a batch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

import pbgml
from pbgml import registry
from pbgml.configs import config_for


def _files(
    tmp_path: Path, cifar10_root: Path, cifar100_root: Path, write_mnist: Any
) -> dict[str, dict[str, Any]]:
    write_mnist("MNIST/raw")
    write_mnist("FashionMNIST/raw")
    csv = tmp_path / "table.csv"
    csv.write_text("a,b,label\n" + "".join(f"{i},{i * 2},{'xy'[i % 2]}\n" for i in range(10)))
    pt = tmp_path / "tensors.pt"
    torch.save({"x": torch.randn(10, 3), "y": torch.arange(10) % 2}, pt)
    folder = tmp_path / "images"
    for cls in ("cat", "dog"):
        (folder / cls).mkdir(parents=True)
        for i in range(3):
            np.save(folder / cls / f"{i}.npy", np.full((8, 8, 3), i * 40, dtype=np.uint8))
    small = {"val_split": 2, "batch_size": 4}
    return {
        "cifar10": {"root": str(cifar10_root), **small},
        "cifar100": {"root": str(cifar100_root), **small},
        "mnist": {"root": str(tmp_path), **small},
        "fashion_mnist": {"root": str(tmp_path), **small},
        "csv": {"path": str(csv), "target": "label", **small},
        "tensor_file": {"path": str(pt), **small},
        "image_folder": {"root": str(folder), **small},
        "cifar10_dataset": {"root": str(cifar10_root)},
        "cifar100_dataset": {"root": str(cifar100_root)},
        "mnist_dataset": {"root": str(tmp_path)},
        "fashion_mnist_dataset": {"root": str(tmp_path)},
        "csv_dataset": {"path": str(csv), "target": "label"},
        "tensor_file_dataset": {"path": str(pt)},
        "image_folder_dataset": {"root": str(folder)},
    }


FILE_ENTRIES = [
    "cifar10", "cifar100", "mnist", "fashion_mnist", "csv", "tensor_file", "image_folder",
    "cifar10_dataset", "cifar100_dataset", "mnist_dataset", "fashion_mnist_dataset",
    "csv_dataset", "tensor_file_dataset", "image_folder_dataset",
]  # fmt: skip


@pytest.mark.parametrize("name", FILE_ENTRIES)
def test_file_data_builds_from_config(
    name: str, tmp_path: Path, cifar10_root: Path, cifar100_root: Path, write_mnist: Any
) -> None:
    values = _files(tmp_path, cifar10_root, cifar100_root, write_mnist)[name]
    node = OmegaConf.structured(config_for("data", name))
    for key, value in values.items():
        node[key] = value
    text = pbgml.to_yaml(node)
    built = pbgml.instantiate(pbgml.load_yaml(text), key="data")  # through YAML, too
    if isinstance(built, torch.utils.data.Dataset):
        x, y = built[0]
        assert isinstance(x, torch.Tensor | np.ndarray)
        return
    built.setup()
    x, y = next(iter(built.train_dataloader()))
    assert x.shape[0] == y.shape[0] > 0
    assert x.dtype == torch.float32


def test_image_folder_of_png_files_from_config(tmp_path: Path) -> None:
    from PIL import Image

    root = tmp_path / "pngs"
    for label, cls in enumerate(("cat", "dog")):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            pixels = np.full((8, 8, 3), 40 * i + label, dtype=np.uint8)
            Image.fromarray(pixels).save(root / cls / f"{i}.png")
    cfg = {
        "_target_": "image_folder",
        "root": str(root),
        "val_split": 2,
        "batch_size": 2,
        "train_transforms": [
            {"_target_": "to_tensor"},
            {"_target_": "normalize", "preset": "half"},
        ],
    }
    data = pbgml.instantiate(cfg, key="data")
    data.setup()
    assert data.classes == ["cat", "dog"]
    assert data.sample_shape == (3, 8, 8)
    x, _ = next(iter(data.train_dataloader()))
    assert x.shape == (2, 3, 8, 8)
    assert x.dtype == torch.float32
    assert float(x.min()) >= -1.0
    assert float(x.max()) <= 1.0
    dataset = registry.data.build("image_folder_dataset", root=str(root))
    image, label = dataset[4]  # sorted: cat 0..2, dog 0..2 -> dog/1.png
    assert label == 1
    assert np.asarray(image)[0, 0, 0] == 41  # the PNG's pixel, read back exactly


def test_pin_memory_defaults_on_when_cuda_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = {"_target_": "synthetic_classification", "num_samples": 20, "num_features": 3}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pbgml.instantiate(cfg, key="data").pin_memory is True
    assert pbgml.instantiate({**cfg, "pin_memory": False}, key="data").pin_memory is False
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pbgml.instantiate(cfg, key="data").pin_memory is False


def test_malformed_file_error_names_the_config_key(tmp_path: Path, write_mnist: Any) -> None:
    raw = write_mnist("MNIST/raw", gz=False)
    images = raw / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:100])  # truncated
    with pytest.raises(pbgml.PbgmlError) as info:
        pbgml.instantiate({"data": {"_target_": "mnist", "root": str(tmp_path)}})
    assert str(images) in str(info.value)
    assert any("data.root" in note for note in info.value.__notes__)
