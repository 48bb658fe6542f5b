"""Import and registry-listing budgets, measured side by side in one run.

Budgets (issue: foundation):
- ``import pbgml`` costs at most 150 ms more than ``import torch``;
- listing every optimizer costs at most 50 ms more than ``import pbgml``.

Two measures, both printed. (1) Wall time of fresh interpreters, interleaved so that
noise on this shared machine hits every variant alike; medians compared. torch's own
import varies by +-100 ms from run to run here, more than the budget being measured,
so (2) the decisive measure is taken inside each fresh interpreter: ``-X importtime``'s
cumulative time of ``pbgml`` minus that of ``torch`` (pbgml's own cost on top of
torch), and the time of ``names()`` itself right after ``import pbgml``.

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


_IN_PROCESS = (
    "import time, pbgml; t = time.perf_counter(); pbgml.registry.optimizer.names(); "
    "print(time.perf_counter() - t)"
)


def _import_over_torch() -> float:
    """``import pbgml``'s cumulative import time minus torch's, in ms (-X importtime)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import pbgml"],
        capture_output=True,
        text=True,
        check=True,
    )
    cumulative: dict[str, int] = {}
    for line in done.stderr.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[1].isdigit():
            cumulative[parts[2]] = int(parts[1])
    return (cumulative["pbgml"] - cumulative["torch"]) / 1000


def _names_in_process() -> float:
    done = subprocess.run(
        [sys.executable, "-c", _IN_PROCESS], capture_output=True, text=True, check=True
    )
    return float(done.stdout.strip()) * 1000


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
    print("fresh processes (noisy: torch's import alone varies by ~100 ms here):")
    print(f"  import pbgml - import torch      = {med['pbgml'] - med['torch']:7.1f} ms")
    print(f"  optimizer.names() - import pbgml = {med['pbgml+names'] - med['pbgml']:7.1f} ms")
    print(f"  ratio pbgml / torch import       = {med['pbgml'] / med['torch']:.3f}")
    over_torch = statistics.median(_import_over_torch() for _ in range(args.rounds))
    listing = statistics.median(_names_in_process() for _ in range(args.rounds))
    print("inside each fresh process (decisive; medians):")
    print(f"  import pbgml on top of torch     = {over_torch:7.1f} ms (budget 150 ms)")
    print(f"  optimizer.names() after import   = {listing:7.1f} ms (budget 50 ms)")
    ok = over_torch <= 150 and listing <= 50
    print("within budget" if ok else "OVER BUDGET")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
