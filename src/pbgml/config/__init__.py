"""Config machinery: generated configs and the bridge from registries to Hydra.

Examples
--------
>>> from pbgml.config import store_registries
>>> store = store_registries()
>>> {"optimizer", "loss", "trainer"} <= set(store.groups)
True
"""

from __future__ import annotations

from pbgml.config._generate import config_from_signature
from pbgml.config._store import PRIMARY_CONFIG, store_registries

__all__ = ["PRIMARY_CONFIG", "config_from_signature", "store_registries"]
