"""Config machinery: checking, safe instantiation, YAML, generated configs, Hydra store.

Examples
--------
>>> from pbgml.config import store_registries
>>> store = store_registries()
>>> {"optimizer", "loss", "trainer"} <= set(store.groups)
True
"""

from __future__ import annotations

from pbgml.config._check import check
from pbgml.config._generate import config_from_signature
from pbgml.config._instantiate import instantiate
from pbgml.config._presets import presets
from pbgml.config._store import PRIMARY_CONFIG, store_registries
from pbgml.config._yaml import load_yaml, to_yaml

__all__ = [
    "PRIMARY_CONFIG",
    "check",
    "config_from_signature",
    "instantiate",
    "load_yaml",
    "presets",
    "store_registries",
    "to_yaml",
]
