"""The Trainer's overhead over a hand-written loop (and Lightning's, when installed).

Work: an MLP 64-256-256-10 on 32768 samples, batch 128 (256 steps an epoch), SGD,
one thread. Arms: a hand-written loop; ``Trainer(callbacks=[], logger=False)`` (bare);
the default Trainer (progress bar, CSV logger, checkpoint at epoch end, model
summary); Lightning with its extras off, if ``lightning`` is importable (a
benchmark-only dependency: never a dependency of pbgml or of its tests).

Budgets (issue: trainer):
- one epoch of the bare Trainer takes at most 1.03x the hand-written loop's, the
  default Trainer's at most 1.10x;
- on a tiny 32-32-2 model, the bare Trainer adds at most 30 us per step (Lightning's
  figure printed beside it);
- the peak memory (``ru_maxrss``) of a process that fits with the Trainer is at most
  1.05x that of a process running the hand-written loop (fresh subprocesses).

Timing (benchmarks/_timing.py): every round runs one epoch of each arm, in a
shuffled order, so that a burst of load on this shared machine falls on every arm
alike; the ratios and extra costs are taken round by round and summarized by
their median, with the min-max beside it. Only the fit (or the loop) is timed:
models, optimizers, loaders and trainers are built before the clock starts. The
loader fetches a whole batch at once (``__getitems__``), so that the per-sample
collate of a plain ``TensorDataset`` (about 0.3 ms a step here, the same for every
arm) does not hide the framework's cost; ``--plain-loader`` uses it anyway.
Output of the arms (progress bar, summary) goes to a buffer, not a terminal.

Run: ``python benchmarks/bench_trainer.py [--rounds N] [--quick] [--clock wall|cpu]
[--plain-loader] [--no-memory]`` (with Lightning: ``pip install lightning`` into the
environment, or put it on ``PYTHONPATH``). ``--clock cpu`` times the process's CPU
time instead of the wall clock: much less disturbed by other jobs on a shared
machine, but blind to waits (the default Trainer's ``fsync`` of its checkpoint).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import io
import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch
from _timing import CLOCKS, interleave, report, report_against, stats
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

SAMPLES = 32768
BATCH = 128
STEPS = SAMPLES // BATCH
WORKS: dict[str, tuple[int, tuple[int, ...], int]] = {
    "mlp": (64, (256, 256), 10),
    "tiny": (32, (32,), 2),
}
BUDGET_BARE, BUDGET_DEFAULT, BUDGET_STEP_US, BUDGET_MEMORY = 1.03, 1.10, 30.0, 1.05
LR = 0.01
HAND = "hand-written"
CLOCK: list[Callable[[], float]] = [time.perf_counter]  # --clock cpu: time.process_time


# -- the work ---------------------------------------------------------------------------


class _Batched(TensorDataset):
    """A ``TensorDataset`` that the DataLoader's fetcher reads a batch at a time."""

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, ...]:
        index = torch.tensor(indices)  # once: indexing with the list converts it per tensor
        return tuple(t.index_select(0, index) for t in self.tensors)


def _whole_batch(batch: Any) -> Any:
    return batch  # already a batch: (x[indices], y[indices])


def make_data(work: str) -> TensorDataset:
    in_features, _, classes = WORKS[work]
    g = torch.Generator().manual_seed(0)
    x = torch.randn(SAMPLES, in_features, generator=g)
    y = torch.randint(0, classes, (SAMPLES,), generator=g)
    return _Batched(x, y)


def make_loader(data: TensorDataset, plain: bool, seed: int = 0) -> DataLoader[Any]:
    g = torch.Generator().manual_seed(seed)
    if plain:
        return DataLoader(TensorDataset(*data.tensors), batch_size=BATCH, shuffle=True, generator=g)
    return DataLoader(data, batch_size=BATCH, shuffle=True, generator=g, collate_fn=_whole_batch)


def make_model(work: str) -> nn.Module:
    in_features, hidden, out_features = WORKS[work]
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    width = in_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)


def _sgd(model: nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=LR)


# -- the arms: each builds its pieces untimed, then times one epoch ---------------------


def hand_written(work: str, data: TensorDataset, plain: bool) -> float:
    model, loader, loss_fn = make_model(work), make_loader(data, plain), nn.CrossEntropyLoss()
    optimizer = _sgd(model)
    start = CLOCK[0]()
    model.train()
    for x, y in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
    return CLOCK[0]() - start


def _pbgml_train() -> Any:
    return importlib.import_module("pbgml.train")


# what "bare" turns off, in both pbgml's and Lightning's Trainer (same names)
_EXTRAS_OFF: dict[str, Any] = {
    "max_epochs": 1,
    "logger": False,
    "enable_progress_bar": False,
    "enable_model_summary": False,
    "num_sanity_val_steps": 0,
}


