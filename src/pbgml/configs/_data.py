"""Typed configs for pbgml.data: data modules, datasets and transforms."""

from __future__ import annotations

__all__: list[str] = []
