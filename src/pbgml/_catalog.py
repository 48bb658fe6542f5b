"""Lazy catalogues: torch's layers, losses, optimizers and schedulers as registry entries.

The loaders here run the first time a registry is used, never at ``import pbgml``.
Each torch class is registered under a snake_case name with its class name as an
alias (``cross_entropy`` / ``CrossEntropyLoss``, ``adamw`` / ``AdamW``).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pbgml._registry import Registry

__all__ = ["snake_case"]

# Names a mechanical split would spell badly (``re_lu``) or that are deprecated.
_NAME_OVERRIDES = {
    "ReLU": "relu",
    "ReLU6": "relu6",
    "PReLU": "prelu",
    "RReLU": "rrelu",
    "LeakyReLU": "leaky_relu",
    "SiLU": "silu",
    "RMSprop": "rmsprop",
}
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


def snake_case(name: str) -> str:
    """Spell a class name in snake_case, keeping acronyms and a trailing capital whole.

    Examples
    --------
    >>> [snake_case(n) for n in ["CrossEntropy", "AdamW", "ReduceLROnPlateau", "NAdam"]]
    ['cross_entropy', 'adamw', 'reduce_lr_on_plateau', 'nadam']
    >>> snake_case("BCEWithLogits"), snake_case("SmoothL1"), snake_case("LeakyReLU")
    ('bce_with_logits', 'smooth_l1', 'leaky_relu')
    """
    if name in _NAME_OVERRIDES:
        return _NAME_OVERRIDES[name]
    out: list[str] = []
    last = len(name) - 1
    for i, ch in enumerate(name):
        if i and ch.isupper():
            prev = name[i - 1]
            nxt = name[i + 1] if i < last else ""
            if prev.islower() or prev.isdigit():
                if i < last:  # a single trailing capital stays glued: AdamW -> adamw
                    out.append("_")
            elif prev.isupper() and nxt.islower():
                start = i - 1
                while start > 0 and name[start - 1].isupper():
                    start -= 1
                if i - start >= 2:  # end of an acronym: LROn -> lr_on; but NAdam -> nadam
                    out.append("_")
        out.append(ch.lower())
    return "".join(out)


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
        if name in reg:  # an alias such as torch.nn.modules.X exported twice
            continue
        reg.register(cls, name=name, aliases=(attr,) if attr != name else ())


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


def public_path(obj: object) -> str:
    """Return the shortest public dotted path that imports ``obj``.

    ``torch.optim.adamw.AdamW`` becomes ``torch.optim.AdamW``: the path a user reads
    in YAML stays stable when torch moves a class between private modules.

    Examples
    --------
    >>> import torch
    >>> public_path(torch.optim.AdamW)
    'torch.optim.AdamW'
    >>> public_path(torch.nn.modules.loss.CrossEntropyLoss)
    'torch.nn.CrossEntropyLoss'
    """
    import sys

    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        raise TypeError(f"{obj!r} has no importable path")
    best = module
    parts = module.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        parent = sys.modules.get(".".join(parts[:cut]))
        if parent is None or "." in qualname:
            break
        if getattr(parent, qualname, None) is obj:
            best = ".".join(parts[:cut])
    return f"{best}.{qualname}"
