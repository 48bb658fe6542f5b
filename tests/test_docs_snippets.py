"""The example files the docs include (``examples/docs_snippets/``) run.

mypy checks them too (``examples`` is in mypy's ``files``): ``typed_configs.py``
carries the type errors the docs show, each behind a ``# type: ignore[code]`` that
``warn_unused_ignores`` turns into a failure if the error ever disappears.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SNIPPETS = Path(__file__).resolve().parents[1] / "examples" / "docs_snippets"


def _run(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
        cwd=cwd,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_typed_configs_runs(tmp_path: Path) -> None:
    _run(str(SNIPPETS / "typed_configs.py"), cwd=tmp_path)


def test_hydra_app_composes_from_pbgml_registries(tmp_path: Path) -> None:
    out = _run(
        str(SNIPPETS / "hydra_app.py"),
        "optimizer=sgd",
        "optimizer.lr=0.01",
        f"hydra.run.dir={tmp_path / 'run'}",
        cwd=tmp_path,
    )
    assert out.strip().splitlines()[-1] == "MLP 0.01"
