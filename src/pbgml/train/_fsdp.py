"""``strategy="fsdp"``: FSDP2 (:func:`torch.distributed.fsdp.fully_shard`) behind the
trainer's :class:`~pbgml.train._strategy.Strategy` interface.

During fit the task's ``model`` is a sharded copy: each rank holds 1/N of every
parameter, gradient and optimizer state, and the forward all-gathers a unit's
parameters when it runs. The checkpoints do not change: ``task.state_dict()`` and
``optimizer.state_dict()`` return full tensors under the one-process keys (state
dict hooks gather the shards), and loading them shards full tensors again, so a
FSDP checkpoint resumes in one process, under DDP, or at another world size. At the
end of fit the trained weights and the optimizers' states are put back in the
task's own (plain) model.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.distributed.fsdp import FSDPModule, fully_shard
from torch.distributed.tensor import DTensor, distribute_tensor
from torch.utils.hooks import RemovableHandle

from pbgml.train._errors import TrainerError
from pbgml.train._strategy import Strategy

if TYPE_CHECKING:
    from pbgml.train._task import Task

__all__ = ["FSDPStrategy", "shard_units"]

_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


def shard_units(model: nn.Module) -> list[nn.Module]:
    """The submodules sharded as their own units (each all-gathered on its own).

    The children of ``model`` that hold parameters, looking inside containers
    (``nn.Sequential``, ``nn.ModuleList``, ``nn.ModuleDict``: a transformer's blocks);
    ``model`` itself is the root unit and holds what is left.

    Examples
    --------
    >>> from torch import nn
    >>> from pbgml.train._fsdp import shard_units
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 2)))
    >>> [type(m).__name__ for m in shard_units(model)]
    ['Linear', 'Linear', 'Linear']
    """
    units: list[nn.Module] = []

    def visit(module: nn.Module) -> None:
        for child in module.children():
            if isinstance(child, _CONTAINERS):
                visit(child)
            elif any(True for _ in child.parameters()):
                units.append(child)

    visit(model)
    return units


def _gather(value: Any) -> Any:
    """A DTensor's full tensor (a collective: every rank calls it), other values as they are."""
    return value.full_tensor() if isinstance(value, DTensor) else value


def _shard_like(value: Any, param: DTensor) -> Any:
    """A full tensor of ``param``'s shape as a DTensor sharded like ``param`` (no communication)."""
    if isinstance(value, Tensor) and not isinstance(value, DTensor) and value.shape == param.shape:
        local = value.to(param.to_local().device)
        return distribute_tensor(local, param.device_mesh, param.placements, src_data_rank=None)
    return value


