"""Shared pieces of the ``pbgml train`` tests: a user project and the command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest

#: Settings that make a digits run take a second or two.
TINY = [
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=2",
    "trainer.num_sanity_val_steps=0",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "data.batch_size=32",
]

COMPONENTS = '''
"""The user's own components: a model registered with pbgml under the name tiny_net."""
import torch
from torch import nn

import pbgml


@pbgml.registry.model.register("tiny_net")
class TinyNet(nn.Module):
    """A one-layer classifier of flat inputs."""

    def __init__(self, in_features: int = 64, num_classes: int = 10, scale: float = 1.0) -> None:
        super().__init__()
        self.layer = nn.Linear(in_features, num_classes)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x.flatten(1)) * self.scale
'''

MY_EXP = """\
# @package _global_
defaults:
  - override /model: tiny_net
  - override /data: digits
  - override /optimizer: my_sgd
  - override /callbacks: [model_checkpoint]
  - _self_

model:
  in_features: 64
data:
  num_workers: 0
name: my_exp
optimized_metric: val/acc
"""

MY_SGD = """\
_target_: torch.optim.SGD
_partial_: true
lr: 0.05
momentum: 0.5
"""


def make_project(root: Path) -> Path:
    """A user project: its own package (a registered model) and conf/ folder."""
    package = root / "my_project"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "components.py").write_text(textwrap.dedent(COMPONENTS))
    conf = root / "conf"
    (conf / "experiment").mkdir(parents=True)
    (conf / "optimizer").mkdir()
    (conf / "experiment" / "my_exp.yaml").write_text(MY_EXP)
    (conf / "optimizer" / "my_sgd.yaml").write_text(MY_SGD)
    return root


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One user project per test module."""
    return make_project(tmp_path_factory.mktemp("project"))


def command(console_script: bool = False) -> list[str]:
    """``pbgml`` next to the interpreter, or ``python -m pbgml``."""
    if console_script:
        return [str(Path(sys.executable).with_name("pbgml"))]
    return [sys.executable, "-m", "pbgml"]


def environment(project: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONWARNINGS", "HYDRA_"))}
    env.pop("PBGML_FULL_ERROR", None)
    env["PYTHONPATH"] = str(project)
    env.update(extra)
    return env


def start(
    project: Path, args: Sequence[str], *, console_script: bool = False, **env: str
) -> subprocess.Popen[str]:
    """Start ``pbgml train args`` in the project (returns at once)."""
    return subprocess.Popen(
        [*command(console_script), "train", *args],
        cwd=project,
        env=environment(project, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(
    process: subprocess.Popen[str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    out, err = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def train(project: Path, args: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run ``pbgml train args`` in the project to its end."""
    return finish(start(project, args, **kwargs))  # type: ignore[arg-type]
