"""A checkpoint's state never chooses which files are deleted."""

from __future__ import annotations

import functools
from pathlib import Path

import torch

from pbgml.data import DataModule, SyntheticClassification
from pbgml.train import ClassificationTask, ModelCheckpoint, Trainer, load_checkpoint


def _fit(root: Path, epochs: int, ckpt: str | None = None) -> Trainer:
    data = DataModule(SyntheticClassification(64, 4, 2), val_split=16, batch_size=16)
    task = ClassificationTask(
        torch.nn.Linear(4, 2), optimizer=functools.partial(torch.optim.SGD, lr=0.1)
    )
    trainer = Trainer(
        max_epochs=epochs,
        default_root_dir=str(root),
        callbacks=[ModelCheckpoint(save_top_k=1)],
        logger=False,
        enable_progress_bar=False,
    )
    trainer.fit(task, data, ckpt_path=ckpt)
    return trainer


def test_a_hostile_checkpoint_cannot_delete_files_outside_its_folder(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    victim_ckpt = tmp_path / "elsewhere.ckpt"
    victim_ckpt.write_text("keep me too")
    trainer = _fit(tmp_path / "run", 1)
    last = Path(trainer.last_model_path)
    ckpt = load_checkpoint(last)
    (key,) = [k for k in ckpt["callbacks"] if k.startswith("ModelCheckpoint")]
    own = list(ckpt["callbacks"][key]["recent"])
    ckpt["callbacks"][key]["recent"] = [str(victim), str(victim_ckpt), *own]
    ckpt["callbacks"][key]["best_k_models"] = {str(victim_ckpt): 0.0}
    evil = tmp_path / "evil.ckpt"
    torch.save(ckpt, evil)
    _fit(tmp_path / "run", 3, ckpt=str(evil))
    assert victim.read_text() == "keep me"
    assert victim_ckpt.read_text() == "keep me too"
    # its own old checkpoints are still rotated away: top-1 keeps one epoch file
    kept = sorted(p.name for p in (tmp_path / "run" / "checkpoints").glob("epoch=*.ckpt"))
    assert len(kept) == 1


def test_the_csv_log_is_on_disk_when_a_checkpoint_is(tmp_path: Path) -> None:
    import csv

    from pbgml.train import CSVLogger

    data = DataModule(SyntheticClassification(64, 4, 2), val_split=16, batch_size=16)
    task = ClassificationTask(
        torch.nn.Linear(4, 2), optimizer=functools.partial(torch.optim.SGD, lr=0.1)
    )
    seen: list[int] = []

    class Peek(ModelCheckpoint):
        def on_train_epoch_end(self, trainer: Trainer, task: object) -> None:  # type: ignore[override]
            super().on_train_epoch_end(trainer, task)  # type: ignore[arg-type]
            with (tmp_path / "logs" / "metrics.csv").open() as f:  # before fit ends
                seen.append(len(list(csv.DictReader(f))))

    trainer = Trainer(
        max_epochs=2,
        default_root_dir=str(tmp_path),
        callbacks=[Peek()],
        logger=[CSVLogger(flush_every_n_steps=10_000)],
        log_every_n_steps=1,
        enable_progress_bar=False,
    )
    trainer.fit(task, data)
    assert seen
    assert seen[0] > 0
    assert seen[-1] > seen[0]
