"""Shared helpers of the export tests: tiny trained runs (each module trains its own once)."""

from __future__ import annotations

from pathlib import Path

import pbgml
from pbgml.configs import (
    DigitsDataConf,
    ExperimentConf,
    ImageFolderDataConf,
    MLPConf,
    NormalizeConf,
    SmallCNNConf,
    ToTensorConf,
    TrainerConf,
)

CLASSES = ("cat", "dog")


def _trainer(root: Path) -> TrainerConf:
    return TrainerConf(
        max_epochs=1,
        default_root_dir=str(root),
        enable_progress_bar=False,
        enable_model_summary=False,
    )


def train_digits(root: Path) -> pbgml.RunResult:
    """An MLP on sklearn's digits, one epoch (~2 s)."""
    cfg = ExperimentConf(
        model=MLPConf(in_features=64, hidden=(16,), out_features=10),
        data=DigitsDataConf(batch_size=64),
        trainer=_trainer(root),
    )
    return pbgml.run(cfg)


def write_images(root: Path, per_class: int = 6, size: int = 8) -> list[Path]:
    """PNGs in class folders: dark 'cat' images, bright 'dog' images (PIL)."""
    from PIL import Image

    paths = []
    for index, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            level = 40 + 10 * i if index == 0 else 200 - 10 * i
            image = Image.new("RGB", (size, size), (level, level // 2, 255 - level))
            path = root / name / f"{i}.png"
            image.save(path)
            paths.append(path)
    return paths


def train_images(root: Path) -> pbgml.RunResult:
    """A small CNN on PNG folders through to_tensor + normalize, one epoch."""
    write_images(root / "images")
    cfg = ExperimentConf(
        model=SmallCNNConf(in_channels=3, num_classes=2, widths=(4,)),
        data=ImageFolderDataConf(
            root=str(root / "images"),
            val_split=2,
            batch_size=4,
            eval_transforms=[ToTensorConf(), NormalizeConf(preset="half")],
        ),
        trainer=_trainer(root / "runs"),
    )
    return pbgml.run(cfg)
