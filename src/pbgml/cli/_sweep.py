"""The summary of a sweep: one row per job, the best parameters and value (CSV and a table).

:class:`SweepSummary` is a Hydra callback named in ``pbgml train``'s primary config
(``hydra.callbacks.sweep_summary``). At the end of a multirun it reads each job's
folder (``.hydra/overrides.yaml``, ``.hydra/config.yaml``, ``metrics.json``), so it
works with every launcher (basic, joblib, submitit), and writes ``summary.csv`` in the
sweep's folder.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

__all__ = ["SweepSummary", "summarize"]

SUMMARY_FILE = "summary.csv"


def _objective_name(cfg: Mapping[str, Any]) -> str:
    name = cfg.get("optimized_metric")
    if name:
        return str(name)
    checkpoint = (cfg.get("callbacks") or {}).get("model_checkpoint") or {}
    return str(checkpoint.get("monitor") or "val/loss")


def _job_dirs(sweep_dir: Path) -> list[Path]:
    jobs = [p for p in sweep_dir.iterdir() if (p / ".hydra" / "overrides.yaml").is_file()]
    return sorted(
        jobs, key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else 0, p.name)
    )


def summarize(sweep_dir: str | Path, direction: str | None = None) -> dict[str, Any]:
    """Read a sweep's job folders; write ``summary.csv``; return the rows and the best.

    ``direction`` is ``"minimize"`` or ``"maximize"`` (default: minimize a metric whose
    name holds ``loss``, else maximize).

    Examples
    --------
    >>> import tempfile
    >>> from pbgml.cli._sweep import summarize
    >>> summarize(tempfile.mkdtemp())["rows"]
    []
    """
    from omegaconf import OmegaConf

    folder = Path(sweep_dir)
    rows: list[dict[str, Any]] = []
    metric = "val/loss"
    for job in _job_dirs(folder):
        overrides = [str(o) for o in OmegaConf.load(job / ".hydra" / "overrides.yaml")]
        params = dict(o.lstrip("+~").split("=", 1) for o in overrides if "=" in o)
        params = {k: v for k, v in params.items() if not k.startswith("hydra")}
        cfg_file = job / ".hydra" / "config.yaml"
        cfg: Any = OmegaConf.to_container(OmegaConf.load(cfg_file)) if cfg_file.is_file() else {}
        metric = _objective_name(cfg if isinstance(cfg, dict) else {})
        metrics_file = job / "metrics.json"
        values = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
        value = values.get(metric)
        rows.append({"job": job.name, "params": params, "value": value, "dir": str(job)})
    keys = sorted({k for row in rows for k in row["params"]})
    varying = [k for k in keys if len({row["params"].get(k) for row in rows}) > 1] or keys
    if direction not in ("minimize", "maximize"):
        direction = "minimize" if "loss" in metric else "maximize"
    scored = [r for r in rows if isinstance(r["value"], int | float) and math.isfinite(r["value"])]
    pick = min if direction == "minimize" else max
    best = pick(scored, key=lambda r: r["value"]) if scored else None
    if rows:
        with open(folder / SUMMARY_FILE, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["job", *varying, metric, "dir"])
            for row in rows:
                writer.writerow(
                    [
                        row["job"],
                        *(row["params"].get(k, "") for k in varying),
                        row["value"],
                        row["dir"],
                    ]
                )
    return {
        "rows": rows,
        "columns": varying,
        "metric": metric,
        "direction": direction,
        "best": best,
    }


def _table(summary: Mapping[str, Any]) -> str:
    columns: Sequence[str] = summary["columns"]
    header = ["job", *columns, summary["metric"]]
    body = [
        [r["job"], *(str(r["params"].get(k, "")) for k in columns), _fmt(r["value"])]
        for r in summary["rows"]
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body, strict=False)]
    lines = [
        "  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True))
        for line in [header, *body]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, int | float) else "-"


class SweepSummary(Callback):
    """Hydra callback: at a multirun's end, print and write the sweep's summary.

    Examples
    --------
    >>> from pbgml.cli._sweep import SweepSummary
    >>> SweepSummary().file
    'summary.csv'
    """

    def __init__(self) -> None:
        self.file = SUMMARY_FILE

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        """Summarize ``hydra.sweep.dir``; the direction is the sweeper's when it has one."""
        sweep_dir = Path(str(config.hydra.sweep.dir))
        if not sweep_dir.is_dir():
            return
        sweeper = config.hydra.get("sweeper") or {}
        direction = sweeper.get("direction") if hasattr(sweeper, "get") else None
        summary = summarize(sweep_dir, direction if isinstance(direction, str) else None)
        if not summary["rows"]:
            return
        print(
            f"\nsweep summary ({len(summary['rows'])} jobs, {summary['direction']} {summary['metric']}):"
        )
        print(_table(summary))
        best = summary["best"]
        if best is not None:
            shown = " ".join(f"{k}={best['params'].get(k)}" for k in summary["columns"])
            print(f"best: job {best['job']} {summary['metric']}={_fmt(best['value'])} {shown}")
        print(f"written: {sweep_dir / SUMMARY_FILE}")
