"""The evaluation and prediction loops of the :class:`~pbgml.train.Trainer`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from pbgml.train._helpers import _batch_size
from pbgml.train._logs import StageLog

if TYPE_CHECKING:
    from pbgml.train._task import Task
    from pbgml.train._trainer import Trainer

__all__ = ["evaluate", "predict"]


def evaluate(
    trainer: Trainer, stage: str, task: Task, loader: Any, limit: float
) -> dict[str, float]:
    """Run one evaluation loop (``stage`` ``"val"`` or ``"test"``); return its epoch values.

    Under :func:`torch.no_grad` with torch's RNG forked, so evaluating never changes
    what training draws next. During the sanity check nothing is recorded.
    """
    step = task.validation_step if stage == "val" else task.test_step
    log = StageLog(stage)
    previous_sink, was_training = task._log_sink, task.training
    task._log_sink = log
    task.eval()
    hook = "on_validation_epoch" if stage == "val" else "on_test_epoch"
    for cb in trainer._hooks[f"{hook}_start"]:
        getattr(cb, f"{hook}_start")(trainer, task)
    device, autocast, convert = trainer.device, trainer._autocast_dtype, trainer._convert
    devices = [device] if device.type == "cuda" else []
    with torch.no_grad(), torch.random.fork_rng(devices=devices):
        for batch_idx, batch in enumerate(loader):
            if batch_idx >= limit:
                break
            if convert is not None:
                batch = convert(batch)
            log.batch_size = _batch_size(batch)
            if autocast is None:
                step(batch, batch_idx)
            else:
                with torch.autocast(device.type, dtype=autocast):
                    step(batch, batch_idx)
    values = log.epoch_values(task.class_names)
    if not trainer.sanity_checking:
        trainer.callback_metrics.update(values)
        trainer.progress_bar_metrics.update({k: values[k] for k in log.prog_bar if k in values})
        if values:
            trainer._log({**values, "epoch": trainer.current_epoch}, trainer.global_step)
    for cb in trainer._hooks[f"{hook}_end"]:
        getattr(cb, f"{hook}_end")(trainer, task)
    task._log_sink = previous_sink
    task.train(was_training)
    return values


def predict(trainer: Trainer, task: Task, loader: Any) -> list[Any]:
    """Every ``task.predict_step`` output, under :func:`torch.no_grad` with the RNG forked."""
    outputs: list[Any] = []
    task.eval()
    device, autocast, convert = trainer.device, trainer._autocast_dtype, trainer._convert
    devices = [device] if device.type == "cuda" else []
    with torch.no_grad(), torch.random.fork_rng(devices=devices):
        for batch_idx, batch in enumerate(loader):
            if convert is not None:
                batch = convert(batch)
            if autocast is None:
                outputs.append(task.predict_step(batch, batch_idx))
            else:
                with torch.autocast(device.type, dtype=autocast):
                    outputs.append(task.predict_step(batch, batch_idx))
    return outputs
