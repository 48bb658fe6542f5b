"""Build a model on the meta device and run a forward pass there: shapes without weights."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from pbgml.nn._errors import InvalidArgumentError

_NOT_A_MODEL = (
    "{key}={value!r} is not a model; expected a torch.nn.Module, a zero-argument callable "
    "returning one, or a registered model name."
)
_A_CONFIG = (
    "{key} is a config; pbgml.nn works on modules: use pbgml.summary or pbgml.check_input, "
    "which build a config on the meta device first."
)
_NOT_A_MODULE = "{key}: {what} returned {value!r}, not a torch.nn.Module."
_BAD_SHAPE = "{key}={value!r} is invalid; expected a tuple of positive ints (one sample's shape)."


def is_config(obj: object) -> bool:
    """Whether ``obj`` is a config with a ``_target_``: a dataclass (or its class) or a mapping."""
    if isinstance(obj, Mapping):
        return "_target_" in obj
    if dataclasses.is_dataclass(obj):
        fields = obj.__dataclass_fields__
        return "_target_" in fields
    return False


def build_on_meta(model: object, *, key: str = "model") -> tuple[nn.Module, object | None]:
    """Return ``(module, None)``: the model built on the meta device (a name or a callable).

    A module is returned as it is (its weights stay where they are: :func:`run_on_meta`
    swaps in meta tensors only for the forward pass).
    """
    if isinstance(model, nn.Module):
        return model, None
    config: object | None = None
    with torch.device("meta"):
        if isinstance(model, str):
            from pbgml import registry

            built: object = registry.model.build(model)
            what = f"the model {model!r}"
        elif is_config(model):
            raise InvalidArgumentError(_A_CONFIG.format(key=key))
        elif callable(model):
            built = model()
            what = f"calling {model!r}"
        else:
            raise InvalidArgumentError(_NOT_A_MODEL.format(key=key, value=model))
    if not isinstance(built, nn.Module):
        raise InvalidArgumentError(_NOT_A_MODULE.format(key=key, what=what, value=built))
    return built, config


def check_shape(shape: object, *, key: str) -> tuple[int, ...]:
    """Return one sample's shape as a tuple of positive ints (a ``torch.Size`` works too)."""
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    if isinstance(shape, (str, bytes)) or not isinstance(shape, (tuple, list, torch.Size)):
        raise InvalidArgumentError(_BAD_SHAPE.format(key=key, value=shape))
    dims = tuple(shape)
    if not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in dims):
        raise InvalidArgumentError(_BAD_SHAPE.format(key=key, value=shape))
    return dims


@contextmanager
def _on_meta(module: nn.Module) -> Iterator[None]:
    """Swap meta tensors in for every parameter and buffer, and eval mode; undo on exit.

    Tied tensors stay tied (one replacement per tensor), a module used twice is swapped
    once, and everything is put back exactly, even when the forward pass fails. Eval
    mode lets batch norm take a batch of one and keeps its running statistics.
    """
    saved: list[tuple[dict[str, Any], str, Any]] = []
    replacements: dict[int, torch.Tensor] = {}
    modes = [(m, m.training) for m in module.modules()]

    def swap(slots: dict[str, Any], name: str, tensor: torch.Tensor) -> None:
        meta = replacements.get(id(tensor))
        if meta is None:
            meta = torch.empty_like(tensor, device="meta")
            if isinstance(tensor, nn.Parameter):
                meta = nn.Parameter(meta, requires_grad=tensor.requires_grad)
            replacements[id(tensor)] = meta
        saved.append((slots, name, tensor))
        slots[name] = meta

    try:
        for sub in module.modules():  # each module once, even if it is used twice
            for slots in (sub._parameters, sub._buffers):
                for name, tensor in list(slots.items()):
                    if tensor is not None:
                        swap(slots, name, tensor)
        module.eval()
        yield
    finally:
        for slots, name, tensor in reversed(saved):
            slots[name] = tensor
        for m, training in modes:
            m.training = training


def add_output_hooks(
    module: nn.Module, hook: Callable[[str, nn.Module, Any], None] | None
) -> list[Any]:
    """Register ``hook(name, submodule, output)`` after every submodule's forward; return
    the handles to remove (none when ``hook`` is ``None``)."""
    handles = []
    if hook is not None:
        for name, sub in module.named_modules():

            def record(m: nn.Module, args: Any, output: Any, name: str = name) -> None:
                hook(name, m, output)

            handles.append(sub.register_forward_hook(record))
    return handles


def run_on_meta(
    module: nn.Module,
    inputs: torch.Tensor,
    hook: Callable[[str, nn.Module, Any], None] | None = None,
) -> Any:
    """Run ``module(inputs)`` with meta tensors in place of every parameter and buffer.

    The module is not changed: its own tensors are swapped out only for the call, so
    nothing is allocated whatever its size. ``hook(name, submodule, output)`` is
    called after each submodule's forward.
    """
    handles = add_output_hooks(module, hook)
    try:
        with _on_meta(module), torch.no_grad():
            return module(inputs)
    finally:
        for handle in handles:
            handle.remove()


def first_shape(output: object) -> tuple[int, ...] | None:
    """The shape of the first tensor in an output (a tensor, a tuple/list or a dict)."""
    if isinstance(output, torch.Tensor):
        return tuple(output.shape)
    if isinstance(output, Mapping):
        output = list(output.values())
    if isinstance(output, (tuple, list)):
        for item in output:
            shape = first_shape(item)
            if shape is not None:
                return shape
    return None
