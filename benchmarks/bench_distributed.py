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
  share of a step (an upper bound: DDP's default hook overlaps it with backward);
- ``compute only, 1 proc`` and ``compute only, 2 procs``: the same steps (same model,
  samples per rank, batch, optimizer; DDP-wrapped on 2 processes) as a bare loop of
  forward, loss, backward and optimizer step over batches already on the device. One
  minus its time over the Trainer's is the share of a step spent outside forward,
  backward and optimizer: data loading, host-to-device copies, the Trainer's
  bookkeeping (the figure the issue's GPU budget, under 5%, is about).

Timing (benchmarks/_timing.py): the two processes are started once (torch's elastic
launcher, through ``pbgml._launch``); every round runs each arm once in a shuffled
order (the same on both ranks), between barriers, and times the training epoch only
(from ``on_train_epoch_start`` to ``on_train_epoch_end``: the process group and the
loaders are made before; on CUDA both ends synchronize the device). Figures are
medians with the min-max over the rounds; the ratios are taken round by round. On a
GPU machine, ``--accelerator cuda`` runs the same arms on the GPUs (one per process,
NCCL; with one GPU, only the 1-process arms) and prints the same figures.

Run: ``python benchmarks/bench_distributed.py [--rounds N] [--quick] [--accelerator cuda]``.
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


def _device(accelerator: str) -> torch.device:
    if accelerator == "cuda":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


def _sync(accelerator: str) -> None:
    if accelerator == "cuda":
        torch.cuda.synchronize()


def _fit(
    hidden: list[int], *, threads: int, timed_allreduce: bool, accelerator: str
) -> tuple[float, float]:
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
        _sync(accelerator)
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
            _sync(accelerator)
            self.start = time.perf_counter()

        def on_train_epoch_end(self, trainer: Any, task: Any) -> None:
            _sync(accelerator)
            self.elapsed = time.perf_counter() - self.start

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = MLP(in_features=64, out_features=10, hidden=hidden)
    task = ClassificationTask(model, optimizer=functools.partial(torch.optim.SGD, lr=0.05))
    clock = Clock()
    trainer = Trainer(
        max_epochs=1,
        accelerator=accelerator,
        callbacks=[clock],
        logger=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
    )
    trainer.fit(task, digits(batch_size=BATCH, val_split=None, seed=0))
    torch.set_num_threads(1)
    return clock.elapsed, comm[0]


def _compute(hidden: list[int], *, threads: int, accelerator: str) -> tuple[float, float]:
    """The Trainer's steps of one epoch as a bare loop: forward, loss, backward, step.

    The same samples per rank in batches of ``BATCH``, already on the device, the
    model DDP-wrapped when this is one of several processes (its all-reduces are part
    of backward). Returns (loop seconds, 0.0).
    """
    from torch.nn.functional import cross_entropy

    from pbgml.data import digits
    from pbgml.nn import MLP
    from pbgml.train import _distributed

    torch.set_num_threads(threads)
    device = _device(accelerator)
    data = digits(batch_size=BATCH, val_split=None, seed=0)
    data.setup("fit")
    inputs = torch.stack([x for x, _ in data.train_dataset])  # type: ignore[union-attr]
    targets = torch.tensor([int(y) for _, y in data.train_dataset])  # type: ignore[union-attr]
    env = _distributed.launch_env()
    rank, world = (env.rank, env.world_size) if env is not None else (0, 1)
    mine = torch.arange(rank, len(inputs), world)  # a DistributedSampler's share, unshuffled
    batches = [(inputs[i].to(device), targets[i].to(device)) for i in torch.split(mine, BATCH)]
    torch.manual_seed(0)
    model: torch.nn.Module = MLP(in_features=64, out_features=10, hidden=hidden).to(device)
    with _distributed.process_group(env if world > 1 else None):
        if world > 1:
            ids = [device.index] if device.type == "cuda" else None
            model = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
        _sync(accelerator)
        start = time.perf_counter()
        for x, y in batches:
            optimizer.zero_grad(set_to_none=True)
            loss = cross_entropy(model(x), y)
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
        _sync(accelerator)
        elapsed = time.perf_counter() - start
    torch.set_num_threads(1)
    return elapsed, 0.0


def _job(settings: dict[str, Any]) -> dict[str, dict[str, list[float]]]:
    """Every rank: every round, each arm once, in the same shuffled order."""
    torch.set_num_threads(1)
    rank = int(os.environ["RANK"])
    world = int(os.environ["WORLD_SIZE"])
    accelerator = settings["accelerator"]
    store = _Store()
    rng = random.Random(0)
    out: dict[str, dict[str, list[float]]] = {}
    for label, hidden in MODELS.items():

        def alone(
            run: Callable[..., tuple[float, float]], threads: int, hidden: list[int] = hidden
        ) -> tuple[float, float]:
            if rank != 0:
                return 0.0, 0.0
            with _alone():
                return run(hidden, threads=threads, accelerator=accelerator)

        fit = functools.partial(_fit, timed_allreduce=False)
        arms: dict[str, Callable[[], tuple[float, float]]] = {
            "1 proc": functools.partial(alone, fit, 1),
            "compute only, 1 proc": functools.partial(alone, _compute, 1),
        }
        if accelerator == "cpu":
            arms["1 proc x2 threads"] = functools.partial(alone, fit, 2)
        if world > 1:
            arms["2 procs"] = functools.partial(fit, hidden, threads=1, accelerator=accelerator)
            arms["2 procs, timed all-reduce"] = functools.partial(
                _fit, hidden, threads=1, timed_allreduce=True, accelerator=accelerator
            )
            arms["compute only, 2 procs"] = functools.partial(
                _compute, hidden, threads=1, accelerator=accelerator
            )
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
    names = ["1 proc", "1 proc x2 threads", "2 procs", "2 procs, timed all-reduce"]
    names += ["compute only, 1 proc", "compute only, 2 procs"]
    for name in names:
        if samples.get(name):
            rates = [train_samples / s for s in samples[name]]
            report(name, stats(rates), " samples/s", digits=0, width=32)
    base = samples["1 proc"]
    for name in ("2 procs", "1 proc x2 threads"):
        if samples.get(name):
            figure: Stats = paired(base, samples[name], lambda one, other: one / other)
            report(f"speed-up, {name} vs 1 proc", figure, "x", width=32)
    if samples["all-reduce"]:
        share = paired(
            samples["all-reduce"], samples["2 procs, timed all-reduce"], lambda c, t: 100 * c / t
        )
        report("all-reduce share of the epoch", share, "%", digits=1, width=32)
    for procs in ("1 proc", "2 procs"):
        if samples.get(procs):
            outside = paired(
                samples[f"compute only, {procs}"], samples[procs], lambda c, t: 100 * (1 - c / t)
            )
            report(f"outside fwd/bwd/opt, {procs}", outside, "%", digits=1, width=32)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="3 rounds, no warm-up")
    parser.add_argument("--accelerator", choices=("cpu", "cuda"), default="cpu")
    args = parser.parse_args(argv)
    settings = {
        "rounds": 3 if args.quick else args.rounds,
        "warmup": 0 if args.quick else 1,
        "accelerator": args.accelerator,
    }
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from pbgml import _launch
    from pbgml.data import digits

    if args.accelerator == "cuda":
        if not torch.cuda.is_available():
            parser.error("--accelerator cuda: this machine has no CUDA device")
        procs, backend = min(2, torch.cuda.device_count()), "NCCL"
        device = torch.cuda.get_device_name(0)
    else:
        procs, backend, device = 2, "gloo", f"{os.cpu_count()} cores"
    data = digits(batch_size=BATCH, val_split=None, seed=0)
    data.setup("fit")
    train_samples = len(data.train_dataset)  # type: ignore[arg-type]
    print(f"torch {torch.__version__}, {device}, {backend}, batch {BATCH} per process")
    results = _launch.launched(settings, _job, nprocs=procs)
    for label, samples in results.items():
        _print(label, samples, train_samples)
    if args.accelerator == "cuda":
        print("\nbudget: outside fwd/bwd/opt under 5% of a step")


if __name__ == "__main__":
    main()