def _timed_fit(build: Callable[[str], tuple[Any, Any]], data: TensorDataset, plain: bool) -> float:
    """Build ``(trainer, module)`` for a fresh run folder, then time one ``fit`` only."""
    root = tempfile.mkdtemp(prefix="bench-trainer-")
    try:
        trainer, module = build(root)
        loader = make_loader(data, plain)
        with _quiet():
            start = CLOCK[0]()
            trainer.fit(module, train_dataloaders=loader)
            return CLOCK[0]() - start
    finally:
        shutil.rmtree(root, ignore_errors=True)


def pbgml_trainer(work: str, data: TensorDataset, plain: bool, *, default: bool) -> float:
    train = _pbgml_train()

    def build(root: str) -> tuple[Any, Any]:
        task = train.ClassificationTask(make_model(work), nn.CrossEntropyLoss(), _sgd, metrics={})
        if default:  # progress bar, CSV logger, checkpoint at epoch end, model summary
            return train.Trainer(max_epochs=1, default_root_dir=root), task
        return train.Trainer(callbacks=[], default_root_dir=root, **_EXTRAS_OFF), task

    return _timed_fit(build, data, plain)


_LIT: list[Any] = []


def _lightning_module_class(lightning: Any) -> Any:
    """A LightningModule doing the hand-written loop's step (built once, at run time)."""
    if not _LIT:

        def init(self: Any, model: nn.Module) -> None:
            lightning.LightningModule.__init__(self)
            self.model = model
            self.loss_fn = nn.CrossEntropyLoss()

        def training_step(self: Any, batch: Sequence[torch.Tensor], batch_idx: int) -> Any:
            x, y = batch
            return self.loss_fn(self.model(x), y)

        def configure_optimizers(self: Any) -> torch.optim.Optimizer:
            return _sgd(self)

        namespace = {
            "__init__": init,
            "training_step": training_step,
            "configure_optimizers": configure_optimizers,
        }
        _LIT.append(type("LitClassifier", (lightning.LightningModule,), namespace))
    return _LIT[0]


def _import_lightning() -> Any:
    warnings.filterwarnings("ignore", module="lightning")
    warnings.filterwarnings("ignore", module="pytorch_lightning")
    lightning = importlib.import_module("lightning")
    for name in ("lightning.pytorch", "lightning.fabric", "pytorch_lightning", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)  # its import sets INFO: GPU/TPU lines
    return lightning


def lightning_trainer(work: str, data: TensorDataset, plain: bool) -> float:
    lightning = _import_lightning()

    def build(root: str) -> tuple[Any, Any]:
        module = _lightning_module_class(lightning)(make_model(work))
        trainer = lightning.Trainer(
            enable_checkpointing=False,
            accelerator="cpu",
            devices=1,
            default_root_dir=root,
            **_EXTRAS_OFF,
        )
        return trainer, module

    return _timed_fit(build, data, plain)


@contextlib.contextmanager
def _quiet() -> Any:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def available() -> dict[str, str | None]:
    """Why an optional arm cannot run (``None``: it can)."""
    reasons: dict[str, str | None] = {"pbgml": None, "lightning": None}
    try:
        train = _pbgml_train()
        train.Trainer, train.ClassificationTask  # noqa: B018
    except Exception as err:  # the Trainer is still being written: report, run the rest
        reasons["pbgml"] = f"{type(err).__name__}: {err}"
    if importlib.util.find_spec("lightning") is None:
        reasons["lightning"] = "not installed (pip install lightning)"
    return reasons


def arms_for(
    work: str, plain: bool, reasons: dict[str, str | None]
) -> dict[str, Callable[[], float]]:
    data = make_data(work)
    arms: dict[str, Callable[[], float]] = {HAND: lambda: hand_written(work, data, plain)}
    if reasons["pbgml"] is None:
        arms["pbgml bare"] = lambda: pbgml_trainer(work, data, plain, default=False)
        if work == "mlp":
            arms["pbgml default"] = lambda: pbgml_trainer(work, data, plain, default=True)
    if reasons["lightning"] is None:
        arms["lightning"] = lambda: lightning_trainer(work, data, plain)
    return arms


# -- peak memory: one fresh process per run ----------------------------------------------


