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
        with open(os.path.join(run_dir, f"losses-{mode}.jsonl"), "a") as f:
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
_RNG = random.Random()
#: run name -> (mode, batch of epoch 3 (0-based 2) where it stops, every_n_train_steps)
PLANS = {
    "reference": ("full", 0, 0),
    "epoch_end": ("kill", _RNG.randrange(STEPS_PER_EPOCH), 0),
    # every 4 steps: step 16 is batch 4 of epoch 3; die just after it
    "mid_epoch": ("kill", _RNG.choice([4, 5]), 4),
    "sigterm": ("sigterm", 2, 0),
}
EXPECTED_CODES = {"full": 0, "kill": -signal.SIGKILL, "sigterm": 143}


def _start(script: Path, run_dir: Path, mode: str, at_batch: int, every_n: int) -> Any:
    return subprocess.Popen(
        [sys.executable, str(script), str(run_dir), mode, str(at_batch), str(every_n)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: Any, expected: int, what: str) -> None:
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == expected, f"{what}: exit code {proc.returncode}:\n{err}"


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _losses(run_dir: Path, mode: str) -> list[tuple[int, float]]:
    lines = (run_dir / f"losses-{mode}.jsonl").read_text().splitlines()
    return [(int(s), float(v)) for s, v in map(json.loads, lines)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every run of the module, the stopped ones resumed: started side by side."""
    base = tmp_path_factory.mktemp("resume")
    script = base / "train.py"
    script.write_text(SCRIPT)
    dirs = {name: base / name for name in PLANS}
    first = {name: _start(script, dirs[name], *plan) for name, plan in PLANS.items()}
    info: dict[str, dict[str, Any]] = {}
    for name, proc in first.items():
        mode = PLANS[name][0]
        _finish(proc, EXPECTED_CODES[mode], f"{name} ({mode})")
        info[name] = {"dir": dirs[name]}
        if name != "reference":
            last = torch.load(dirs[name] / "checkpoints" / "last.ckpt", weights_only=True)
            info[name]["loop"] = dict(last["loop"])
    resumed = {
        name: _start(script, dirs[name], "resume", 0, PLANS[name][2])
        for name in PLANS
        if name != "reference"
    }
    for name, proc in resumed.items():
        _finish(proc, 0, f"{name} (resume)")
    return info


def _assert_same_as_reference(reference: Path, resumed: Path, resume_step: int) -> None:
    ref = torch.load(reference / "final.pt", weights_only=True)
    got = torch.load(resumed / "final.pt", weights_only=True)
    for key in ("model", "optimizer", "scheduler"):
        assert _equal(ref[key], got[key]), f"{key} state differs from the uninterrupted run"
    expected = dict(_losses(reference, "full"))
    assert sorted(expected) == list(range(1, 5 * STEPS_PER_EPOCH + 1))
    after = _losses(resumed, "resume")
    # the resumed process trained every step after the resume point, once, with the
    # very losses of the uninterrupted run
    assert [s for s, _ in after] == list(range(resume_step + 1, 5 * STEPS_PER_EPOCH + 1))
    assert after == [(s, expected[s]) for s, _ in after]
    # and so did the interrupted process before it stopped
    before = [
        (s, v)
        for path in resumed.glob("losses-[ks]*.jsonl")
        for s, v in _losses(resumed, path.stem[7:])
    ]
    assert before == [(s, expected[s]) for s, _ in before]


def test_kill_9_in_epoch_3_resumes_exactly_from_the_epoch_end_checkpoint(
    runs: dict[str, dict[str, Any]],
) -> None:
    loop = runs["epoch_end"]["loop"]
    assert (loop["epoch"], loop["epoch_finished"]) == (1, True)
    assert loop["global_step"] == 2 * STEPS_PER_EPOCH
    _assert_same_as_reference(runs["reference"]["dir"], runs["epoch_end"]["dir"], 12)


def test_kill_9_resumes_exactly_from_a_mid_epoch_checkpoint(
    runs: dict[str, dict[str, Any]],
) -> None:
    loop = runs["mid_epoch"]["loop"]
    assert (loop["epoch"], loop["batch"], loop["global_step"]) == (2, 4, 16)
    assert not loop["epoch_finished"]
    _assert_same_as_reference(runs["reference"]["dir"], runs["mid_epoch"]["dir"], 16)


def test_sigterm_writes_a_checkpoint_raises_interrupted_and_resumes_exactly(
    runs: dict[str, dict[str, Any]],
) -> None:
    at_batch = PLANS["sigterm"][1]
    step = 2 * STEPS_PER_EPOCH + at_batch + 1
    loop = runs["sigterm"]["loop"]  # written by the trainer when the signal arrived
    assert (loop["epoch"], loop["batch"], loop["global_step"]) == (2, at_batch + 1, step)
    assert not loop["epoch_finished"]
    _assert_same_as_reference(runs["reference"]["dir"], runs["sigterm"]["dir"], step)
