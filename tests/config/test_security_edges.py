"""Edge cases from an adversarial review: each once let a config do more than allowed,
or crash with a bare traceback."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

import pbgml
from pbgml import ConfigError


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    before = set(sys.modules)
    yield root
    for name in set(sys.modules) - before:
        sys.modules.pop(name, None)


def _kinds(cfg: Any, **kw: Any) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        pbgml.instantiate(cfg, **kw)
    return [(e.key, e.kind) for e in info.value.errors]


def test_module_getattr_hook_never_imports_a_submodule(site: Path, tmp_path: Path) -> None:
    marker = tmp_path / "evil-imported"
    pkg = site / "pbgml_lazypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "import importlib\n"
        "def __getattr__(name):\n"
        "    return importlib.import_module('.' + name, __name__)\n"
    )
    (pkg / "evil.py").write_text(f"import pathlib\npathlib.Path({str(marker)!r}).write_text('x')\n")
    import pbgml_lazypkg  # noqa: F401  - already imported, as a user's own package would be

    assert _kinds({"_target_": "pbgml_lazypkg.evil.x"}) == [("_target_", "not_allowed")]
    assert not marker.exists()


def test_error_message_lookup_never_imports_through_an_alias(site: Path, tmp_path: Path) -> None:
    marker = tmp_path / "helpers-imported"
    pkg = site / "pbgml_aliaspkg"
    (pkg / "helpers").mkdir(parents=True)
    (pkg / "__init__.py").write_text("import email as helpers\n")
    (pkg / "helpers" / "__init__.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('x')\n"
    )
    import pbgml_aliaspkg  # noqa: F401

    (key, kind), *_ = _kinds({"_target_": "pbgml_aliaspkg.helpers.zzz"})
    assert key == "_target_"
    assert kind in ("not_found", "not_allowed")
    assert not marker.exists()


def test_nodes_with_the_same_printed_key_are_told_apart() -> None:
    ref = {"_target_": "hydra_zen.funcs.get_obj", "path": "torch.nn.functional.relu"}
    built = pbgml.instantiate(
        {"a.b": {"_target_": "torch.nn.Identity", "_args_": [[1.0]]}, "a": {"b": ref}}
    )
    assert isinstance(built["a.b"], torch.nn.Identity)
    assert built["a"]["b"] is torch.nn.functional.relu  # a reference: resolved, never called


def test_root_level_args_build() -> None:
    seq = pbgml.instantiate({"_target_": "torch.nn.Sequential", "_args_": [{"_target_": "relu"}]})
    assert isinstance(seq[0], torch.nn.ReLU)


def test_non_string_keys_are_reported() -> None:
    assert _kinds({"_target_": "torch.nn.ReLU", 1: 2}) == [("1", "type")]
    assert _kinds({"x": {True: 1}}) == [("x.True", "type")]


def test_lookups_that_raise_are_reported_not_thrown() -> None:
    (key, kind), *_ = _kinds({"_target_": "torch.classes.ns.foo"})
    assert key == "_target_"
    assert kind in ("not_found", "not_allowed")


def test_malformed_interpolation_and_deep_nesting_are_reported() -> None:
    with pytest.raises(ConfigError):
        pbgml.check({"x": "${foo"})
    deep: Any = {"leaf": 1}
    for _ in range(500):
        deep = {"d": deep}
    with pytest.raises(ConfigError, match="nested deeper"):
        pbgml.check(deep)


def test_yaml_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match="aliases expand to more than"):
        pbgml.check(path)
    small = tmp_path / "anchors.yaml"
    small.write_text("base: &b {lr: 0.1}\nother: *b\n")
    pbgml.check(small)  # ordinary anchors still work
