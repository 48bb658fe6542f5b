"""pbgml and Hydra: the lazy config source, composition, the ConfigStore bridge, the presets.

``pbgml train`` is a Hydra app whose config groups are the experiment's fields. Its
search path holds the user's configs first (``conf/`` or ``--config-dir``), then the
packaged presets (``pbgml/conf``: the primary config ``train`` and the ``experiment``,
``trainer``, ``callbacks``, ``logger`` and ``hparams_search`` presets), then the
registries, offered through :class:`RegistrySource` (``pbgml://``), which converts only
the options a run selects. :func:`compose` builds the same tree in Python.
:func:`register_source` makes ``pbgml://`` usable in a user's own Hydra app
(``hydra.searchpath: [pbgml://]``); importing this module does it.
:func:`store_registries` is the eager alternative that puts every entry in Hydra's
ConfigStore; :func:`presets` lists the packaged presets. The functions that check,
build and write configs are at the top level: :func:`pbgml.check`,
:func:`pbgml.instantiate`, :func:`pbgml.load_yaml`, :func:`pbgml.to_yaml`.

Examples
--------
>>> from pbgml.hydra import compose
>>> cfg = compose(["optimizer=sgd", "optimizer.lr=0.1"], experiment="digits_mlp")
>>> cfg.optimizer.lr, cfg.name
(0.1, 'digits_mlp')
>>> from pbgml.hydra import store_registries
>>> store = store_registries()
>>> {"optimizer", "loss", "trainer", "metrics"} <= set(store.groups)
True
"""

from __future__ import annotations

from pbgml._config._compose import compose
from pbgml._config._presets import presets
from pbgml._config._store import (
    PRIMARY_CONFIG,
    RegistrySource,
    register_source,
    store_registries,
)

__all__ = [
    "PRIMARY_CONFIG",
    "RegistrySource",
    "compose",
    "presets",
    "register_source",
    "store_registries",
]
