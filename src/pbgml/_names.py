"""How pbgml spells names: snake_case registry names and stable public import paths."""

from __future__ import annotations

import sys

__all__ = ["public_path", "snake_case"]

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


def public_path(obj: object) -> str:
    """Return the shortest public dotted path that imports ``obj``.

    ``torch.optim.adamw.AdamW`` becomes ``torch.optim.AdamW``: the path a user reads
    in YAML stays stable when torch moves a class between private modules. A path
    never shrinks to a top-level package's facade (``pbgml.train.Trainer``, not
    ``pbgml.Trainer``): what the facade exports depends on what was used.

    Examples
    --------
    >>> import torch
    >>> public_path(torch.optim.AdamW)
    'torch.optim.AdamW'
    >>> public_path(torch.nn.modules.loss.CrossEntropyLoss)
    'torch.nn.CrossEntropyLoss'
    >>> import pbgml
    >>> public_path(pbgml.Trainer)
    'pbgml.train.Trainer'
    """
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        raise TypeError(f"{obj!r} has no importable path")
    best = module
    parts = module.split(".")
    for cut in range(len(parts) - 1, 1, -1):
        parent = sys.modules.get(".".join(parts[:cut]))
        if parent is None or "." in qualname:
            break
        if getattr(parent, qualname, None) is obj:
            best = ".".join(parts[:cut])
    return f"{best}.{qualname}"
