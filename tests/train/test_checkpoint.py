"""Checkpoint files: keys, weights_only loads, atomic writes, top-k rotation, in-process resume."""

from __future__ import annotations

import functools
import os
import pickle
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from pbgml.data import ArrayDataset, DataModule
from pbgml.train import (
    CHECKPOINT_KEYS,
    Callback,
    ClassificationTask,
    ModelCheckpoint,
    Task,
    Trainer,
    TrainerError,
    load_checkpoint,
    save_checkpoint,
)
from pbgml.train import _checkpoint as checkpoint_module


def make_data(n: int = 64, seed: int = 0, **kwargs: Any) -> DataModule:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = (x[:, 0] > 0).long()
    options: dict[str, Any] = {"val_split": 16, "batch_size": 8, "seed": seed}
    options.update(kwargs)
    return DataModule(ArrayDataset(x, y, classes=["neg", "pos"]), **options)


def task(lr: float = 0.1) -> ClassificationTask:
    return ClassificationTask(
        nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)),
        optimizer=functools.partial(torch.optim.SGD, lr=lr, momentum=0.9),
    )


def trainer(tmp_path: Path, *callbacks: Callback, **kwargs: Any) -> Trainer:
    kwargs.setdefault("max_epochs", 3)
    return Trainer(
        default_root_dir=tmp_path,
        callbacks=list(callbacks) or [ModelCheckpoint()],
        logger=False,
        config_text="model:\n  hidden: 8\n",
        **kwargs,
    )


def test_checkpoint_keys_meta_and_weights_only(tmp_path: Path) -> None:
    t = trainer(tmp_path)
    t.fit(task(), make_data(eval_transform=lambda x: x))
    files = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert files == ["epoch=002-step=000018.ckpt", "last.ckpt"]
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert tuple(ckpt) == CHECKPOINT_KEYS
    assert ckpt["config"] == "model:\n  hidden: 8\n"
    meta = ckpt["meta"]
    assert meta["sample_shape"] == [4]
    assert meta["classes"] == ["neg", "pos"]
    assert meta["torch_version"] == str(torch.__version__)
    assert meta["pbgml_version"]
    assert meta["eval_transform"].startswith("<function")
    assert ckpt["loop"]["epoch"] == 2
    assert ckpt["loop"]["epoch_finished"]
    assert sorted(ckpt["rng"]) == ["cuda", "numpy", "python", "torch"]
    assert ckpt["data"]["datamodule"] == {"seed": 0, "epoch": 2}
    assert t.last_model_path == str(tmp_path / "checkpoints" / "last.ckpt")
    assert t.best_model_path == str(tmp_path / "checkpoints" / "epoch=002-step=000018.ckpt")
    assert os.path.samefile(t.best_model_path, t.last_model_path)  # last is a hard link


def test_load_never_falls_back_to_unsafe_unpickling(tmp_path: Path) -> None:
    path = tmp_path / "evil.ckpt"
    torch.save({"model": {}, "payload": functools.partial(print, "pwned")}, path)
    with pytest.raises(TrainerError, match="weights_only") as info:
        load_checkpoint(path)
    assert info.value.param == "ckpt_path"
    (tmp_path / "junk.ckpt").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(TrainerError, match="weights_only"):
        load_checkpoint(tmp_path / "junk.ckpt")
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.ckpt")


