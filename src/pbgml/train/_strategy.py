"""The trainer's distributed strategies: one small interface, DDP and FSDP behind it.

A :class:`Strategy` (:class:`DDPStrategy` here, ``FSDPStrategy`` in
:mod:`pbgml.train._fsdp`) is made by the :class:`~pbgml.train.Trainer` at the start of
``fit`` when the run is distributed, and dropped at its end. It wraps the task,
gives the loop its training step and a ``no_sync`` context for the accumulation
steps that do not step the optimizer, and puts the task back as a plain module at
the end. Checkpoints never see a wrapper: the task's ``state_dict`` and the
optimizers' stay those of a one-process run (full tensors, the same keys), so a
checkpoint moves between strategies and world sizes.

Examples
--------
>>> from pbgml.train._strategy import STRATEGIES
>>> STRATEGIES
('auto', 'ddp', 'fsdp')
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from pbgml.metrics import Metric

if TYPE_CHECKING:
    from pbgml.train._task import Task

__all__ = ["STRATEGIES", "DDPStrategy", "Strategy", "TrainingStep", "wrap_ddp"]

#: The ``strategy`` values the trainer accepts (``"auto"``: DDP when distributed).
STRATEGIES = ("auto", "ddp", "fsdp")


class Strategy:
    """How a distributed fit runs the task: the interface the loop calls.

    The loop calls, in order: :meth:`setup` (before the optimizers exist),
    :meth:`configured` (with the optimizers), :meth:`training_step` once, then per
    batch the step it returned, inside :meth:`no_sync` on the batches that do not
    step the optimizer, and :meth:`teardown` at the end (``failed=True`` when fit
    raised: then no collective may run, the other ranks may be gone).

    Examples
    --------
    >>> from pbgml.train._strategy import Strategy
    >>> Strategy.name
    'base'
    """

    #: The ``strategy`` value this class implements.
    name = "base"

    def setup(self, task: Task, device: torch.device) -> None:
        """Wrap ``task`` (before its optimizers are built)."""

    def configured(self, optimizers: list[torch.optim.Optimizer]) -> None:
        """The optimizers the task built (after :meth:`setup`)."""

    def training_step(self, task: Task) -> Callable[[Any, int], Any]:
        """The callable the loop runs for each batch: ``step(batch, batch_idx)``."""
        step: Callable[[Any, int], Any] = task.training_step
        return step

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Skip the gradient synchronization inside the block (an accumulation step)."""
        yield

    def teardown(
        self, task: Task, optimizers: list[torch.optim.Optimizer], *, failed: bool
    ) -> None:
        """Put ``task`` back as a plain module (its trained weights unless ``failed``)."""


class TrainingStep(nn.Module):
    """The module DDP wraps: its ``forward`` is the task's ``training_step``.

    DDP prepares the gradient all-reduce in its own ``forward``, so the training step
    must run inside it; the task is a submodule (its parameters are DDP's, its
    state_dict keys stay its own: checkpoints save ``task.state_dict()``).

    Examples
    --------
    >>> import torch
    >>> from pbgml.train import ClassificationTask
    >>> from pbgml.train._strategy import TrainingStep
    >>> step = TrainingStep(ClassificationTask(torch.nn.Linear(3, 2)))
    >>> batch = (torch.randn(4, 3), torch.zeros(4, dtype=torch.long))
    >>> step(batch, 0).shape
    torch.Size([])
    """

    def __init__(self, task: nn.Module) -> None:
        super().__init__()
        self.task = task

    def forward(self, batch: Any, batch_idx: int) -> Any:
        """``task.training_step(batch, batch_idx)``."""
        return self.task.training_step(batch, batch_idx)  # type: ignore[operator]


def wrap_ddp(task: nn.Module, device: torch.device) -> nn.parallel.DistributedDataParallel:
    """``task``'s training step in :class:`~torch.nn.parallel.DistributedDataParallel`.

    The metrics' states are not broadcast with the buffers (they are summed by
    :meth:`~pbgml.metrics.Metric.sync` at the end of an epoch instead).
    """
    step = TrainingStep(task)
    ignored = [
        f"task.{prefix}.{name}" if prefix else f"task.{name}"
        for prefix, module in task.named_modules()
        if isinstance(module, Metric)
        for name, _ in module.named_buffers(recurse=False)
    ]
    if ignored:
        nn.parallel.DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(
            step, ignored
        )  # type: ignore[no-untyped-call]
    device_ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(step, device_ids=device_ids)


class DDPStrategy(Strategy):
    """Data parallel: every rank holds the whole model; gradients are all-reduced.

    Rank 0's weights and buffers are broadcast when the wrapper is made; the
    accumulation steps skip the all-reduce (DDP's ``no_sync``).

    Examples
    --------
    >>> from pbgml.train._strategy import DDPStrategy
    >>> DDPStrategy().name
    'ddp'
    """

    name = "ddp"

    def __init__(self) -> None:
        self.wrapper: nn.parallel.DistributedDataParallel | None = None

    def setup(self, task: Task, device: torch.device) -> None:
        """Wrap the training step in DDP."""
        self.wrapper = wrap_ddp(task, device)

    def training_step(self, task: Task) -> Callable[[Any, int], Any]:
        """DDP's forward (the task's training step inside it)."""
        assert self.wrapper is not None, "setup first"
        return self.wrapper

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """DDP's ``no_sync``: the gradients wait in place for the stepping batch."""
        assert self.wrapper is not None, "setup first"
        with self.wrapper.no_sync():
            yield

    def teardown(
        self, task: Task, optimizers: list[torch.optim.Optimizer], *, failed: bool
    ) -> None:
        """Drop the wrapper (the task was never changed)."""
        self.wrapper = None
