"""Throughput of 1 process vs 2 gloo processes (DDP), and the communication share of a step.

Work: the Trainer (bare: no callbacks, no logger) fitting one epoch of sklearn's
digits (1437 training samples of 64 features, 10 classes; batch 32 per process) with
two models: the digits MLP (64-128-10) and a wider MLP (64-1024-1024-10). Arms, per
model:

- ``1 proc``: one process, one thread, the whole epoch;
- ``1 proc x2 threads``: one process with two threads (what the second core gives
  without distributed training);
- ``2 procs``: two processes of one thread, DDP over gloo, half the epoch each (the
  same samples per epoch, a global batch twice as large, half the steps);
- ``2 procs, timed all-reduce``: the same with a DDP communication hook that
  all-reduces each gradient bucket synchronously and times it: the communication
  share of a step (an upper bound: DDP's default hook overlaps it with backward).

Timing (benchmarks/_timing.py): the two processes are started once (torch's elastic
launcher, through ``pbgml._launch``); every round runs each arm once in a shuffled
order (the same on both ranks), between barriers, and times the training epoch only
(from ``on_train_epoch_start`` to ``on_train_epoch_end``: the process group and the
loaders are made before). Figures are medians with the min-max over the rounds; the
ratios are taken round by round. On a GPU machine (not here) the same script with
``--accelerator cuda`` times NCCL instead.

Run: ``python benchmarks/bench_distributed.py [--rounds N] [--quick]``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.distributed as dist
from _timing import Stats, paired, report, stats
from torch._C._distributed_c10d import GradBucket, TCPStore
from torch.distributed.distributed_c10d import PrefixStore

_TORCHRUN = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
MODELS = {"digits MLP 64-128-10": [128], "wide MLP 64-1024-1024-10": [1024, 1024]}
BATCH = 32


class _Store:
    """Barriers on the launcher's store (no process group outside the fits)."""

    def __init__(self) -> None:
        store = TCPStore(
            os.environ["MASTER_ADDR"],
            int(os.environ["MASTER_PORT"]),
            int(os.environ["WORLD_SIZE"]),
            is_master=False,
        )
        self.store = PrefixStore("bench/", store)
        self.world = int(os.environ["WORLD_SIZE"])
        self.count = 0

    def barrier(self) -> None:
        self.count += 1
        key = f"barrier{self.count}"
        if self.store.add(key, 1) == self.world:
            self.store.set(f"{key}/done", "1")
        self.store.wait([f"{key}/done"])


