"""The README's Python tour runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pbgml

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(capsys: object) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert blocks, "the README lost its Python example"
    try:
        exec(compile(blocks[0], str(README), "exec"), {"__name__": "readme"})
        assert "my_loss" in pbgml.registry.loss
    finally:
        if "my_loss" in pbgml.registry.loss:
            pbgml.registry.loss.unregister("my_loss")
