"""Typed configs for losses, optimizer extras, schedulers and metrics."""

from __future__ import annotations

__all__: list[str] = []
