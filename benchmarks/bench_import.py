"""Import and registry-listing budgets, measured side by side in one run.

Budgets (issue: foundation):
- ``import pbgml`` costs at most 150 ms more than ``import torch``;
- listing every optimizer costs at most 50 ms more than ``import pbgml``.

Each variant runs in a fresh interpreter; the variants are interleaved so that noise
on this shared machine hits them alike, and medians are compared.

Run: ``python benchmarks/bench_import.py [--rounds N]``
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

VARIANTS = {
    "python": "pass",
    "torch": "import torch",
    "pbgml": "import pbgml",
    "pbgml+names": "import pbgml; pbgml.registry.optimizer.names()",
    "lightning(if installed)": "import lightning",
}


def _time(code: str) -> float | None:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    return elapsed if done.returncode == 0 else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    samples: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for code in VARIANTS.values():  # warm the file cache once
        _time(code)
    for _ in range(args.rounds):
        for name, code in VARIANTS.items():
            t = _time(code)
            if t is not None:
                samples[name].append(t)
    med = {k: statistics.median(v) * 1000 for k, v in samples.items() if v}
    for name, ms in med.items():
        print(f"{name:>24}: {ms:8.1f} ms (median of {len(samples[name])})")
    over_torch = med["pbgml"] - med["torch"]
    listing = med["pbgml+names"] - med["pbgml"]
    print(f"import pbgml - import torch      = {over_torch:7.1f} ms (budget 150 ms)")
    print(f"optimizer.names() - import pbgml = {listing:7.1f} ms (budget 50 ms)")
    print(f"ratio pbgml / torch import       = {med['pbgml'] / med['torch']:.3f}")
    ok = over_torch <= 150 and listing <= 50
    print("within budget" if ok else "OVER BUDGET")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
