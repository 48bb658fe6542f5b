"""One seed for Python, numpy, torch and every loader worker; RNG states for checkpoints."""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from pbgml.train._errors import TrainerError

__all__ = ["get_rng_state", "seed_everything", "set_rng_state"]

_MAX_SEED = 2**32 - 1


def seed_everything(seed: int, *, deterministic: bool = False) -> int:
    """Seed Python's ``random``, numpy, torch (CPU and every CUDA device).

    DataLoader workers are then seeded too: torch seeds each worker's torch,
    ``random`` and numpy RNGs from ``base_seed`` and the worker's id, with
    ``base_seed`` drawn from the loader's generator when an epoch's iterator
    starts (a :class:`~pbgml.data.DataModule` seeds that generator with
    ``seed + epoch``; a plain loader without a generator draws it from torch's RNG
    seeded here). Different per worker and per epoch, identical across runs.

    Parameters
    ----------
    seed
        An integer in ``[0, 2**32 - 1]`` (numpy's range).
    deterministic
        Also call ``torch.use_deterministic_algorithms(True)``, turn off cuDNN's
        benchmark mode and set ``CUBLAS_WORKSPACE_CONFIG`` (CUDA needs it for
        deterministic matrix products).

    Returns
    -------
    int
        The seed.

    Examples
    --------
    >>> import torch
    >>> from pbgml.train import seed_everything
    >>> seed_everything(42)
    42
    >>> a = torch.rand(2)
    >>> _ = seed_everything(42)
    >>> torch.equal(a, torch.rand(2))
    True
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= _MAX_SEED:
        raise TrainerError(f"seed={seed!r} must be an integer in [0, {_MAX_SEED}]", param="seed")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    return seed


def get_rng_state() -> dict[str, Any]:
    """Every global RNG state as tensors and plain lists (loadable with ``weights_only``).

    Keys ``python``, ``numpy``, ``torch`` and ``cuda`` (one state per device, empty
    without CUDA).

    Examples
    --------
    >>> import torch
    >>> from pbgml.train._seed import get_rng_state, set_rng_state
    >>> state = get_rng_state()
    >>> a = torch.rand(3)
    >>> set_rng_state(state)
    >>> torch.equal(a, torch.rand(3)), sorted(state)
    (True, ['cuda', 'numpy', 'python', 'torch'])
    """
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    return {
        "python": [version, list(internal), gauss],
        "numpy": [
            str(kind),
            torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            int(pos),
            int(has_gauss),
            float(cached),
        ],
        "torch": torch.get_rng_state(),
        "cuda": cuda,
    }


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`get_rng_state` returned."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