class FSDPStrategy(Strategy):
    """Fully sharded data parallel (FSDP2) on the task's ``model``.

    Rank 0's weights are broadcast first (as DDP does), then a copy of the model is
    sharded (:func:`shard_units`, then the model as the root unit) and trains in the
    task's place; the task's own model keeps its initial weights meanwhile (so a
    failed fit leaves a usable task) and gets the trained ones at the end. The
    accumulation steps skip the reduce-scatter
    (``set_requires_gradient_sync(False)``).

    Examples
    --------
    >>> from pbgml.train._fsdp import FSDPStrategy
    >>> FSDPStrategy().name
    'fsdp'
    """

    name = "fsdp"

    def __init__(self) -> None:
        self.original: nn.Module | None = None
        self.sharded: nn.Module | None = None
        self._handles: list[RemovableHandle] = []

    # -- setup -------------------------------------------------------------------------
    def setup(self, task: Task, device: torch.device) -> None:
        """Broadcast rank 0's weights, shard a copy of ``task.model`` and put it in place."""
        model = getattr(task, "model", None)
        if not isinstance(model, nn.Module):
            raise TrainerError(
                f"strategy='fsdp' shards the task's `model`: {type(task).__name__} has no "
                "nn.Module attribute `model` (use strategy='ddp')",
                param="strategy",
            )
        inside = {id(p) for p in model.parameters()}
        outside = [name for name, p in task.named_parameters() if id(p) not in inside]
        if outside:
            raise TrainerError(
                "strategy='fsdp' shards the task's `model` only; these parameters are outside "
                f"it: {', '.join(outside[:5])} (move them into the model, or use strategy='ddp')",
                param="strategy",
            )
        with torch.no_grad():
            for tensor in model.state_dict().values():
                dist.broadcast(tensor, src=0)
        sharded = copy.deepcopy(model)
        for unit in shard_units(sharded):
            fully_shard(unit)
        fully_shard(sharded)
        self._handles.append(sharded.register_state_dict_post_hook(self._full_state))  # type: ignore[no-untyped-call]
        self._handles.append(sharded.register_load_state_dict_pre_hook(self._sharded_state))  # type: ignore[no-untyped-call]
        self.original, self.sharded = model, sharded
        task.model = sharded

    @staticmethod
    def _full_state(
        module: nn.Module, state_dict: dict[str, Any], prefix: str, local_metadata: Any
    ) -> None:
        for key in [k for k in state_dict if k.startswith(prefix)]:
            state_dict[key] = _gather(state_dict[key])

    @staticmethod
    def _sharded_state(
        module: nn.Module,
        state_dict: dict[str, Any],
        prefix: str,
        local_metadata: Any,
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        for name, param in module.named_parameters():
            key = prefix + name
            if isinstance(param, DTensor) and key in state_dict:
                state_dict[key] = _shard_like(state_dict[key], param)

    def configured(self, optimizers: list[torch.optim.Optimizer]) -> None:
        """Make the optimizers' ``state_dict`` full and their ``load_state_dict`` shard."""
        for opt in optimizers:
            self._handles.append(opt.register_state_dict_post_hook(self._full_optimizer_state))
            self._handles.append(
                opt.register_load_state_dict_pre_hook(self._sharded_optimizer_state)
            )

    @staticmethod
    def _full_optimizer_state(
        optimizer: torch.optim.Optimizer, state_dict: dict[str, Any]
    ) -> dict[str, Any]:
        state = {
            pid: {k: _gather(v) for k, v in values.items()}
            for pid, values in state_dict["state"].items()
        }
        return {**state_dict, "state": state}

    @staticmethod
    def _sharded_optimizer_state(
        optimizer: torch.optim.Optimizer, state_dict: dict[str, Any]
    ) -> dict[str, Any]:
        # the saved groups' ids name the current groups' params in order (as load_state_dict does)
        params = {
            saved: param
            for group, saved_group in zip(
                optimizer.param_groups, state_dict["param_groups"], strict=False
            )
            for param, saved in zip(group["params"], saved_group["params"], strict=False)
        }
        state: dict[Any, Any] = {}
        for pid, values in state_dict["state"].items():
            param = params.get(pid)
            if isinstance(param, DTensor) and isinstance(values, Mapping):
                state[pid] = {k: _shard_like(v, param) for k, v in values.items()}
            else:
                state[pid] = values
        return {**state_dict, "state": state}

    # -- the loop ----------------------------------------------------------------------
    def _root(self) -> FSDPModule:
        assert isinstance(self.sharded, FSDPModule), "setup first"
        return self.sharded

    def no_sync(self) -> Any:
        """No reduce-scatter of the gradients inside the block (they accumulate unsharded)."""
        return _GradientSync(self._root())

    # -- teardown ----------------------------------------------------------------------
    def teardown(
        self, task: Task, optimizers: list[torch.optim.Optimizer], *, failed: bool
    ) -> None:
        """Put the task's own model back: with the trained weights and full optimizer
        states (gathered from every rank), or as it was when ``failed``."""
        original, sharded = self.original, self.sharded
        if original is None or sharded is None:
            return
        try:
            if not failed:
                self._unshard_into(original, sharded, optimizers)
        finally:
            for handle in self._handles:
                handle.remove()
            self._handles = []
            task.model = original
            self.original = self.sharded = None

    @staticmethod
    def _unshard_into(
        original: nn.Module, sharded: nn.Module, optimizers: list[torch.optim.Optimizer]
    ) -> None:
        # every rank gathers (collectives in the same order), then loads locally
        with torch.no_grad():
            original.load_state_dict(sharded.state_dict())
            plain_buffers = dict(original.named_buffers())
            for name, buffer in sharded.named_buffers():  # also the non-persistent ones
                if name in plain_buffers:
                    plain_buffers[name].copy_(buffer)
        names = {id(p): name for name, p in sharded.named_parameters()}
        plain = dict(original.named_parameters())
        states = [opt.state_dict() for opt in optimizers]
        for opt in optimizers:
            for group in opt.param_groups:
                group["params"] = [plain[names[id(p)]] for p in group["params"]]
            opt.state.clear()
        # the load hooks are still there: the plain params are no DTensors, nothing is sharded
        for opt, state in zip(optimizers, states, strict=True):
            opt.load_state_dict(state)


class _GradientSync:
    """``with _GradientSync(root):`` turns the gradient reduce-scatter off, then back on."""

    def __init__(self, root: FSDPModule) -> None:
        self.root = root

    def __enter__(self) -> None:
        self.root.set_requires_gradient_sync(False)

    def __exit__(self, *exc: object) -> None:
        self.root.set_requires_gradient_sync(True)
