"""The scripts in examples/ and the example user project run, end to end, on this CPU.

The user project (``examples/user_project``) is installed for real, with pip, into a
temporary folder (its ``pbgml.plugins`` entry points are read from the installed
``.dist-info``), then trained from Python (:func:`pbgml.run`) and with ``pbgml train
experiment=digits_plus`` from the project's folder, where its ``conf/`` is found.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
        cwd=cwd,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _accuracy(out: str) -> float:
    match = re.search(r"test accuracy: ([0-9.]+)", out)
    assert match is not None, out
    return float(match.group(1))


def test_digits_mlp_example_trains(tmp_path: Path) -> None:
    out = _run(str(EXAMPLES / "digits_mlp.py"), "--epochs", "3", "--out", str(tmp_path))
    assert "_target_: pbgml.nn.MLP" in out  # the YAML of the composed config
    assert "Total params: 19,210" in out  # the model summary at the start of fit
    assert "best checkpoint: " + str(tmp_path) in out
    assert _accuracy(out) > 0.8


def test_yaml_example_trains(tmp_path: Path) -> None:
    out = _run(str(EXAMPLES / "digits_yaml.py"), "--epochs", "2", "--out", str(tmp_path))
    match = re.search(r"run folder: (.+)", out)
    assert match is not None, out
    run_dir = Path(match.group(1))
    assert run_dir.parent == tmp_path / "digits_yaml"
    saved = (run_dir / "config.yaml").read_text(encoding="utf-8")
    assert "label_smoothing: 0.05" in saved  # the YAML's own values were used
    assert "max_epochs: 2" in saved  # and the script's change
    assert _accuracy(out) > 0.8


def test_custom_component_example_trains(tmp_path: Path) -> None:
    out = _run(str(EXAMPLES / "custom_component.py"), "--epochs", "4", "--out", str(tmp_path))
    assert "registered: One hidden layer whose units are gated" in out
    assert "registered: poly1_cross_entropy" in out  # found through its alias
    assert "_target_: poly1_cross_entropy\nepsilon: 0.5\n" in out
    assert _accuracy(out) > 0.6  # 4 classes: chance is 0.25


# -- the example user project -----------------------------------------------------------
_PROJECT_SCRIPT = """
import json, sys
from pbgml import registry

# listed from the installed metadata alone, not imported yet
print("listed:", "residual_mlp" in registry.model.names(), "poly1" in registry.loss.names(),
      "digits_plus.components" in sys.modules)

from digits_plus.train import main  # the Python API: typed configs, pbgml.run
main(["--epochs", "1", "--out", sys.argv[1]])

from pbgml.cli import main as pbgml  # the same code as the pbgml console script
code = pbgml(["train", "experiment=digits_plus", "trainer.max_epochs=1",
              "trainer.enable_progress_bar=false", "hydra.run.dir=" + sys.argv[2]])
print("pbgml train exit code:", code)
"""


@pytest.fixture(scope="module")
def installed_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The user project copied to a temporary folder and pip-installed into another."""
    root = tmp_path_factory.mktemp("user_project")
    project = root / "project"
    shutil.copytree(EXAMPLES / "user_project", project)  # the build writes into it
    site = root / "site"
    _run(
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "--target",
        str(site),
        str(project),
    )
    shutil.rmtree(project / "digits_plus")  # only the installed copy can be imported
    assert (site / "digits_plus-0.1.0.dist-info" / "entry_points.txt").exists()
    return project, site


def test_user_project_installs_and_trains(
    installed_project: tuple[Path, Path], tmp_path: Path
) -> None:
    project, site = installed_project
    env = {**os.environ, "PYTHONPATH": str(site)}
    api_out, cli_out = tmp_path / "api", tmp_path / "cli"
    script = textwrap.dedent(_PROJECT_SCRIPT)
    out = _run("-c", script, str(api_out), str(cli_out), cwd=project, env=env)

    assert "listed: True True False" in out
    assert "model: digits_plus.components.ResidualMLP (plugin digits-plus)" in out
    assert _accuracy(out) > 0.5  # one epoch of ten classes
    (api_run,) = (api_out / "digits_plus").iterdir()
    assert json.loads((api_run / "metrics.json").read_text())["test/acc"] > 0.5

    assert "pbgml train exit code: 0" in out
    saved = (cli_out / "config.yaml").read_text(encoding="utf-8")
    assert "_target_: digits_plus.components.ResidualMLP" in saved  # conf/experiment
    assert "_target_: digits_plus.components.Poly1CrossEntropy" in saved
    assert json.loads((cli_out / "metrics.json").read_text())["val/acc"] > 0.5
    assert list((cli_out / "checkpoints").glob("*.ckpt"))