@contextlib.contextmanager
def _alone() -> Iterator[None]:
    """This process as if torchrun had not started it (a one-process Trainer)."""
    saved = {k: os.environ.pop(k) for k in _TORCHRUN if k in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def _fit(hidden: list[int], *, threads: int, timed_allreduce: bool) -> tuple[float, float]:
    """One epoch; returns (epoch seconds, seconds inside the synchronous all-reduces)."""
    from pbgml.data import digits
    from pbgml.nn import MLP
    from pbgml.train import Callback, ClassificationTask, Trainer

    comm = [0.0]

    def hook(state: Any, bucket: GradBucket) -> torch.futures.Future[torch.Tensor]:
        start = time.perf_counter()
        buffer = bucket.buffer()
        dist.all_reduce(buffer)
        buffer.div_(dist.get_world_size())
        comm[0] += time.perf_counter() - start
        future: torch.futures.Future[torch.Tensor] = torch.futures.Future()
        future.set_result(buffer)
        return future

    # DDP checks the annotations themselves, not their text (this module defers them)
    hook.__annotations__ = {
        "state": object,
        "bucket": GradBucket,
        "return": torch.futures.Future[torch.Tensor],
    }

    class Clock(Callback):
        start = elapsed = 0.0

        def on_train_epoch_start(self, trainer: Any, task: Any) -> None:
            strategy = trainer._strategy
            if timed_allreduce and strategy is not None and trainer.current_epoch == 0:
                strategy.wrapper.register_comm_hook(None, hook)
            self.start = time.perf_counter()

        def on_train_epoch_end(self, trainer: Any, task: Any) -> None:
            self.elapsed = time.perf_counter() - self.start

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = MLP(in_features=64, out_features=10, hidden=hidden)
    task = ClassificationTask(model, optimizer=functools.partial(torch.optim.SGD, lr=0.05))
    clock = Clock()
    trainer = Trainer(
        max_epochs=1,
        accelerator="cpu",
        callbacks=[clock],
        logger=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
    )
    trainer.fit(task, digits(batch_size=BATCH, val_split=None, seed=0))
    torch.set_num_threads(1)
    return clock.elapsed, comm[0]


def _job(settings: dict[str, Any]) -> dict[str, dict[str, list[float]]]:
    """Both ranks: every round, each arm once, in the same shuffled order."""
    torch.set_num_threads(1)
    rank = int(os.environ["RANK"])
    store = _Store()
    rng = random.Random(0)
    out: dict[str, dict[str, list[float]]] = {}
    for label, hidden in MODELS.items():

        def alone(threads: int, hidden: list[int] = hidden) -> tuple[float, float]:
            if rank != 0:
                return 0.0, 0.0
            with _alone():
                return _fit(hidden, threads=threads, timed_allreduce=False)

        arms: dict[str, Callable[[], tuple[float, float]]] = {
            "1 proc": functools.partial(alone, 1),
            "1 proc x2 threads": functools.partial(alone, 2),
            "2 procs": functools.partial(_fit, hidden, threads=1, timed_allreduce=False),
            "2 procs, timed all-reduce": functools.partial(
                _fit, hidden, threads=1, timed_allreduce=True
            ),
        }
        samples: dict[str, list[float]] = {name: [] for name in arms}
        samples["all-reduce"] = []
        order = list(arms)
        for round_ in range(settings["warmup"] + settings["rounds"]):
            rng.shuffle(order)
            for name in order:
                store.barrier()
                elapsed, comm = arms[name]()
                store.barrier()
                if round_ >= settings["warmup"]:
                    samples[name].append(elapsed)
                    if name == "2 procs, timed all-reduce":
                        samples["all-reduce"].append(comm)
        out[label] = samples
    return out


def _print(label: str, samples: dict[str, list[float]], train_samples: int) -> None:
    print(f"\n{label}  (samples/s over the {train_samples} training samples of an epoch)")
    for name in ("1 proc", "1 proc x2 threads", "2 procs", "2 procs, timed all-reduce"):
        rates = [train_samples / s for s in samples[name]]
        report(name, stats(rates), " samples/s", digits=0, width=30)
    base = samples["1 proc"]
    for name in ("2 procs", "1 proc x2 threads"):
        figure: Stats = paired(base, samples[name], lambda one, other: one / other)
        report(f"speed-up, {name} vs 1 proc", figure, "x", width=30)
    share = paired(
        samples["all-reduce"], samples["2 procs, timed all-reduce"], lambda c, t: 100 * c / t
    )
    report("all-reduce share of the epoch", share, "%", digits=1, width=30)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="3 rounds, no warm-up")
    args = parser.parse_args(argv)
    settings = {"rounds": 3 if args.quick else args.rounds, "warmup": 0 if args.quick else 1}
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from pbgml import _launch
    from pbgml.data import digits

    data = digits(batch_size=BATCH, val_split=None, seed=0)
    data.setup("fit")
    train_samples = len(data.train_dataset)  # type: ignore[arg-type]
    print(f"torch {torch.__version__}, {os.cpu_count()} cores, gloo, batch {BATCH} per process")
    results = _launch.launched(settings, _job, nprocs=2)
    for label, samples in results.items():
        _print(label, samples, train_samples)


if __name__ == "__main__":
    main()
