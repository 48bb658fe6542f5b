"""Shared fixtures for pbgml's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

# tests/typing/ holds files that mypy checks (with deliberate type errors); never run them
collect_ignore = ["typing"]


@pytest.fixture
def scratch_registry_names() -> Iterator[list[tuple[str, str]]]:
    """Names registered in pbgml's global registries by a test, removed afterwards."""
    from pbgml import registry

    added: list[tuple[str, str]] = []
    yield added
    groups = registry.groups()
    for group, name in added:
        if name in groups[group]:
            groups[group].unregister(name)


@pytest.fixture(autouse=True)
def _fresh_optional_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """A broken optional package warns once per process: once per test here."""
    monkeypatch.setattr("pbgml._optional._warned", set())
