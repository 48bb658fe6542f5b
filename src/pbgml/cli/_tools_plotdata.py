"""What ``pbgml plot`` reads: run folders, their CSV logs, and the curves in them.

The CSV logger (:class:`pbgml.train.CSVLogger`) writes ``step, epoch`` and one column
per metric (``train/loss``, ``val/acc``, ...). The trainer logs a training value every
``log_every_n_steps`` steps and, at each epoch's end, the epoch's mean under the same
name, in a row of its own: so the last ``train/...`` value of an epoch is the epoch's,
the ones before it are steps. Validation and test values are per evaluation; an
evaluation repeated at the same step with the same value (the one after ``fit``) is
counted once.
"""

from __future__ import annotations

import csv
import errno
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pbgml.cli._report import UsageError

__all__ = ["Curves", "Series", "csv_logs", "find_runs", "read_run", "run_label"]

#: How deep below a given folder run folders are looked for (``sweep/0``, ``out/run/<time>``).
MAX_DEPTH = 3
_STAGES = ("train", "val", "test")
_SKIP = {"checkpoints", ".hydra", "logs", "__pycache__"}
_NO_LOGS = (
    "{path}: no CSV logs here (logs/*.csv with step and epoch columns) nor in run folders "
    "below it. Is it a run directory? The CSV logger writes them (logger=csv, the default)."
)


@dataclass
class Series:
    """One curve of one stage: ``(step, value)`` and ``(epoch, value)`` points."""

    steps: list[tuple[float, float]] = field(default_factory=list)
    epochs: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class _Point:
    step: float
    epoch: float | None
    value: float


@dataclass
class Curves:
    """Every logged column's points, in the order they were logged.

    Examples
    --------
    >>> from pbgml.cli._tools_plotdata import Curves
    >>> c = Curves()
    >>> for step, epoch, value in [(2, 0, 1.0), (4, 0, 0.8), (4, 0, 0.9), (8, 1, 0.6), (8, 1, 0.7)]:
    ...     c.add("train/loss", "", step, epoch, value)
    >>> sorted(c.of("loss"))
    ['train', 'train_step']
    >>> c.of("loss")["train"].epochs, c.of("loss")["train_step"].steps
    ([(0, 0.9), (1, 0.7)], [(2, 1.0), (4, 0.8), (8, 0.6)])
    """

    columns: dict[str, list[_Point]] = field(default_factory=dict)

    def add(self, column: str, kind: str, step: float, epoch: float | None, value: float) -> None:
        """Add one logged value (``kind`` is kept for callers' clarity; the column decides)."""
        self.columns.setdefault(column, []).append(_Point(step, epoch, value))

    @staticmethod
    def split(column: str) -> tuple[str, str]:
        """``"val/acc"`` -> ``("val", "acc")``; a column of no stage is ``("other", column)``."""
        stage, sep, metric = column.partition("/")
        if sep and stage in _STAGES and metric:
            return stage, metric
        return "other", column

    def metrics(self) -> list[str]:
        """The metric names (``loss``, ``acc``), each once."""
        return sorted({self.split(c)[1] for c in self.columns})

    def only(self, pattern: re.Pattern[str]) -> Curves:
        """The curves of the metrics whose name matches ``pattern``."""
        kept = {c: p for c, p in self.columns.items() if pattern.search(self.split(c)[1])}
        return Curves(kept)

    def of(self, metric: str) -> dict[str, Series]:
        """The curves of one metric by stage: ``train_step``, ``train``, ``val``, ``test``, ..."""
        out: dict[str, Series] = {}
        for column, points in self.columns.items():
            stage, name = self.split(column)
            if name != metric:
                continue
            if stage == "train":
                steps, epochs = _train_split(points)
                if steps:
                    out["train_step"] = Series(steps=[(p.step, p.value) for p in steps])
                out["train"] = Series(
                    steps=[(p.step, p.value) for p in epochs],
                    epochs=[(p.epoch, p.value) for p in epochs if p.epoch is not None],
                )
            else:
                unique = _dedupe(points)
                last: dict[float, float] = {}
                for p in unique:
                    if p.epoch is not None:
                        last[p.epoch] = p.value
                out[stage] = Series(
                    steps=[(p.step, p.value) for p in unique], epochs=list(last.items())
                )
        return out


