"""The bridge from pbgml's registries to Hydra's ConfigStore (through hydra-zen)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hydra_zen import ZenStore

__all__ = ["PRIMARY_CONFIG", "store_registries"]

#: The name of the primary config in Hydra's ConfigStore: ``config_name="pbgml"``.
PRIMARY_CONFIG = "pbgml"


def defaults() -> list[Any]:
    """What the primary config selects: each single-node group's default from the table
    (``None`` is "nothing yet, overridable")."""
    from pbgml._groups import by_key

    out: list[Any] = ["_self_"]
    out += [{key: spec.default} for key, spec in by_key().items() if not spec.collection]
    return out


def _as_is(conf: Any) -> Any:
    return conf


def store_registries(*, to_hydra: bool = True) -> ZenStore:
    """Put every registry entry, the trainer presets and the primary config in a store.

    Each entry's config (explicit or generated) goes under the experiment field its
    group fills (``optimizer``, ``metrics``, ``callbacks``; groups that fill no field,
    such as ``layer``, under their own name) and its canonical name, so
    ``optimizer=adamw`` composes (aliases are not options: each stored node
    costs Hydra ~2 ms to convert, and start-up time matters more than spelling). The
    primary config ``pbgml`` is :class:`~pbgml.configs.ExperimentConf` with a defaults
    list (loss ``cross_entropy``, optimizer ``adamw``, trainer ``default``). YAML files
    of the user's own in a config directory sit beside these options: Hydra searches
    both.

    Parameters
    ----------
    to_hydra
        Also add the store's entries to Hydra's global ``ConfigStore``.

    Returns
    -------
    hydra_zen.ZenStore
        The store, for inspection or to add elsewhere.

    Examples
    --------
    >>> from hydra import compose, initialize
    >>> from pbgml.hydra import store_registries
    >>> _ = store_registries()
    >>> with initialize(version_base=None):
    ...     cfg = compose("pbgml", overrides=["optimizer=sgd", "optimizer.lr=0.1"])
    >>> cfg.optimizer._target_, cfg.optimizer.lr, cfg.loss._target_
    ('torch.optim.SGD', 0.1, 'pbgml.losses.CrossEntropyLoss')
    """
    from hydra_zen import MISSING, ZenStore, make_config

    from pbgml import configs, registry
    from pbgml._groups import GROUPS
    from pbgml.configs import config_for

    store = ZenStore(name="pbgml", deferred_to_config=False, overwrite_ok=True)
    # configs are stored as they are: hydra-zen would otherwise wrap a dataclass with
    # required keyword-only fields in a builds() of its own
    as_is = functools.partial(store, to_config=_as_is)
    for group, reg in registry.groups().items():
        option_group = GROUPS[group].key or group
        for name in reg.names():
            as_is(config_for(group, name), group=option_group, name=name)
    primary = make_config(
        defaults=defaults(),
        model=MISSING,
        loss=MISSING,
        optimizer=MISSING,
        data=MISSING,
        bases=(configs.ExperimentConf,),
    )
    store(primary, name=PRIMARY_CONFIG)
    if to_hydra:
        store.add_to_hydra_store(overwrite_ok=True)
    return store
