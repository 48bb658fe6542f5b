from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from pbgml.data import DataError, DataNotFoundError, ImageFolder, MissingExtraError, ToTensor


def _tree(root: Path) -> Path:
    """root/cat/{0.pt, deep/1.npy}, root/dog/{0.pt}, plus files ImageFolder must skip."""
    (root / "cat" / "deep").mkdir(parents=True)
    (root / "dog").mkdir()
    (root / ".hidden").mkdir()
    torch.save(torch.full((4, 4, 3), 10, dtype=torch.uint8), root / "cat" / "0.pt")
    np.save(root / "cat" / "deep" / "1.npy", np.full((4, 4, 3), 20, dtype=np.uint8))
    torch.save(torch.full((4, 4, 3), 30, dtype=torch.uint8), root / "dog" / "0.pt")
    (root / "cat" / "notes.txt").write_text("not an image")
    return root


def test_image_folder_classes_and_samples(tmp_path: Path) -> None:
    ds = ImageFolder(str(_tree(tmp_path)))
    assert ds.classes == ["cat", "dog"]
    assert ds.class_to_idx == {"cat": 0, "dog": 1}
    assert len(ds) == 3
    assert ds.targets == [0, 0, 1]
    assert ds.num_classes == 2
    values = [int(ds[i][0].flatten()[0]) for i in range(3)]
    assert values == [10, 20, 30]
    image, label = ImageFolder(str(tmp_path), transform=ToTensor())[2]
    assert image.shape == (3, 4, 4)
    assert label == 1


def test_image_folder_extensions(tmp_path: Path) -> None:
    ds = ImageFolder(str(_tree(tmp_path)), extensions=["npy"])
    assert len(ds) == 1
    with pytest.raises(DataError, match=r"Did you mean '\.png'") as info:
        ImageFolder(str(tmp_path), extensions=[".pnj"])
    assert info.value.param == "extensions"


def test_image_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="that folder does not exist") as info:
        ImageFolder(str(tmp_path / "nope"))
    assert info.value.param == "root"
    with pytest.raises(DataError, match="one sub-folder per class"):
        ImageFolder(str(tmp_path))
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(DataError, match="found no images"):
        ImageFolder(str(tmp_path))


def test_image_folder_bad_file(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    torch.save({"not": "a tensor"}, tmp_path / "a" / "0.pt")
    with pytest.raises(DataError, match="expected a tensor, got dict"):
        ImageFolder(str(tmp_path))[0]


def test_pil_images_without_pillow_name_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "0.png").write_bytes(b"\x89PNG")
    with pytest.raises(MissingExtraError, match=r"pip install pbgml\[vision\]") as info:
        ImageFolder(str(tmp_path))
    assert "Pillow" in str(info.value)
    assert isinstance(info.value, ImportError)
    # the array formats need no Pillow
    torch.save(torch.zeros(2, 2, 3, dtype=torch.uint8), tmp_path / "a" / "1.pt")
    assert len(ImageFolder(str(tmp_path), extensions=[".pt"])) == 1