def _train_split(points: list[_Point]) -> tuple[list[_Point], list[_Point]]:
    """(step values, epoch values): the last value of each epoch is the epoch's mean."""
    last_of: dict[float | None, int] = {}
    for i, p in enumerate(points):
        last_of[p.epoch] = i
    ends = {i for epoch, i in last_of.items() if epoch is not None}
    return (
        [p for i, p in enumerate(points) if i not in ends],
        [p for i, p in enumerate(points) if i in ends],
    )


def _dedupe(points: list[_Point]) -> list[_Point]:
    out: list[_Point] = []
    seen: set[tuple[float, float]] = set()
    for p in points:
        if (p.step, p.value) in seen:
            continue
        seen.add((p.step, p.value))
        out.append(p)
    return out


def _is_log(path: Path) -> bool:
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    return header[:2] == ["step", "epoch"]


def csv_logs(folder: Path) -> list[Path]:
    """The CSV logs of a run folder: ``logs/*.csv`` (and ``*.csv`` beside) with step, epoch."""
    candidates = [*sorted((folder / "logs").glob("*.csv")), *sorted(folder.glob("*.csv"))]
    return [p for p in candidates if p.is_file() and _is_log(p)]


def _natural(path: Path) -> list[object]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def _below(folder: Path, depth: int) -> list[Path]:
    if depth > MAX_DEPTH:
        return []
    found: list[Path] = []
    try:
        children = sorted((c for c in folder.iterdir() if c.is_dir()), key=_natural)
    except OSError:
        return []
    for child in children:
        if child.name in _SKIP or child.name.startswith("."):
            continue
        if csv_logs(child):
            found.append(child)
        else:
            found += _below(child, depth + 1)
    return found


def find_runs(paths: Iterable[Path]) -> list[Path]:
    """The run folders (or CSV files) to plot: each path, or the run folders below it.

    Raises
    ------
    FileNotFoundError
        A path does not exist.
    UsageError
        A path holds no CSV logs, nor any run folder below it does.
    """
    runs: list[Path] = []
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(errno.ENOENT, "no such run directory", str(path))
        if path.is_file():
            if not _is_log(path):
                raise UsageError(f"{path}: not a CSV log (its header must start with step,epoch)")
            found = [path]
        elif csv_logs(path):
            found = [path]
        else:
            found = _below(path, 1)
        if not found:
            raise UsageError(_NO_LOGS.format(path=path))
        runs += [run for run in found if run not in runs]
    return runs


def _number(text: str) -> float | None:
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def read_run(run: Path) -> Curves:
    """Read a run folder's CSV logs (or one CSV file) into :class:`Curves`."""
    curves = Curves()
    for log in [run] if run.is_file() else csv_logs(run):
        with open(log, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                step = _number(row.get("step") or "")
                if step is None:
                    continue
                epoch = _number(row.get("epoch") or "")
                for column, text in row.items():
                    if column in ("step", "epoch") or column is None:
                        continue
                    value = _number(text or "") if isinstance(text, str) else None
                    if value is not None:
                        curves.add(column, "", step, epoch, value)
    return curves


def _overrides(run: Path) -> str:
    """A Hydra job's overrides (``.hydra/overrides.yaml``), joined: the sweep's values."""
    path = run / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return ""
    import yaml

    try:
        items = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return ""
    if not isinstance(items, list):
        return ""
    return ",".join(str(i) for i in items if not str(i).startswith(("hydra", "+hydra")))


def run_label(run: Path, runs: list[Path]) -> str:
    """How a run is named in the legend: its path below the runs' common folder, and its
    Hydra overrides when it has some.

    Examples
    --------
    >>> from pathlib import Path
    >>> from pbgml.cli._tools_plotdata import run_label
    >>> run_label(Path("sweep/1"), [Path("sweep/0"), Path("sweep/1")])
    '1'
    """
    if len(runs) > 1:
        try:
            common = Path(os.path.commonpath([str(r.resolve()) for r in runs]))
            name = str(run.resolve().relative_to(common)) or run.name
        except ValueError:
            name = str(run)
    else:
        name = run.name
    extra = _overrides(run)
    label = f"{name} {extra}" if extra else name
    return label if len(label) <= 48 else label[:45] + "..."