def test_a_crash_while_writing_leaves_the_previous_file_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = trainer(tmp_path, max_epochs=1)
    t.fit(task(), make_data())
    last = tmp_path / "checkpoints" / "last.ckpt"
    before = last.read_bytes()
    real_save = torch.save

    def torn_save(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        real_save(obj, f, *args, **kwargs)
        f.seek(f.tell() // 2)
        f.truncate()
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_module.torch, "save", torn_save)
    with pytest.raises(OSError, match="disk full"):
        trainer(tmp_path, max_epochs=2).fit(task(), make_data(), ckpt_path="last")
    monkeypatch.undo()
    assert last.read_bytes() == before
    assert load_checkpoint(last)["loop"]["epoch"] == 0
    leftovers = [p.name for p in last.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []  # the temporary file was removed


def test_save_checkpoint_is_atomic_with_a_fsync_and_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(
        os, "replace", lambda a, b: (calls.append("replace"), real_replace(a, b))[1]
    )
    save_checkpoint({"model": {"w": torch.ones(1)}}, tmp_path / "sub" / "x.ckpt")
    assert calls == ["fsync", "replace", "fsync"]  # file, rename, folder
    assert load_checkpoint(tmp_path / "sub" / "x.ckpt")["model"]["w"].item() == 1.0


def test_top_k_by_a_monitored_metric_with_a_template(tmp_path: Path) -> None:
    class FakeAcc(Callback):
        scores = (0.5, 0.9, 0.7, 0.95, 0.6)

        def on_validation_epoch_end(self, trainer: Trainer, task: Task) -> None:
            if trainer.state == "fit" and not trainer.sanity_checking:
                trainer.callback_metrics["val/acc"] = self.scores[trainer.current_epoch]

    cb = ModelCheckpoint(
        monitor="val/acc", mode="max", save_top_k=2, filename="epoch{epoch:03d}-{val/acc:.3f}"
    )
    t = trainer(tmp_path, FakeAcc(), cb, max_epochs=5)
    t.fit(task(), make_data())
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["epoch001-0.900.ckpt", "epoch003-0.950.ckpt", "last.ckpt"]
    assert cb.best_model_path.endswith("epoch003-0.950.ckpt")
    assert cb.best_model_score == 0.95
    saved = load_checkpoint(tmp_path / "checkpoints" / "last.ckpt")["callbacks"][cb.state_key]
    assert saved["best_model_path"] == cb.best_model_path
    assert sorted(Path(p).name for p in saved["best_k_models"]) == [
        "epoch001-0.900.ckpt",
        "epoch003-0.950.ckpt",
    ]
    # test on the best checkpoint
    (best,) = t.validate(task(), make_data(), ckpt_path="best")
    assert set(best) == {"val/loss", "val/acc"}


def test_recent_rotation_without_monitor_and_every_n_steps(tmp_path: Path) -> None:
    cb = ModelCheckpoint(every_n_train_steps=4, every_n_epochs=None, save_top_k=2)
    trainer(tmp_path, cb, max_epochs=2).fit(task(), make_data())  # 12 steps
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["epoch=001-step=000008.ckpt", "epoch=001-step=000012.ckpt", "last.ckpt"]
    ckpt = load_checkpoint(tmp_path / "checkpoints" / "epoch=001-step=000008.ckpt")
    assert (ckpt["loop"]["batch"], ckpt["loop"]["epoch_finished"]) == (2, False)


def test_non_finite_weights_are_never_written_and_keep_the_last_good_one(tmp_path: Path) -> None:
    class Poison(Callback):
        def on_train_epoch_end(self, trainer: Trainer, task: Task) -> None:
            if trainer.current_epoch == 1:
                with torch.no_grad():
                    next(task.parameters()).fill_(float("inf"))

    cb = ModelCheckpoint(save_top_k=1)
    t = trainer(tmp_path, Poison(), cb, max_epochs=2)
    with pytest.warns(RuntimeWarning, match="not finite"):
        t.fit(task(), make_data())
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["epoch=000-step=000006.ckpt", "last.ckpt"]
    assert load_checkpoint(cb.last_model_path)["loop"]["epoch"] == 0
    with pytest.raises(TrainerError, match="not finite"):
        t.save_checkpoint(tmp_path / "manual.ckpt")


def test_in_process_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    class Record(Callback):
        def __init__(self) -> None:
            self.losses: dict[int, float] = {}

        def on_train_batch_end(
            self, trainer: Trainer, task: Task, outputs: Any, batch: Any, batch_idx: int
        ) -> None:
            self.losses[trainer.global_step] = float(outputs["loss"])

    def data() -> DataModule:
        return make_data(train_transform=lambda x: x + 0.1 * torch.randn_like(x))

    torch.manual_seed(0)
    full_task, full = task(), Record()
    trainer(tmp_path / "full", full, max_epochs=3).fit(full_task, data())
    torch.manual_seed(0)
    part_task = task()
    trainer(
        tmp_path / "part", ModelCheckpoint(every_n_train_steps=8), max_epochs=3, max_steps=8
    ).fit(part_task, data())
    resumed_task, resumed = task(), Record()
    path = tmp_path / "part" / "checkpoints" / "last.ckpt"
    t = trainer(tmp_path / "part", ModelCheckpoint(every_n_train_steps=8), resumed, max_epochs=3)
    t.fit(resumed_task, data(), ckpt_path=path)
    assert t.global_step == 18
    assert resumed.losses == {s: v for s, v in full.losses.items() if s > 8}
    for key, value in full_task.state_dict().items():
        assert torch.equal(value, resumed_task.state_dict()[key]), key


def test_a_plain_loader_warns_that_it_cannot_resume_mid_epoch(tmp_path: Path) -> None:
    x = torch.randn(32, 4)
    loader = DataLoader(TensorDataset(x, (x[:, 0] > 0).long()), batch_size=8)
    cb = ModelCheckpoint(every_n_train_steps=2, every_n_epochs=None)
    trainer(tmp_path, cb, max_epochs=1, max_steps=2).fit(task(), train_dataloaders=loader)
    with pytest.warns(UserWarning, match="cannot resume mid-epoch"):
        trainer(tmp_path, cb, max_epochs=1).fit(task(), train_dataloaders=loader, ckpt_path="last")


def test_stateful_dataloader_resumes_mid_epoch(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*set_vital.*", category=UserWarning)
        stateful = pytest.importorskip("torchdata.stateful_dataloader")

    def loader() -> Any:
        x = torch.arange(32.0).reshape(8, 4).repeat(4, 1)
        g = torch.Generator().manual_seed(3)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*'set_vital' is deprecated.*")
            return stateful.StatefulDataLoader(
                TensorDataset(x, (x[:, 0] % 2).long()), batch_size=4, shuffle=True, generator=g
            )

    class Seen(Callback):
        def __init__(self) -> None:
            self.batches: list[list[float]] = []

        def on_train_batch_end(
            self, trainer: Trainer, task: Task, outputs: Any, batch: Any, batch_idx: int
        ) -> None:
            self.batches.append(batch[0][:, 0].tolist())

    full = Seen()
    trainer(tmp_path / "a", full, max_epochs=1).fit(task(), train_dataloaders=loader())
    cb = ModelCheckpoint(every_n_train_steps=3, every_n_epochs=None)
    trainer(tmp_path / "b", cb, max_epochs=1, max_steps=3).fit(task(), train_dataloaders=loader())
    ckpt = load_checkpoint(tmp_path / "b" / "checkpoints" / "last.ckpt")
    assert ckpt["data"]["loader"] is not None
    rest = Seen()
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="the train DataLoader cannot")
        trainer(tmp_path / "b", cb, rest, max_epochs=1).fit(
            task(), train_dataloaders=loader(), ckpt_path="last"
        )
    assert rest.batches == full.batches[3:]


def test_ckpt_path_errors(tmp_path: Path) -> None:
    t = trainer(tmp_path)
    with pytest.raises(TrainerError, match="no best checkpoint") as info:
        t.test(task(), make_data(test=make_data().train), ckpt_path="best")
    assert info.value.param == "ckpt_path"
    with pytest.raises(TrainerError, match="ckpt_path='last'"):
        t.fit(task(), make_data(), ckpt_path="last")


def _weights(t: Task) -> dict[str, Tensor]:
    return {k: v.clone() for k, v in t.state_dict().items()}


@pytest.mark.parametrize("with_generator", [True, False])
@pytest.mark.parametrize("stop_at", [8, 9])  # an epoch end (4 batches an epoch), mid-epoch
def test_a_plain_shuffled_loader_resumes_exactly_too(
    tmp_path: Path, with_generator: bool, stop_at: int
) -> None:
    x = torch.randn(32, 4, generator=torch.Generator().manual_seed(0))

    def loader() -> DataLoader[Any]:
        g = torch.Generator().manual_seed(5) if with_generator else None
        return DataLoader(
            TensorDataset(x, (x[:, 0] > 0).long()), batch_size=8, shuffle=True, generator=g
        )

    class Record(Callback):
        def __init__(self) -> None:
            self.losses: dict[int, float] = {}

        def on_train_batch_end(
            self, trainer: Trainer, task: Task, outputs: Any, batch: Any, batch_idx: int
        ) -> None:
            self.losses[trainer.global_step] = float(outputs["loss"])

    def fresh() -> ClassificationTask:
        torch.manual_seed(0)
        return ClassificationTask(
            nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.3), nn.Linear(8, 2)),
            optimizer=functools.partial(torch.optim.SGD, lr=0.1),
        )

    full_task, full = fresh(), Record()
    torch.manual_seed(1)
    trainer(tmp_path / "full", full, max_epochs=4).fit(full_task, train_dataloaders=loader())
    cb = ModelCheckpoint(every_n_train_steps=stop_at, every_n_epochs=None)
    part_task = fresh()
    torch.manual_seed(1)
    trainer(tmp_path / "part", cb, max_epochs=4, max_steps=stop_at).fit(
        part_task, train_dataloaders=loader()
    )
    resumed_task, resumed = fresh(), Record()
    torch.manual_seed(123)  # whatever the new process's RNG holds
    t = trainer(tmp_path / "part", cb, resumed, max_epochs=4)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="the train DataLoader cannot resume")
        t.fit(resumed_task, train_dataloaders=loader(), ckpt_path="last")
    assert resumed.losses == {s: v for s, v in full.losses.items() if s > stop_at}
    for key, value in full_task.state_dict().items():
        assert torch.equal(value, resumed_task.state_dict()[key]), key