def _hwm_kib() -> int:
    """This process's own peak resident memory (``VmHWM``), to cross-check ``ru_maxrss``."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def child(arm: str, plain: bool) -> None:
    """Run one MLP epoch with ``arm`` in this (fresh) process and print its peak memory."""
    torch.set_num_threads(1)
    data = make_data("mlp")
    if arm == HAND:
        hand_written("mlp", data, plain)
    elif arm == "lightning":
        lightning_trainer("mlp", data, plain)
    else:
        pbgml_trainer("mlp", data, plain, default=arm == "pbgml default")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"ru_maxrss_kib": peak, "vmhwm_kib": _hwm_kib()}))


# Linux keeps ru_maxrss across execve: a process started straight from this one (which
# holds every arm's model and data) would report this process's peak. A shell in
# between, which forks the child instead of exec-ing it, gives the child a fresh count.
_LAUNCH = ["/bin/sh", "-c", '"$@"; exit $?', "sh"]


def _child_run(arm: str, plain: bool) -> Callable[[], float]:
    def run() -> float:
        cmd = [*_LAUNCH, sys.executable, os.path.abspath(__file__), "--child", arm]
        if plain:
            cmd.append("--plain-loader")
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        record: dict[str, int] = json.loads(out.strip().splitlines()[-1])
        if abs(record["ru_maxrss_kib"] - record["vmhwm_kib"]) > 0.01 * record["vmhwm_kib"]:
            print(
                f"  note: {arm}: ru_maxrss {record['ru_maxrss_kib']} KiB, VmHWM {record['vmhwm_kib']} KiB"
            )
        return float(record["ru_maxrss_kib"])

    return run


# -- main ---------------------------------------------------------------------------------


def _epochs(rounds: int, plain: bool, reasons: dict[str, str | None]) -> bool:
    arms = arms_for("mlp", plain, reasons)
    times = interleave(arms, rounds, warmup=1)
    print(
        f"\nMLP 64-256-256-10, {SAMPLES} samples, batch {BATCH} ({STEPS} steps), one epoch per arm"
    )
    for name, samples in times.items():
        report(f"{name} epoch", stats(samples).scaled(1e3), " ms")
    budgets = {"pbgml bare": BUDGET_BARE, "pbgml default": BUDGET_DEFAULT, "lightning": None}
    return report_against(times, HAND, budgets, _ratio, "{name} / {base}", "x")


def _per_step(rounds: int, plain: bool, reasons: dict[str, str | None]) -> bool:
    arms = arms_for("tiny", plain, reasons)
    times = interleave(arms, rounds, warmup=2)
    print(
        f"\ntiny MLP 32-32-2, {STEPS} steps an epoch: extra time per step over the hand-written loop"
    )
    report(f"{HAND} step", stats(times[HAND]).scaled(1e6 / STEPS), " us")
    budgets = {"pbgml bare": BUDGET_STEP_US, "lightning": None}
    return report_against(
        times, HAND, budgets, _extra_us_per_step, "{name} extra per step", " us", digits=1
    )


def _ratio(a: float, b: float) -> float:
    return a / b


def _extra_us_per_step(a: float, b: float) -> float:
    return (a - b) / STEPS * 1e6


def _memory(rounds: int, plain: bool, reasons: dict[str, str | None]) -> bool:
    names = [HAND]
    if reasons["pbgml"] is None:
        names += ["pbgml bare", "pbgml default"]
    if reasons["lightning"] is None:
        names.append("lightning")
    peaks = interleave({n: _child_run(n, plain) for n in names}, rounds, warmup=0)
    print("\npeak memory (ru_maxrss) of a fresh process fitting one MLP epoch")
    for name in names:
        report(f"{name} peak", stats(peaks[name]).scaled(1 / 1024), " MiB", digits=1)
    budgets = {"pbgml bare": BUDGET_MEMORY, "pbgml default": BUDGET_MEMORY, "lightning": None}
    return report_against(peaks, HAND, budgets, _ratio, "{name} / {base} peak", "x")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rounds", type=int, default=21, help="rounds of MLP epochs (tiny: 3x, memory: a third)"
    )
    parser.add_argument("--quick", action="store_true", help="a few rounds only: a smoke run")
    parser.add_argument("--plain-loader", action="store_true", help="per-sample fetch and collate")
    parser.add_argument("--no-memory", action="store_true", help="skip the subprocess memory runs")
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="wall time (default) or this process's CPU time, which other jobs disturb less",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.plain_loader)
        return 0
    torch.set_num_threads(1)
    CLOCK[0] = CLOCKS[args.clock]
    rounds = 3 if args.quick else args.rounds
    reasons = available()
    for arm, reason in reasons.items():
        if reason is not None:
            print(f"skipping the {arm} arms: {reason}")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread, {rounds} rounds, "
        f"{args.clock} clock (medians, min-max)"
    )
    ok = _epochs(rounds, args.plain_loader, reasons)
    ok &= _per_step(3 * rounds, args.plain_loader, reasons)
    if not args.no_memory:
        ok &= _memory(max(2, rounds // 3), args.plain_loader, reasons)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
