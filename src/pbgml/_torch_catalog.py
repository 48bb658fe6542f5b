"""torch's layers, losses, optimizers and schedulers as registry entries (lazy loaders).

The loaders here run the first time a registry is used, never at ``import pbgml``.
Each torch class is registered under a snake_case name with its class name as an
alias (``mse`` / ``MSELoss``). Where pbgml registered a component of its own under the
short name first, torch's class is registered under its own class name
(``CrossEntropyLoss``, beside pbgml's ``cross_entropy``, which takes class weights as a
list), or, when pbgml's class extends it and holds the class name too (``adamw`` /
``AdamW`` build :class:`pbgml.optim.AdamW`), accepted by that entry: a config naming
``torch.optim.AdamW`` is checked as ``adamw`` and builds torch's class. Nothing is
ever overwritten.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pbgml._names import snake_case

if TYPE_CHECKING:
    from pbgml._registry import Registry

__all__ = ["torch_layers", "torch_losses", "torch_optimizers", "torch_schedulers"]

# Abstract bases, deprecated aliases and wrappers that are not components.
_SKIP = frozenset(
    {
        "Module",
        "Container",
        "RNNBase",
        "RNNCellBase",
        "NLLLoss2d",
        "Optimizer",
        "LRScheduler",
        "_LRScheduler",
    }
)


def _public_classes(module_name: str, base: tuple[type, ...]) -> Iterable[tuple[str, type]]:
    module = importlib.import_module(module_name)
    for attr, obj in sorted(vars(module).items()):
        if attr.startswith("_") or attr in _SKIP or not isinstance(obj, type):
            continue
        if issubclass(obj, base) and obj.__module__.startswith("torch."):
            yield attr, obj


def _register_all(reg: Registry[Any], classes: Iterable[tuple[str, type]], *, strip: str) -> None:
    for attr, cls in classes:
        stem = attr[: -len(strip)] if strip and attr.endswith(strip) and attr != strip else attr
        name = snake_case(stem)
        if reg.find(cls) is not None:  # exported twice (torch.nn.modules.X)
            continue
        if name in reg:  # pbgml's own component holds the short name
            if attr not in reg:
                reg.register(cls, name=attr)
            elif isinstance(held := reg.get(attr), type) and issubclass(held, cls):
                reg.accept(cls, attr)  # pbgml's subclass holds both names: the same entry
            continue
        reg.register(cls, name=name, aliases=(attr,) if attr != name and attr not in reg else ())


def torch_layers(reg: Registry[Any]) -> None:
    """Register every public ``torch.nn`` module that is not a loss."""
    import torch.nn as nn
    from torch.nn.modules.loss import _Loss

    layers = (
        (attr, cls)
        for attr, cls in _public_classes("torch.nn", (nn.Module,))
        if not issubclass(cls, _Loss) and cls.__module__.startswith("torch.nn.modules")
    )
    _register_all(reg, layers, strip="")


def torch_losses(reg: Registry[Any]) -> None:
    """Register every public ``torch.nn`` loss, without its ``Loss`` suffix."""
    from torch.nn.modules.loss import _Loss

    _register_all(reg, _public_classes("torch.nn", (_Loss,)), strip="Loss")


def torch_optimizers(reg: Registry[Any]) -> None:
    """Register every public ``torch.optim`` optimizer."""
    from torch.optim import Optimizer

    _register_all(reg, _public_classes("torch.optim", (Optimizer,)), strip="")


def torch_schedulers(reg: Registry[Any]) -> None:
    """Register every public ``torch.optim.lr_scheduler`` scheduler."""
    from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

    classes = _public_classes("torch.optim.lr_scheduler", (LRScheduler, ReduceLROnPlateau))
    _register_all(reg, classes, strip="")