def _as_if_saved_on_cuda(source: Path, target: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``source`` saved again with every storage tagged ``cuda:0`` (what a CUDA run writes),
    and a CUDA RNG state as a CUDA machine records it."""
    ckpt = torch.load(source, weights_only=True)
    ckpt["rng"]["cuda"] = [torch.zeros(16, dtype=torch.uint8)]
    with monkeypatch.context() as patch:
        patch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        torch.save(ckpt, target)


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU-only side of the round trip")
def test_a_cuda_runs_checkpoint_resumes_on_a_cpu_only_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.manual_seed(0)
    t = trainer(tmp_path / "a", max_epochs=2)
    t.fit(task(), make_data())
    cuda_ckpt = tmp_path / "cuda.ckpt"
    _as_if_saved_on_cuda(Path(t.last_model_path), cuda_ckpt, monkeypatch)
    with pytest.raises(RuntimeError, match="CUDA"):  # the file really names a CUDA device
        torch.load(cuda_ckpt, weights_only=True)
    loaded = load_checkpoint(cuda_ckpt)
    assert all(v.device.type == "cpu" for v in loaded["model"].values())
    # resumed on this CPU: the same weights as the uninterrupted CPU run
    resumed = task()
    trainer(tmp_path / "b", max_epochs=3).fit(resumed, make_data(), ckpt_path=cuda_ckpt)
    torch.manual_seed(0)
    plain = task()
    trainer(tmp_path / "c", max_epochs=3).fit(plain, make_data())
    for key, value in plain.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_cpu_runs_checkpoint_resumes_on_cuda(tmp_path: Path) -> None:  # pragma: no cover
    t = trainer(tmp_path / "a", max_epochs=2)
    t.fit(task(), make_data())
    resumed = task()
    cuda = trainer(tmp_path / "b", max_epochs=3, accelerator="cuda")
    cuda.fit(resumed, make_data(), ckpt_path=t.last_model_path)
    assert cuda.global_step > t.global_step
    assert all(p.device.type == "cuda" for p in resumed.parameters())
