"""Compose cost of ``pbgml train``: ``--cfg job`` against importing torch and Hydra.

Budget (the command-line issue): ``pbgml train experiment=digits_mlp --cfg job`` takes at
most 1.25x ``python -c "import torch, hydra"``, both as fresh processes (wall time,
interleaved rounds in a shuffled order, medians with their min-max; the ratio is taken
round by round). The groups reach Hydra through the lazy ``pbgml://`` config source, so
only the selected options are converted. For comparison (not budgeted), the same compose
through the eager ConfigStore bridge (``store_registries()`` then Hydra's ``compose``).

The children run with Python's bytecode cache, as an installed package has it (the
warm-up round writes it): a ``PYTHONDONTWRITEBYTECODE=1`` environment would otherwise
compile pbgml's sources in every ``pbgml train`` process (~0.1 s here), while torch
and Hydra read their cached bytecode. ``--no-bytecode-cache`` keeps the environment.
Run::

    .venv/bin/python benchmarks/bench_compose.py [--rounds 11]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

from _timing import interleave, paired, report, stats

_BASELINE = [sys.executable, "-c", "import torch, hydra"]
_TRAIN = [sys.executable, "-m", "pbgml", "train", "experiment=digits_mlp", "--cfg", "job"]
_EAGER = [
    sys.executable,
    "-c",
    "from hydra import compose, initialize\n"
    "from pbgml.hydra import store_registries\n"
    "store_registries()\n"
    "with initialize(version_base=None):\n"
    "    compose('pbgml', overrides=['model=mlp', 'data=digits'])\n",
]


def _fresh(argv: Sequence[str], cwd: str) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, capture_output=True, check=True, timeout=300, env=os.environ)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--eager", action="store_true", help="also time store_registries()")
    parser.add_argument("--no-bytecode-cache", action="store_true", help="keep the environment")
    args = parser.parse_args()
    if not args.no_bytecode_cache:
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    cwd = tempfile.mkdtemp()  # no conf/ folder of the user's
    os.environ.pop("PYTHONWARNINGS", None)
    arms = {
        "import torch, hydra": lambda: _fresh(_BASELINE, cwd),
        "pbgml train --cfg job": lambda: _fresh(_TRAIN, cwd),
    }
    if args.eager:
        arms["store_registries + compose"] = lambda: _fresh(_EAGER, cwd)
    times = interleave(arms, args.rounds, warmup=1)
    print("fresh processes, wall time (s)")
    for name, samples in times.items():
        report(name, stats(samples), " s", digits=3)
    ratio = paired(times["pbgml train --cfg job"], times["import torch, hydra"], lambda a, b: a / b)
    ok = report("ratio pbgml train --cfg job / import torch, hydra", ratio, "x", budget=1.25)
    print("\nall within budget" if ok else "\nOVER BUDGET")


if __name__ == "__main__":
    main()
