"""Small pieces of the training loop: argument checks, batch moving and sizing, constants."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from pbgml.train._base import Callback
from pbgml.train._errors import TrainerError
from pbgml.train._task import Task

__all__ = ["PRECISIONS"]

#: Accepted ``precision`` values and the lower dtype they compute in (``None``: full
#: float32). ``*-mixed`` autocast to it (the weights stay float32); ``bf16-true`` holds
#: the weights and the inputs in it (no autocast).
PRECISIONS: dict[str, torch.dtype | None] = {
    "32": None,
    "32-true": None,
    "bf16-mixed": torch.bfloat16,
    "16-mixed": torch.float16,
    "bf16-true": torch.bfloat16,
}
_ACCELERATORS = ("auto", "cpu", "cuda", "gpu")
_CLIP_ALGORITHMS = ("norm", "value")
_COMPILE_MODES = (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
_HOOKS = (
    "on_train_epoch_start",
    "on_train_batch_start",
    "on_train_batch_end",
    "on_before_optimizer_step",
    "on_train_epoch_end",
    "on_validation_epoch_start",
    "on_validation_epoch_end",
    "on_test_epoch_start",
    "on_test_epoch_end",
    "on_save_checkpoint",
)
_PLAIN_LOADER = (
    "the train DataLoader cannot resume mid-epoch: it has neither a pbgml EpochSampler (a "
    "pbgml DataModule's loaders have one) nor state_dict()/load_state_dict() (torchdata's "
    "StatefulDataLoader), so it cannot skip the {n} batches already seen in epoch {epoch}; "
    "the trainer reads and discards them instead, with torch's RNG and the loader's "
    "generator put back as they were when the epoch started: the replay is exact only if "
    "the loader's randomness comes from those two"
)
_STATEFUL_WARNING = "'set_vital' is deprecated"


def _check_int(name: str, value: object, minimum: int, *, none: bool = False) -> None:
    if value is None and none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        also = " or None" if none else ""
        raise TrainerError(f"{name}={value!r} must be an int >= {minimum}{also}", param=name)


def _check_fraction_or_count(name: str, value: object, *, zero: bool = True) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TrainerError(
            f"{name}={value!r} must be a float in [0, 1] (a fraction of an epoch) or an int "
            "(a number of batches)",
            param=name,
        )
    if (isinstance(value, float) and not (0.0 <= value <= 1.0)) or (
        isinstance(value, int) and value < 0
    ):
        raise TrainerError(
            f"{name}={value!r}: a float is a fraction of an epoch in [0, 1], an int a number "
            "of batches >= 0",
            param=name,
        )
    if not zero and value == 0:
        raise TrainerError(f"{name}={value!r} must be > 0", param=name)


def _batch_size(batch: Any) -> int:
    while True:
        if isinstance(batch, Tensor):
            return int(batch.shape[0]) if batch.ndim else 1
        if isinstance(batch, tuple | list) and batch:
            batch = batch[0]
        elif isinstance(batch, Mapping) and batch:
            batch = next(iter(batch.values()))
        else:
            return 1


def _move(batch: Any, device: torch.device, dtype: torch.dtype | None = None) -> Any:
    """``batch`` on ``device``, its floating tensors in ``dtype`` when one is given."""
    if isinstance(batch, Tensor):
        if dtype is not None and batch.is_floating_point():
            return batch.to(device, dtype, non_blocking=batch.is_pinned())
        return batch.to(device, non_blocking=batch.is_pinned())
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # namedtuple
        return type(batch)(*(_move(b, device, dtype) for b in batch))
    if isinstance(batch, tuple | list):
        return type(batch)(_move(b, device, dtype) for b in batch)
    if isinstance(batch, Mapping):
        return {k: _move(v, device, dtype) for k, v in batch.items()}
    return batch


def _limit(name: str, length: float, limit: float) -> float:
    """The number of batches ``limit`` allows of a loader of ``length`` (inf: unknown)."""
    if isinstance(limit, int) and not isinstance(limit, bool):
        return min(length, limit)
    if limit == 1.0:
        return length
    if math.isinf(length):
        raise TrainerError(
            f"{name}={limit!r}: a fraction needs a loader with a len(); give an int",
            param=name,
        )
    return float(max(1, int(length * limit))) if limit > 0 else 0.0


def _length(loader: Any) -> float:
    try:
        return float(len(loader))
    except TypeError:
        return math.inf


def _overrides(callback: Callback, hook: str) -> bool:
    return getattr(type(callback), hook) is not getattr(Callback, hook)


def _sampler(loader: Any) -> Any:
    sampler = getattr(loader, "sampler", None)
    return sampler if callable(getattr(sampler, "skip", None)) else None


def _is_stateful(loader: Any) -> bool:
    return callable(getattr(loader, "state_dict", None)) and callable(
        getattr(loader, "load_state_dict", None)
    )


def _overridden(task: Task, name: str) -> bool:
    return getattr(type(task), name) is not getattr(Task, name)
