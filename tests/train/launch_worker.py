"""Worker functions that ``tests/train/test_launch.py`` hands to :func:`pbgml._launch.launched`.

Module-level, so the spawned workers unpickle them by name.
"""

from __future__ import annotations

import os
from typing import Any


def probe(cfg: Any) -> dict[str, Any]:
    """``pbgml.run(cfg)`` in a launched worker, with what torchrun's environment said."""
    import pbgml

    result = pbgml.run(cfg)
    return {
        "rank": int(os.environ["RANK"]),
        "world_size": int(os.environ["WORLD_SIZE"]),
        "local_world_size": int(os.environ["LOCAL_WORLD_SIZE"]),
        "result": result,
    }


def fail_on_rank_one(cfg: Any) -> int:
    """Rank 1 raises; rank 0 returns."""
    if os.environ["RANK"] == "1":
        raise LookupError(f"boom on rank 1 ({cfg['word']})")
    return 0
