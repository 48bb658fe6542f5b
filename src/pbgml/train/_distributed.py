"""Distributed training for the :class:`~pbgml.train.Trainer`: torchrun's environment,
the process group and the few collectives the loop needs (the strategies, DDP and
FSDP, are in :mod:`pbgml.train._strategy`).

Nothing here runs on a single process: the loop asks once, at the start of fit,
whether it is distributed, and keeps ``None`` (no wrapper) otherwise.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
from collections.abc import Iterator, Mapping
from typing import Any

import torch
import torch.distributed as dist
from torch.distributed.distributed_c10d import PrefixStore
from torch.distributed.rendezvous import rendezvous

from pbgml.train._errors import TrainerError

__all__ = [
    "ACCELERATORS",
    "Devices",
    "resolve_devices",
    "TORCHRUN_VARIABLES",
    "LaunchEnv",
    "all_reduce_sum",
    "barrier",
    "broadcast_object",
    "initialized",
    "launch_env",
    "process_group",
]

#: The environment variables ``torchrun`` sets for every worker: all of them mean
#: "launched by torchrun" (or by an equivalent launcher).
TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


#: The ``accelerator`` values (``"gpu"`` is ``"cuda"``; ``"auto"``: CUDA, else MPS, else CPU).
ACCELERATORS = ("auto", "cpu", "cuda", "gpu", "mps")


@dataclasses.dataclass(frozen=True)
class Devices:
    """What ``accelerator`` and ``devices`` mean on this machine.

    ``kind`` is ``"cpu"``, ``"cuda"`` or ``"mps"``; ``count`` the number of processes
    (one device each); ``indices`` the CUDA device indices asked for (``None``: the
    first ``count``, or ``LOCAL_RANK``'s under torchrun).

    Examples
    --------
    >>> from pbgml.train._distributed import resolve_devices
    >>> resolve_devices("cpu", 2)
    Devices(kind='cpu', count=2, indices=None)
    >>> resolve_devices("cpu", "auto").count
    1
    """

    kind: str
    count: int
    indices: tuple[int, ...] | None = None


def _kind(accelerator: str) -> str:
    if accelerator not in ACCELERATORS:
        raise TrainerError(
            f"accelerator={accelerator!r} is not one of {', '.join(map(repr, ACCELERATORS))}",
            param="accelerator",
        )
    mps = torch.backends.mps.is_available()
    if accelerator == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if mps else "cpu"
    kind = "cuda" if accelerator == "gpu" else accelerator
    if kind == "cuda" and not torch.cuda.is_available():
        raise TrainerError(
            f"accelerator={accelerator!r} but CUDA is not available; use 'auto' or 'cpu'",
            param="accelerator",
        )
    if kind == "mps" and not mps:
        raise TrainerError(
            "accelerator='mps' but MPS (Apple's Metal) is not available; use 'auto' or 'cpu'",
            param="accelerator",
        )
    return kind


def resolve_devices(accelerator: str, devices: Any) -> Devices:
    """Check ``accelerator`` and ``devices`` (a count, a list of indices, or ``"auto"``).

    ``"auto"`` is every GPU on CUDA and one process elsewhere. On CPU a count (or a
    list's length) is a number of processes; MPS has one device.

    Examples
    --------
    >>> from pbgml.train._distributed import resolve_devices
    >>> resolve_devices("cpu", [0, 1]).count
    2
    >>> try:
    ...     resolve_devices("cpu", 0)
    ... except ValueError as err:
    ...     print(err)
    devices=0: expected a count >= 1, a list of device indices or 'auto'
    """
    kind = _kind(accelerator)
    gpus = torch.cuda.device_count() if kind == "cuda" else 0
    bad = TrainerError(
        f"devices={devices!r}: expected a count >= 1, a list of device indices or 'auto'",
        param="devices",
    )
    if devices == "auto":
        return Devices(kind, gpus if kind == "cuda" else 1)
    indices: tuple[int, ...] | None = None
    if isinstance(devices, str) and devices.strip().isdigit():
        devices = int(devices)
    if isinstance(devices, int) and not isinstance(devices, bool):
        if devices < 1:
            raise bad
        count = devices
    elif isinstance(devices, list | tuple) and devices:
        if not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in devices):
            raise bad
        if len(set(devices)) != len(devices):
            raise TrainerError(f"devices={list(devices)!r}: an index is repeated", param="devices")
        count, indices = len(devices), tuple(devices) if kind == "cuda" else None
    else:
        raise bad
    if kind == "cuda" and (count > gpus or any(i >= gpus for i in indices or ())):
        raise TrainerError(
            f"devices={devices!r}: this machine has {gpus} CUDA device(s)", param="devices"
        )
    if kind == "mps" and (count != 1 or indices not in (None, (0,))):
        raise TrainerError(f"devices={devices!r}: MPS has one device (use 1)", param="devices")
    return Devices(kind, count, indices)


@dataclasses.dataclass(frozen=True)
class LaunchEnv:
    """Where this process stands in a torchrun job.

    Examples
    --------
    >>> from pbgml.train._distributed import launch_env
    >>> env = launch_env({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1",
    ...                   "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"})
    >>> env.rank, env.world_size, env.local_rank, env.local_world_size
    (1, 2, 1, 2)
    >>> launch_env({}) is None
    True
    """

    rank: int
    world_size: int
    local_rank: int
    local_world_size: int
    #: a one-process group of this process alone (no torchrun): made on an in-memory store
    alone: bool = False


#: The one-process job of a ``strategy="ddp"``/``"fsdp"`` Trainer started outside torchrun.
ALONE = LaunchEnv(rank=0, world_size=1, local_rank=0, local_world_size=1, alone=True)


def launch_env(environ: Mapping[str, str] | None = None) -> LaunchEnv | None:
    """torchrun's view of this process, or ``None`` when it was not launched by torchrun."""
    env = os.environ if environ is None else environ
    if not all(env.get(name) for name in TORCHRUN_VARIABLES):
        return None
    world = int(env["WORLD_SIZE"])
    return LaunchEnv(
        rank=int(env["RANK"]),
        world_size=world,
        local_rank=int(env["LOCAL_RANK"]),
        local_world_size=int(env.get("LOCAL_WORLD_SIZE") or world),
    )


_GENERATION = itertools.count()


def initialized() -> bool:
    """Whether a default process group exists."""
    return dist.is_available() and dist.is_initialized()


def _backend() -> str:
    """gloo for CPU tensors, and NCCL for CUDA tensors when this torch has it."""
    if torch.cuda.is_available() and dist.is_nccl_available():
        return "cpu:gloo,cuda:nccl"
    return "gloo"


@contextlib.contextmanager
def process_group(env: LaunchEnv | None) -> Iterator[bool]:
    """Initialize the default process group from torchrun's environment for the block.

    Yields whether a process group exists inside the block. A group that already
    exists (made by the user, or by an outer block) is used and left alone; one made
    here is destroyed when the block ends, also on an error. On CUDA the process's
    device is ``cuda:LOCAL_RANK`` first.
    """
    if initialized() or env is None:
        yield initialized()
        return
    backend = _backend()
    if "nccl" in backend:  # pragma: no cover - needs CUDA
        torch.cuda.set_device(env.local_rank)
    # torchrun's store outlives the group: a group made again (fit, then test) under the
    # same keys could meet the previous group's addresses and hang, so every group of
    # this process gets its own prefix (the ranks make their groups in the same order)
    if env.alone:
        store: Any = dist.HashStore()  # type: ignore[attr-defined]
    else:
        store, _, _ = next(rendezvous("env://", env.rank, env.world_size))
        store = PrefixStore(f"pbgml/{next(_GENERATION)}", store)
    dist.init_process_group(backend=backend, store=store, rank=env.rank, world_size=env.world_size)
    try:
        yield True
    except BaseException:
        _destroy()  # no barrier: the other ranks may never come
        raise
    # every rank is done with the group before any tears its connections down
    dist.barrier()
    _destroy()


#: The last process group :func:`process_group` destroyed, kept alive until the next one.
_RETIRED: list[Any] = []


def _destroy() -> None:
    """Destroy the default group, but keep its object alive until the next group retires.

    The C++ gloo group joins its worker threads when its last reference goes, holding
    the GIL; if that happens while a worker thread still releases a just-finished
    collective (which takes the GIL), the process deadlocks. The last reference is
    often DDP's reducer, freed with an exception's traceback right after a failing
    step. Kept here, the group is freed only when the next one retires, long after its
    threads went idle.
    """
    group = dist.group.WORLD
    dist.destroy_process_group()
    _RETIRED[:] = [group]


def broadcast_object(value: Any) -> Any:
    """Rank 0's ``value`` on every rank (``value`` itself without a process group)."""
    if not initialized():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    """Wait for every rank (nothing without a process group)."""
    if initialized():
        dist.barrier()


def all_reduce_sum(values: list[float]) -> list[float]:
    """The sums of ``values`` over the ranks (float64 on CPU, gloo)."""
    packed = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(packed)
    out: list[float] = packed.tolist()
    return out
