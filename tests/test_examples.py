"""The scripts in examples/ run, end to end, on this machine's CPU."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_digits_mlp_example_trains(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "digits_mlp.py"), "--epochs", "3", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert "_target_: pbgml.nn.MLP" in out  # the YAML of the composed config
    assert "Total params: 19,210" in out  # the model summary at the start of fit
    assert "best checkpoint: " + str(tmp_path) in out
    match = re.search(r"test accuracy: ([0-9.]+)", out)
    assert match is not None, out
    assert float(match.group(1)) > 0.8
