"""``pbgml train`` for real, in subprocesses, against a user project (conf/ and --import)."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from tests.cli.conftest import TINY, finish, start, train

IMPORT = ["--import", "my_project.components"]
JOBLIB = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]


@pytest.fixture(scope="module")
def runs(project: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    """The reference run, a 2-job joblib multirun, a 3-trial Optuna sweep (basic launcher)."""
    launched = {
        "reference": start(project, [*IMPORT, "experiment=my_exp", *TINY], console_script=True),
        "multirun": start(  # joblib: the jobs run in worker processes
            project,
            [*IMPORT, "-m", "experiment=my_exp", *TINY, "optimizer.lr=0.001,0.1", *JOBLIB],
        ),
        "optuna": start(
            project,
            [
                "hparams_search=digits_optuna",
                "hydra.sweeper.n_trials=3",
                *TINY,
                "callbacks=[model_checkpoint]",
                "hydra.sweeper.sampler.n_startup_trials=3",
            ],
            PYTHONWARNINGS="error",  # the SQLAlchemy warning of optuna 2.10 is handled
        ),
    }
    return {name: finish(process) for name, process in launched.items()}


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.read_text().splitlines()))


def _run_dirs(project: Path, name: str) -> list[Path]:
    return sorted(p for p in (project / "outputs" / name).iterdir() if p.is_dir())


def test_a_run_writes_everything_into_hydras_output_folder(project: Path, runs: dict) -> None:
    done = runs["reference"]
    assert done.returncode == 0, done.stderr
    (run_dir,) = _run_dirs(project, "my_exp")
    for name in ("config.yaml", "metrics.json", "train.log", ".hydra/config.yaml"):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert (run_dir / "logs" / "metrics.csv").is_file()
    saved = OmegaConf.load(run_dir / "config.yaml")
    assert saved.model._target_ == "my_project.components.TinyNet"  # the user's component
    assert saved.optimizer.lr == 0.05
    assert saved.optimizer.momentum == 0.5  # the user's option
    assert list(saved.callbacks) == ["model_checkpoint"]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert 0.0 <= metrics["val/acc"] <= 1.0
    assert f"val/acc = {metrics['val/acc']:.6g}" in done.stdout  # the task's objective
    assert str(run_dir) in done.stdout


def test_multirun_runs_each_value_and_writes_a_summary(runs: dict, project: Path) -> None:
    done = runs["multirun"]
    assert done.returncode == 0, done.stderr
    (sweep,) = (project / "multirun" / "my_exp").iterdir()
    rows = _rows(sweep / "summary.csv")
    assert [row["optimizer.lr"] for row in rows] == ["0.001", "0.1"]
    for job, row in zip(("0", "1"), rows, strict=True):
        metrics = json.loads((sweep / job / "metrics.json").read_text())
        assert float(row["val/acc"]) == pytest.approx(metrics["val/acc"])
        assert OmegaConf.load(sweep / job / "config.yaml").optimizer.lr == float(
            row["optimizer.lr"]
        )
    assert "best: job" in done.stdout
    assert "sweep summary (2 jobs, maximize val/acc)" in done.stdout


def test_optuna_sweep_maximizes_the_runs_objective(runs: dict, project: Path) -> None:
    done = runs["optuna"]
    assert done.returncode == 0, done.stderr
    (sweep,) = (project / "multirun" / "digits_mlp").iterdir()
    rows = _rows(sweep / "summary.csv")
    assert len(rows) == 3
    values = [float(row["val/acc"]) for row in rows]
    results = OmegaConf.load(sweep / "optimization_results.yaml")
    assert results.best_value == pytest.approx(max(values))  # Optuna saw each run's val/acc
    assert {"optimizer.lr", "model.hidden"} <= set(rows[0])  # batch_size: fixed by TINY


def test_resume_continues_the_run_in_its_folder(project: Path, runs: dict) -> None:
    assert runs["reference"].returncode == 0
    (run_dir,) = _run_dirs(project, "my_exp")
    config_before = (run_dir / "config.yaml").read_text()
    done = train(project, [*IMPORT, f"resume={run_dir}", "trainer.max_epochs=2"])
    assert done.returncode == 0, done.stderr
    assert _run_dirs(project, "my_exp") == [run_dir]  # no new folder
    assert (run_dir / "config.yaml").read_text() == config_before
    epochs = {row["epoch"] for row in _rows(run_dir / "logs" / "metrics.csv")}
    assert {"0", "1"} <= epochs
    assert any(p.name.startswith("epoch=001") for p in (run_dir / "checkpoints").iterdir())


USER_APP = """
import hydra
from hydra.utils import instantiate

import pbgml.hydra  # the pbgml:// config source


@hydra.main(version_base="1.3", config_path="app_conf", config_name="config")
def app(cfg):
    model = instantiate(cfg.model, in_features=4, out_features=2)
    print("built", type(model).__name__, cfg.optimizer._target_.rpartition(".")[2], cfg.optimizer.lr)


if __name__ == "__main__":
    app()
"""


def test_a_users_own_hydra_app_composes_pbgmls_groups(project: Path) -> None:
    import sys

    (project / "app_conf").mkdir()
    (project / "app_conf" / "config.yaml").write_text(
        "defaults:\n  - _self_\n  - model: mlp\n  - optimizer: adamw\n"
        "hydra:\n  searchpath:\n    - pbgml://\n"
    )
    (project / "app.py").write_text(USER_APP)
    done = subprocess.run(
        [sys.executable, "app.py", "-m", "optimizer=sgd", "optimizer.lr=0.01,0.1"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "built MLP SGD 0.01" in done.stdout
    assert "built MLP SGD 0.1" in done.stdout
