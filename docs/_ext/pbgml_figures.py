"""Figures the docs build draws itself, so they cannot drift from the code.

* ``_generated/flow.png``: the data flow config -> check -> instantiate -> fit, drawn
  with matplotlib (no Graphviz needed).
* ``_generated/curves.png``: the training curves ``pbgml plot`` draws, from a real run
  of a tiny digits experiment made during the build (a few seconds).
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path
from typing import Any


def _flow(path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    steps = [
        ("config", "typed dataclass,\nYAML, dict,\npbgml train overrides"),
        ("check", "every problem at once,\nkey paths, did-you-mean;\nbuilds nothing"),
        ("instantiate", "registry = allowlist;\npartials for optimizer,\nscheduler, task, trainer"),
        ("fit", "Trainer: loop, callbacks,\nloggers, atomic\ncheckpoints, resume"),
        ("test / export", "best checkpoint;\nmetrics.json;\nONNX, .pt2, safetensors"),
    ]
    fig, ax = plt.subplots(figsize=(11, 2.4), dpi=110)
    ax.set_xlim(0, len(steps) * 2.2)
    ax.set_ylim(0, 2.4)
    ax.axis("off")
    for i, (title, text) in enumerate(steps):
        x = i * 2.2 + 0.1
        ax.add_patch(
            FancyBboxPatch(
                (x, 0.2), 1.8, 2.0, boxstyle="round,pad=0.05", fc="#eef3fb", ec="#3465a4"
            )
        )
        ax.text(x + 0.9, 1.85, title, ha="center", va="center", fontsize=12, weight="bold")
        ax.text(x + 0.9, 0.95, text, ha="center", va="center", fontsize=8.5)
        if i:
            ax.annotate(
                "",
                xy=(x - 0.02, 1.2),
                xytext=(x - 0.32, 1.2),
                arrowprops={"arrowstyle": "->", "color": "#3465a4", "lw": 2},
            )
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)


def _curves(path: Path) -> None:
    import pbgml
    from pbgml.cli import main
    from pbgml.configs import DigitsDataConf, ExperimentConf, MLPConf, TrainerConf

    with tempfile.TemporaryDirectory() as root:
        cfg = ExperimentConf(
            model=MLPConf(in_features=64, hidden=(64,), out_features=10),
            data=DigitsDataConf(batch_size=32),
            trainer=TrainerConf(
                max_epochs=8,
                default_root_dir=root,
                log_every_n_steps=5,
                enable_progress_bar=False,
                enable_model_summary=False,
            ),
        )
        with contextlib.redirect_stdout(io.StringIO()):
            result = pbgml.run(cfg)
            code = main(["plot", str(result.run_dir), "--output", str(path)])
        if code != 0:
            raise RuntimeError(f"pbgml plot failed with exit code {code}")


def _draw(app: Any) -> None:
    out = Path(app.srcdir) / "_generated"
    out.mkdir(exist_ok=True)
    _flow(out / "flow.png")
    _curves(out / "curves.png")


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", _draw)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
