"""Timing shared by the benchmarks: interleaved single runs, medians, min-max, budgets.

A burst of load on a shared machine must not fall on one arm only, so every round
runs each arm once, in an order that changes from round to round (seeded), and a
figure is the median over the rounds, printed with the min-max beside it. Figures
that compare two arms (a ratio, an extra cost per step) are taken round by round,
from runs that were side by side in time, and then summarized the same way.

Use it from a benchmark script next to this file (``python benchmarks/bench_x.py``
puts ``benchmarks/`` on ``sys.path``)::

    from _timing import interleave, paired, ratio_of_medians, report, stats
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "CLOCKS",
    "Stats",
    "interleave",
    "paired",
    "ratio_of_medians",
    "report",
    "report_against",
    "stats",
]

Arm = Callable[[], "float | None"]
"""One single run of an arm; it may return its own measure, else it is timed (seconds)."""


@dataclass(frozen=True)
class Stats:
    """The median of some samples, with their min and max."""

    median: float
    low: float
    high: float
    n: int

    def scaled(self, factor: float) -> Stats:
        """The same figures multiplied by ``factor`` (seconds to ms: 1e3)."""
        return Stats(self.median * factor, self.low * factor, self.high * factor, self.n)


def stats(samples: Sequence[float]) -> Stats:
    """Median, min and max of ``samples``."""
    if not samples:
        raise ValueError("no samples")
    return Stats(statistics.median(samples), min(samples), max(samples), len(samples))


CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
"""``wall`` is what a user waits; ``cpu`` (this process's CPU time) leaves out the time
the process was descheduled, so other jobs on a shared machine disturb it far less
(but it also leaves out waits such as ``fsync``)."""


def _run(arm: Arm, clock: Callable[[], float]) -> float:
    start = clock()
    measure = arm()
    elapsed = clock() - start
    return elapsed if measure is None else measure


def interleave(
    arms: Mapping[str, Arm],
    rounds: int,
    *,
    warmup: int = 1,
    seed: int = 0,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, list[float]]:
    """Run every arm once per round, in a fresh shuffled order each round.

    Parameters
    ----------
    arms
        Name to a callable doing one single run. A callable that returns a number
        reports its own measure (a peak memory, a time it took itself); one that
        returns ``None`` is timed with ``clock``, in seconds.
    rounds
        How many measured rounds.
    warmup
        Unmeasured rounds first (imports, caches, allocator).
    seed
        Seeds the order of the arms within the rounds.
    clock
        Times the arms that do not report their own measure (see :data:`CLOCKS`).

    Returns
    -------
    dict of str to list of float
        Each arm's measures, one per round, in round order: index ``i`` of two
        arms were measured side by side.
    """
    order = list(arms)
    rng = random.Random(seed)
    for _ in range(warmup):
        for name in order:
            _run(arms[name], clock)
    samples: dict[str, list[float]] = {name: [] for name in order}
    for _ in range(rounds):
        rng.shuffle(order)
        for name in order:
            samples[name].append(_run(arms[name], clock))
    return samples


def paired(
    a: Sequence[float], b: Sequence[float], combine: Callable[[float, float], float]
) -> Stats:
    """Combine two arms round by round (``a[i] / b[i]``, ...) and summarize."""
    if len(a) != len(b):
        raise ValueError("the arms ran a different number of rounds")
    return stats([combine(x, y) for x, y in zip(a, b, strict=True)])


def ratio_of_medians(num: Sequence[float], den: Sequence[float], *, blocks: int = 10) -> Stats:
    """``median(num) / median(den)``, with the min-max of that ratio over blocks of rounds.

    For figures that are themselves differences of noisy times (a framework's cost
    over a direct build), a single round's ratio is mostly noise: the ratio of the
    medians is the figure, and its spread is shown by the same ratio computed over
    each block of consecutive rounds (each tenth of them, by default).
    """
    if len(num) != len(den):
        raise ValueError("the arms ran a different number of rounds")
    blocks = max(1, min(blocks, len(num) // 5))
    size = len(num) // blocks
    per_block = [
        statistics.median(num[i : i + size]) / statistics.median(den[i : i + size])
        for i in range(0, size * blocks, size)
    ]
    ratio = statistics.median(num) / statistics.median(den)
    return Stats(ratio, min(per_block), max(per_block), blocks)


def report(
    label: str,
    s: Stats,
    unit: str,
    budget: float | None = None,
    *,
    digits: int = 3,
    width: int = 40,
    over: str = "rounds",
) -> bool:
    """Print ``label: median unit (min-max low-high, n rounds)``, and the verdict of a budget.

    The budget is judged on the median. Returns whether the figure is within it
    (True when there is no budget).
    """
    line = (
        f"{label:>{width}}: {s.median:.{digits}f}{unit} "
        f"(min-max {s.low:.{digits}f}-{s.high:.{digits}f}, {s.n} {over})"
    )
    ok = budget is None or s.median <= budget
    if budget is not None:
        line += f", budget <= {budget:g}{unit}: {'within budget' if ok else 'OVER BUDGET'}"
    print(line)
    return ok


def report_against(
    samples: Mapping[str, Sequence[float]],
    base: str,
    budgets: Mapping[str, float | None],
    combine: Callable[[float, float], float],
    label: str,
    unit: str,
    *,
    digits: int = 3,
) -> bool:
    """Report each arm of ``budgets`` that ran against ``base``, round by round.

    ``label`` is formatted with the arm's ``name`` and ``base``; ``combine`` makes one
    round's figure of (arm, base), as in :func:`paired`. Returns whether all are
    within their budgets.
    """
    ok = True
    for name, budget in budgets.items():
        if name in samples:
            figure = paired(samples[name], samples[base], combine)
            text = label.format(name=name, base=base)
            ok = report(text, figure, unit, budget, digits=digits) and ok
    return ok
