"""Typed configs for pbgml.nn: layers and models."""

from __future__ import annotations

__all__: list[str] = []
