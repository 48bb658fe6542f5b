"""The README's Python tour runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import pbgml

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # the run writes outputs/ in the working directory
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert blocks, "the README lost its Python example"
    try:
        exec(compile(blocks[0], str(README), "exec"), {"__name__": "readme"})
        assert "my_loss" in pbgml.registry.loss
        runs = list((tmp_path / "outputs" / "run").iterdir())
        assert len(runs) == 1
        assert (runs[0] / "metrics.json").is_file()
        assert (runs[0] / "checkpoints" / "last.ckpt").is_file()
    finally:
        if "my_loss" in pbgml.registry.loss:
            pbgml.registry.loss.unregister("my_loss")


def test_ci_runs_the_readmes_two_commands_as_written() -> None:
    """The set-up command (ending with a first training run) and the test command."""
    text = README.read_text(encoding="utf-8")
    bash = re.findall(r"```bash\n(.*?)```", text, re.S)
    setup = next(b.strip() for b in bash if "python3 -m venv .venv" in b)
    assert setup.endswith("&& .venv/bin/pbgml train experiment=digits_mlp")
    test = next(b.strip() for b in bash if "-m pytest" in b)
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert setup in ci
    assert test in ci
