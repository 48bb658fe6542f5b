"""Checkpoint state: what a checkpoint holds, how it is restored, where an epoch resumes.

Functions of the :class:`~pbgml.train.Trainer` (kept apart from the loop itself):
:func:`checkpoint_dict` gathers every state as tensors and plain values (so
``torch.load(weights_only=True)`` reads it back), :func:`restore` puts it back,
:func:`start_epoch_iterator` starts an epoch's loader at the exact batch.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from pbgml.train._checkpoint import CHECKPOINT_KEYS
from pbgml.train._errors import TrainerError
from pbgml.train._helpers import _PLAIN_LOADER, _STATEFUL_WARNING, _is_stateful, _sampler
from pbgml.train._seed import get_rng_state, set_rng_state

if TYPE_CHECKING:
    from pbgml.train._task import Task
    from pbgml.train._trainer import Trainer

__all__ = ["checkpoint_dict", "resolve_ckpt", "restore", "start_epoch_iterator"]


def generator_state(loader: Any) -> Tensor | None:
    """The state of a loader's ``generator`` (``None`` when it has none)."""
    generator = getattr(loader, "generator", None)
    return generator.get_state() if isinstance(generator, torch.Generator) else None


def set_generator_state(loader: Any, state: Tensor | None) -> None:
    """Restore :func:`generator_state` (nothing when either side is ``None``)."""
    generator = getattr(loader, "generator", None)
    if state is not None and isinstance(generator, torch.Generator):
        generator.set_state(state)


def start_epoch_iterator(
    trainer: Trainer,
    loader: Any,
    epoch: int,
    start_batch: int,
    loader_state: Any,
    resume: Mapping[str, Any] | None = None,
) -> Iterator[Any]:
    """Tell the data the epoch, and start its iterator after ``start_batch`` batches.

    An :class:`~pbgml.data.EpochSampler` skips the samples already seen; a stateful
    loader (torchdata's ``StatefulDataLoader``) reloads its state; any other loader
    is read and discarded up to the position, with a warning. Torch's RNG and the
    loader's generator as they were when the epoch's iterator started are kept
    (:attr:`Trainer._epoch_start`, saved in checkpoints) and put back before a
    mid-epoch resume starts the iterator, so the iterator draws what it drew then
    (its order, its workers' seeds). ``resume`` is the checkpoint's ``data`` entry.
    """
    if resume is not None and not start_batch:
        # an epoch-end checkpoint: the generator as it was then (before set_epoch, which
        # reseeds a DataModule's generator, as it did in the uninterrupted run)
        set_generator_state(loader, (resume.get("generators") or {}).get("train"))
    data = trainer.datamodule
    if data is not None and callable(getattr(data, "set_epoch", None)):
        data.set_epoch(epoch)
    set_epoch = getattr(getattr(loader, "sampler", None), "set_epoch", None)
    if callable(set_epoch):  # also a loader the DataModule made earlier, or a user's
        set_epoch(epoch)
    iterator: Iterator[Any]
    if not start_batch:
        trainer._epoch_start = {"rng": get_rng_state(), "generator": generator_state(loader)}
        iterator = iter(loader)
        return iterator
    start = None if resume is None else resume.get("epoch_start")
    if start is not None:
        set_rng_state(start["rng"])
        set_generator_state(loader, start.get("generator"))
    trainer._epoch_start = start
    sampler = _sampler(loader)
    if sampler is not None and getattr(loader, "batch_size", None):
        sampler.skip(start_batch * int(loader.batch_size))
        iterator = iter(loader)
        return iterator
    if loader_state is not None and _is_stateful(loader):
        with warnings.catch_warnings():  # torchdata 0.11 warns on every (re)start
            warnings.filterwarnings("ignore", message=_STATEFUL_WARNING, category=UserWarning)
            loader.load_state_dict(loader_state)
            iterator = iter(loader)
        return iterator
    warnings.warn(_PLAIN_LOADER.format(n=start_batch, epoch=epoch), UserWarning, stacklevel=4)
    iterator = iter(loader)
    for _ in range(start_batch):
        next(iterator, None)
    return iterator


def resolve_ckpt(trainer: Trainer, ckpt_path: str | os.PathLike[str]) -> Path:
    """The file ``ckpt_path`` names: ``"best"``, ``"last"`` or a path."""
    if ckpt_path in ("best", "last"):
        cb = trainer.checkpoint_callback
        if ckpt_path == "best":
            path = cb.best_model_path if cb is not None else ""
            if not path:
                raise TrainerError(
                    "ckpt_path='best': no best checkpoint yet (a ModelCheckpoint saves one "
                    "during fit); pass a path",
                    param="ckpt_path",
                )
            return Path(path)
        candidate = Path(cb.last_model_path) if cb is not None and cb.last_model_path else None
        if candidate is None or not candidate.is_file():
            candidate = trainer.checkpoint_dir / "last.ckpt"
        if not candidate.is_file():
            raise TrainerError(
                f"ckpt_path='last': there is no {candidate} yet; pass a path",
                param="ckpt_path",
            )
        return candidate
    return Path(ckpt_path)


