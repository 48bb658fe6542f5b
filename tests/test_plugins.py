"""Plugins are real installed distributions: a .dist-info with entry_points.txt on sys.path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ENTRY_POINTS = """\
[pbgml.plugins]
loss.plug_focal = fakeplug.losses:FocalLoss
model.tiny = fakeplug.models:tiny_model
loss.broken = fakeplug.missing_module:Nope
bogus.thing = fakeplug.losses:FocalLoss
fakeplug_all = fakeplug.bulk:register
"""


def _make_distribution(root: Path, marker: Path) -> None:
    pkg = root / "fakeplug"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "losses.py").write_text(
        textwrap.dedent(
            f"""
            import pathlib, torch
            pathlib.Path({str(marker)!r}).write_text("imported")

            class FocalLoss(torch.nn.Module):
                '''Focal loss from a plugin.'''
                def __init__(self, gamma: float = 2.0) -> None:
                    super().__init__()
                    self.gamma = gamma
            """
        )
    )
    (pkg / "models.py").write_text(
        "import torch\ndef tiny_model(width: int = 3):\n    return torch.nn.Linear(width, 1)\n"
    )
    (pkg / "bulk.py").write_text(
        textwrap.dedent(
            """
            import torch
            def register():
                from pbgml import registry
                registry.metric.register(torch.nn.functional.l1_loss, name="bulk_l1")
            """
        )
    )
    info = root / "fakeplug-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeplug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)


def _run(root: Path, code: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), *sys.path])}
    script = "import json, warnings\nwarnings.simplefilter('always')\n" + textwrap.dedent(code)
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture
def plugin_root(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "site"
    root.mkdir()
    marker = tmp_path / "imported.txt"
    _make_distribution(root, marker)
    return root, marker


def test_lazy_entries_are_listed_without_import(plugin_root: tuple[Path, Path]) -> None:
    root, marker = plugin_root
    result = _run(
        root,
        """
        with warnings.catch_warnings(record=True) as caught:
            from pbgml import registry
            names = registry.loss.names("plug_focal")
            present = "plug_focal" in registry.loss
            models = registry.model.names()
        print(json.dumps({"names": names, "present": present, "models": models,
                          "warnings": [str(w.message) for w in caught]}))
        """,
    )
    assert result["names"] == ["plug_focal"]
    assert result["present"] is True
    assert "tiny" in result["models"]  # type: ignore[operator]
    assert not marker.exists(), "listing a plugin must not import it"


def test_lazy_entry_imports_when_used(plugin_root: tuple[Path, Path]) -> None:
    root, marker = plugin_root
    result = _run(
        root,
        """
        from pbgml import registry
        loss = registry.loss.build("plug_focal", gamma=3.0)
        entry = registry.loss.entry("plug_focal")
        model = registry.model.build("tiny", width=5)
        print(json.dumps({"gamma": loss.gamma, "doc": entry.doc, "origin": entry.origin,
                          "registered_at": entry.registered_at,
                          "in_features": model.in_features}))
        """,
    )
    assert marker.read_text() == "imported"
    assert result == {
        "gamma": 3.0,
        "doc": "Focal loss from a plugin.",
        "origin": "fakeplug.losses.FocalLoss",
        "registered_at": "plugin fakeplug",
        "in_features": 5,
    }


def test_broken_plugins_warn_and_do_not_break_unrelated(plugin_root: tuple[Path, Path]) -> None:
    root, _ = plugin_root
    result = _run(
        root,
        """
        import pbgml
        with warnings.catch_warnings(record=True) as caught:
            sgd = pbgml.registry.optimizer.get("sgd").__name__
        try:
            pbgml.registry.loss.get("broken")
        except pbgml.RegistryError as err:
            broken = str(err)
        print(json.dumps({"sgd": sgd, "broken": broken,
                          "bulk": "bulk_l1" in pbgml.registry.metric,
                          "warnings": [(w.category.__name__, str(w.message)) for w in caught]}))
        """,
    )
    assert result["sgd"] == "SGD"
    assert result["bulk"] is True  # the eager form registered its component
    warnings_ = result["warnings"]
    assert isinstance(warnings_, list)
    assert len(warnings_) == 1
    category, message = warnings_[0]
    assert category == "PluginWarning"
    assert "'fakeplug'" in message
    assert "bogus.thing" in message
    assert "unknown group 'bogus'" in message
    broken = result["broken"]
    assert isinstance(broken, str)
    assert "plugin 'fakeplug'" in broken
    assert "fakeplug.missing_module" in broken
    assert "ModuleNotFoundError" in broken


def test_failing_eager_plugin_warns_with_its_name(tmp_path: Path) -> None:
    root = tmp_path / "site"
    (root / "badplug-1.0.dist-info").mkdir(parents=True)
    (root / "badplug-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: badplug\nVersion: 1.0\n"
    )
    (root / "badplug-1.0.dist-info" / "entry_points.txt").write_text(
        "[pbgml.plugins]\nbadplug = badplug_mod:register\n"
    )
    (root / "badplug_mod.py").write_text("raise RuntimeError('boom at import')\n")
    result = _run(
        root,
        """
        with warnings.catch_warnings(record=True) as caught:
            import pbgml
            n = len(pbgml.registry.optimizer.names())
        print(json.dumps({"n": n, "warnings": [str(w.message) for w in caught]}))
        """,
    )
    assert isinstance(result["n"], int)
    assert result["n"] > 10
    assert result["warnings"] == [
        "pbgml plugin 'badplug' (entry point 'badplug = badplug_mod:register') was skipped: "
        "RuntimeError: boom at import"
    ]
