"""pbgml.optim: plain PyTorch components (no Hydra), registered in :mod:`pbgml.registry`."""

from __future__ import annotations

__all__: list[str] = []
