"""pbgml and Hydra: the ConfigStore bridge and the packaged presets.

:func:`store_registries` puts every registry entry in Hydra's ConfigStore, one
config group per experiment field (``optimizer``, ``metrics``, ``callbacks``, ...),
plus the primary config ``pbgml``; :func:`presets` lists the YAML experiments
shipped with pbgml. The functions that check, build and write configs are at the
top level: :func:`pbgml.check`, :func:`pbgml.instantiate`, :func:`pbgml.load_yaml`,
:func:`pbgml.to_yaml`.

Examples
--------
>>> from pbgml.hydra import store_registries
>>> store = store_registries()
>>> {"optimizer", "loss", "trainer", "metrics"} <= set(store.groups)
True
"""

from __future__ import annotations

from pbgml._config._presets import presets
from pbgml._config._store import PRIMARY_CONFIG, store_registries

__all__ = ["PRIMARY_CONFIG", "presets", "store_registries"]
