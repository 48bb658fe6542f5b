"""Exact resume through real subprocesses: kill -9 at a random step of epoch 3, SIGTERM.

One uninterrupted reference run is shared by the module. Each scenario runs the
same script (shuffle, dropout, a random augmentation, AdamW with a step
scheduler, 2 loader workers, 5 epochs), stops it in epoch 3, resumes it from
``last.ckpt`` in a new process, and compares the final model, optimizer and
scheduler states and the per-step losses with the reference.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

SCRIPT = """
import functools, json, os, signal, sys
import torch
from pbgml.data import ArrayDataset, DataModule
from pbgml.optim import SchedulerFactory
from pbgml.train import (
    Callback, ClassificationTask, Interrupted, ModelCheckpoint, Trainer, seed_everything,
)

run_dir, mode, at_batch, every_n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
os.makedirs(run_dir, exist_ok=True)
torch.set_num_threads(1)


def jitter(x):  # a random augmentation
    return x + 0.1 * torch.randn_like(x)


class Record(Callback):
    def on_train_batch_end(self, trainer, task, outputs, batch, batch_idx):
        with open(os.path.join(run_dir, "losses.jsonl"), "a") as f:
            f.write(json.dumps([trainer.global_step, outputs["loss"].item()]) + "\\n")


class Stop(Callback):
    def on_train_batch_end(self, trainer, task, outputs, batch, batch_idx):
        if trainer.current_epoch == 2 and batch_idx == at_batch:
            os.kill(os.getpid(), signal.SIGKILL if mode == "kill" else signal.SIGTERM)


seed_everything(0)
g = torch.Generator().manual_seed(1)
data = DataModule(
    ArrayDataset(torch.randn(64, 8, generator=g), torch.randint(0, 3, (64,), generator=g)),
    val_split=16, batch_size=8, num_workers=2, seed=123, train_transform=jitter,
)
model = torch.nn.Sequential(
    torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Dropout(0.3), torch.nn.Linear(32, 3)
)
cosine = functools.partial(torch.optim.lr_scheduler.CosineAnnealingLR, T_max=None)
task = ClassificationTask(
    model,
    optimizer=functools.partial(torch.optim.AdamW, lr=1e-2),
    scheduler=SchedulerFactory(cosine, interval="step"),
)
callbacks = [ModelCheckpoint(every_n_train_steps=every_n or None), Record()]
if mode in ("kill", "sigterm"):
    callbacks.append(Stop())
trainer = Trainer(max_epochs=5, default_root_dir=run_dir, callbacks=callbacks, logger=False)
try:
    trainer.fit(task, data, ckpt_path="last" if mode == "resume" else None)
except Interrupted as err:
    print(json.dumps({"checkpoint": err.checkpoint_path, "step": trainer.global_step}))
    sys.exit(143)
(optimizer,) = trainer.optimizers
(scheduler,) = trainer.lr_schedulers
torch.save(
    {"model": task.state_dict(), "optimizer": optimizer.state_dict(),
     "scheduler": scheduler.state_dict()},
    os.path.join(run_dir, "final.pt"),
)
"""

STEPS_PER_EPOCH = 6  # 48 training samples, batch 8


def _run(script: Path, run_dir: Path, mode: str, at_batch: int = 0, every_n: int = 0) -> int:
    proc = subprocess.run(
        [sys.executable, str(script), str(run_dir), mode, str(at_batch), str(every_n)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode not in (0, 143, -signal.SIGKILL):
        raise AssertionError(f"{mode} run failed ({proc.returncode}):\n{proc.stderr}")
    return proc.returncode


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _losses(run_dir: Path) -> list[tuple[int, float]]:
    lines = (run_dir / "losses.jsonl").read_text().splitlines()
    return [(int(s), float(v)) for s, v in map(json.loads, lines)]


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("script") / "train.py"
    path.write_text(SCRIPT)
    return path


@pytest.fixture(scope="module")
def reference(script: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("reference")
    assert _run(script, run_dir, "full") == 0
    return run_dir


def _assert_same_as_reference(reference: Path, resumed: Path, resume_step: int) -> None:
    ref = torch.load(reference / "final.pt", weights_only=True)
    got = torch.load(resumed / "final.pt", weights_only=True)
    for key in ("model", "optimizer", "scheduler"):
        assert _equal(ref[key], got[key]), f"{key} state differs from the uninterrupted run"
    expected = dict(_losses(reference))
    assert len(expected) == 5 * STEPS_PER_EPOCH
    after = [(s, v) for s, v in _losses(resumed) if s > resume_step]
    assert [s for s, _ in after][-1] == 5 * STEPS_PER_EPOCH
    assert after == [(s, expected[s]) for s, _ in after]  # bit-identical per-step losses
    # every step after the resume point was trained again
    assert sorted({s for s, _ in after}) == list(range(resume_step + 1, 5 * STEPS_PER_EPOCH + 1))


def test_kill_9_in_epoch_3_resumes_exactly_from_the_epoch_end_checkpoint(
    script: Path, reference: Path, tmp_path: Path
) -> None:
    at_batch = random.Random().randrange(STEPS_PER_EPOCH)
    assert _run(script, tmp_path, "kill", at_batch) == -signal.SIGKILL
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["loop"]["epoch"] == 1
    assert last["loop"]["epoch_finished"]
    resume_step = int(last["loop"]["global_step"])
    assert resume_step == 2 * STEPS_PER_EPOCH
    assert _run(script, tmp_path, "resume") == 0
    _assert_same_as_reference(reference, tmp_path, resume_step)


def test_kill_9_resumes_exactly_from_a_mid_epoch_checkpoint(
    script: Path, reference: Path, tmp_path: Path
) -> None:
    # every 4 steps: step 16 is batch 4 of epoch 3 (0-based epoch 2); die just after it
    at_batch = random.Random().choice([4, 5])
    assert _run(script, tmp_path, "kill", at_batch, every_n=4) == -signal.SIGKILL
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    loop = last["loop"]
    assert (loop["epoch"], loop["batch"], loop["global_step"]) == (2, 4, 16)
    assert not loop["epoch_finished"]
    assert _run(script, tmp_path, "resume", every_n=4) == 0
    _assert_same_as_reference(reference, tmp_path, 16)


def test_sigterm_writes_a_checkpoint_raises_interrupted_and_resumes_exactly(
    script: Path, reference: Path, tmp_path: Path
) -> None:
    at_batch = 2
    assert _run(script, tmp_path, "sigterm", at_batch) == 143
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    loop = last["loop"]
    step = 2 * STEPS_PER_EPOCH + at_batch + 1
    assert (loop["epoch"], loop["batch"], loop["global_step"]) == (2, at_batch + 1, step)
    assert _run(script, tmp_path, "resume") == 0
    _assert_same_as_reference(reference, tmp_path, step)