def checkpoint_dict(trainer: Trainer, *, finished_epoch: bool | None = None) -> dict[str, Any]:
    """Everything needed to resume exactly, as tensors and plain Python values."""
    trainer._sync_check()
    task = trainer.task
    if task is None:
        raise TrainerError("save_checkpoint: no task is attached (call fit first)", param="task")
    finished = trainer._epoch_finished if finished_epoch is None else finished_epoch
    loader = trainer.train_dataloader
    data: dict[str, Any] = {"datamodule": None, "loader": None, "sampler": None}
    state_dict = getattr(trainer.datamodule, "state_dict", None)
    if callable(state_dict):
        data["datamodule"] = state_dict()
    sampler = _sampler(loader)
    if sampler is not None and callable(getattr(sampler, "state_dict", None)):
        data["sampler"] = sampler.state_dict()
    elif loader is not None and _is_stateful(loader) and not finished:
        data["loader"] = loader.state_dict()
    data["generators"] = {
        "train": generator_state(loader),
        "val": generator_state(trainer.val_dataloaders),
    }
    data["epoch_start"] = None if finished else trainer._epoch_start
    checkpoint: dict[str, Any] = {
        "model": task.state_dict(),
        "optimizer": [opt.state_dict() for opt in trainer.optimizers],
        "scheduler": [s.state_dict() for s in trainer.lr_schedulers],
        "scaler": None if trainer.scaler is None else trainer.scaler.state_dict(),
        "loop": {
            "epoch": trainer.current_epoch,
            "global_step": trainer.global_step,
            "skipped_steps": trainer.skipped_steps,
            "batch": trainer._batches_in_epoch,
            "epoch_finished": finished,
            "total_batches": trainer._total_batches,
            "train_log": trainer._train_log.state_dict(),
            "loss_sum": float(trainer._loss_sum or 0.0),
            "loss_weight": trainer._loss_weight,
            "callback_metrics": dict(trainer.callback_metrics),
            "should_stop": trainer.should_stop,
        },
        "rng": get_rng_state(),
        "data": data,
        "callbacks": {cb.state_key: cb.state_dict() for cb in trainer.callbacks},
        "config": trainer.config_text,
        "meta": dict(trainer._meta),
    }
    for cb in trainer._hooks.get("on_save_checkpoint", []):
        cb.on_save_checkpoint(trainer, task, checkpoint)
    if trainer.is_global_zero:  # the logs on disk are at least as far as the checkpoint
        for logger in trainer.loggers:
            flush = getattr(logger, "flush", None)
            if callable(flush):
                flush()
    return checkpoint


def restore(trainer: Trainer, checkpoint: Mapping[str, Any], task: Task) -> None:
    """Put a checkpoint back: weights, optimizers, schedulers, scaler, callbacks, loop, data.

    The RNG states are restored later, by the loop, when the epoch's iterator exists.
    """
    missing = [k for k in ("model", "optimizer", "loop") if k not in checkpoint]
    if missing:
        raise TrainerError(
            f"ckpt_path: the checkpoint has no {', '.join(map(repr, missing))} (keys: "
            f"{', '.join(sorted(checkpoint))}; expected {', '.join(CHECKPOINT_KEYS)})",
            param="ckpt_path",
        )
    task.load_state_dict(checkpoint["model"])
    optimizers = checkpoint["optimizer"]
    schedulers = checkpoint.get("scheduler") or []
    if len(optimizers) != len(trainer.optimizers) or len(schedulers) != len(trainer.lr_schedulers):
        raise TrainerError(
            f"ckpt_path: the checkpoint holds {len(optimizers)} optimizer(s) and "
            f"{len(schedulers)} scheduler(s), the task configures {len(trainer.optimizers)} and "
            f"{len(trainer.lr_schedulers)}",
            param="ckpt_path",
        )
    for opt, state in zip(trainer.optimizers, optimizers, strict=True):
        opt.load_state_dict(state)
    for sched, state in zip(trainer.lr_schedulers, schedulers, strict=True):
        sched.load_state_dict(state)
    if trainer.scaler is not None and checkpoint.get("scaler") is not None:
        trainer.scaler.load_state_dict(checkpoint["scaler"])
    states = checkpoint.get("callbacks") or {}
    for cb in trainer.callbacks:
        if cb.state_key in states:
            cb.load_state_dict(states[cb.state_key])
    loop = checkpoint["loop"]
    trainer.current_epoch = int(loop["epoch"])
    trainer.global_step = int(loop["global_step"])
    trainer.skipped_steps = int(loop.get("skipped_steps", 0))
    trainer._batches_in_epoch = int(loop["batch"])
    trainer._epoch_finished = bool(loop["epoch_finished"])
    trainer._total_batches = int(loop.get("total_batches", 0))
    trainer.callback_metrics = {
        str(k): float(v) for k, v in loop.get("callback_metrics", {}).items()
    }
    trainer.should_stop = bool(loop.get("should_stop", False))
    if not trainer._epoch_finished:
        trainer._train_log.load_state_dict(loop.get("train_log", {}))
        loss_sum = float(loop.get("loss_sum") or 0.0)
        trainer._loss_sum = (
            loss_sum
            if trainer.device.type == "cpu"
            else torch.tensor(loss_sum, dtype=torch.float32, device=trainer.device)
        )
        trainer._loss_weight = float(loop.get("loss_weight", 0.0))
    data = checkpoint.get("data") or {}
    load = getattr(trainer.datamodule, "load_state_dict", None)
    if data.get("datamodule") is not None and callable(load):
        load(data["datamodule"])
    set_generator_state(trainer.val_dataloaders, (data.get("generators") or {}).get("val"))
