"""``pbgml plot RUN_DIR... [--output PNG]``: training curves from the CSV logs, into a PNG.

One row of plots per metric (``loss``, ``acc``, ...): on the left per step (the
training values the trainer logged every ``log_every_n_steps``, each epoch's mean,
and every validation), on the right per epoch (the epoch means, the validations, the
test). Several run directories overlay, one colour each; a folder holding run
folders (a multirun's ``0/``, ``1/``, ... or ``run/<time>/``) is expanded into them,
labelled by their Hydra overrides when they have some. Needs matplotlib
(``pip install pbgml[plot]``); nothing is shown on a display (Agg).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pbgml.cli._list import parse_args, parser
from pbgml.cli._report import UsageError
from pbgml.cli._tools_plotdata import Curves, find_runs, read_run, run_label

__all__ = ["main", "plot"]

#: Colours of the runs, in order (matplotlib's tab10).
_COLOURS = [f"C{i}" for i in range(10)]
#: How each stage is drawn.
_STYLE: dict[str, dict[str, Any]] = {
    "train_step": {"linestyle": "-", "linewidth": 0.8, "alpha": 0.45},
    "train": {"linestyle": "-", "marker": "o", "markersize": 3, "linewidth": 1.5},
    "val": {"linestyle": "--", "marker": "s", "markersize": 3, "linewidth": 1.5},
    "test": {"linestyle": "none", "marker": "*", "markersize": 10},
    "other": {"linestyle": ":", "marker": ".", "linewidth": 1.0},
}
_STAGE_NAMES = {
    "train_step": "train (steps)",
    "train": "train (epoch mean)",
    "val": "validation",
    "test": "test",
}
#: At most this many metric rows in one figure.
MAX_ROWS = 24


def _matplotlib() -> tuple[Any, Any]:
    from pbgml._errors import require

    require("matplotlib", extra="plot", purpose="pbgml plot")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    return Figure, FigureCanvasAgg


def _order(metric: str) -> tuple[int, str]:
    return (0 if metric == "loss" else 1, metric)


def plot(runs: list[tuple[str, Curves]], output: Path) -> Path:
    """Draw the runs' curves into ``output`` (a PNG); return its path.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from pbgml.cli._plot import plot
    >>> from pbgml.cli._tools_plotdata import Curves
    >>> curves = Curves()
    >>> curves.add("train/loss", "step", 10, 0, 1.0); curves.add("train/loss", "epoch", 10, 0, 0.9)
    >>> out = plot([("run", curves)], Path(tempfile.mkdtemp()) / "curves.png")
    >>> out.read_bytes()[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """
    figure_class, canvas_class = _matplotlib()
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    metrics = sorted({m for _, curves in runs for m in curves.metrics()}, key=_order)
    if not metrics:
        raise UsageError("the CSV logs hold no metric values to plot")
    shown = metrics[:MAX_ROWS]
    fig = figure_class(figsize=(12, 3.0 * len(shown) + 0.8), layout="constrained")
    canvas_class(fig)
    axes = fig.subplots(len(shown), 2, squeeze=False)
    stages: set[str] = set()
    for row, metric in enumerate(shown):
        by_step, by_epoch = axes[row]
        for i, (_, curves) in enumerate(runs):
            colour = _COLOURS[i % len(_COLOURS)]
            for stage, series in curves.of(metric).items():
                stages.add(stage)
                style = _STYLE.get(stage, _STYLE["other"])
                if series.steps:
                    xs, ys = zip(*series.steps, strict=True)
                    by_step.plot(xs, ys, color=colour, **style)
                if series.epochs and stage != "train_step":
                    xs, ys = zip(*series.epochs, strict=True)
                    by_epoch.plot(xs, ys, color=colour, **style)
        by_step.set(title=f"{metric} per step", xlabel="step", ylabel=metric)
        by_epoch.set(title=f"{metric} per epoch", xlabel="epoch", ylabel=metric)
        by_epoch.xaxis.set_major_locator(MaxNLocator(integer=True))
        for ax in (by_step, by_epoch):
            ax.grid(True, alpha=0.3)
    order = [s for s in _STYLE if s in stages] + sorted(stages - set(_STYLE))
    handles = [
        Line2D([], [], color="0.2", label=_STAGE_NAMES.get(s, s), **_STYLE.get(s, _STYLE["other"]))
        for s in order
    ]
    if len(runs) > 1:
        handles += [
            Line2D([], [], color=_COLOURS[i % len(_COLOURS)], linewidth=3, label=label)
            for i, (label, _) in enumerate(runs)
        ]
    elif runs:
        fig.suptitle(runs[0][0])
    fig.legend(handles=handles, loc="outside upper center", ncols=min(len(handles), 5))
    if len(metrics) > len(shown):
        fig.text(0.01, 0.0, f"the first {len(shown)} of {len(metrics)} metrics", fontsize="small")
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=80)
    return output


def main(argv: list[str]) -> int:
    """Run ``pbgml plot``; return the exit code."""
    cli = parser(
        "pbgml plot",
        "Plot the training curves (loss and every metric; train, val and test; per step "
        "and per epoch) of one or more runs from their CSV logs into a PNG.",
    )
    cli.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="a run (or sweep) directory")
    cli.add_argument(
        "-o", "--output", help="the PNG to write (default: RUN_DIR/curves.png, the first RUN_DIR)"
    )
    cli.add_argument(
        "--metrics",
        metavar="REGEX",
        help="plot only the metrics whose name matches (e.g. 'loss|acc')",
    )
    args = parse_args(cli, argv)
    if isinstance(args, int):
        return args
    _matplotlib()  # the missing extra first, before reading anything
    dirs = [Path(d) for d in args.run_dirs]
    found = find_runs(dirs)
    runs = [(run_label(run, found), read_run(run)) for run in found]
    if args.metrics:
        try:
            pattern = re.compile(args.metrics)
        except re.error as err:
            raise UsageError(
                f"--metrics {args.metrics!r}: not a regular expression ({err})"
            ) from None
        runs = [(label, curves.only(pattern)) for label, curves in runs]
    first = dirs[0] if dirs[0].is_dir() else dirs[0].parent
    output = Path(args.output) if args.output else first / "curves.png"
    if output.suffix.lower() != ".png":
        raise UsageError(f"--output {output}: expected a .png file")
    plot(runs, output)
    count = len({m for _, curves in runs for m in curves.metrics()})
    print(f"wrote {output} ({len(runs)} run{'s' if len(runs) != 1 else ''}, {count} metrics)")
    return 0
