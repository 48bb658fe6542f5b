"""The bridges from pbgml's registries to Hydra: a lazy config source and the ConfigStore.

:class:`RegistrySource` (scheme ``pbgml://``) answers Hydra's questions about the
experiment's groups from the registries on demand: listing a group reads names only,
and only the options a run selects are converted (``config_for`` then
``OmegaConf.structured``). :func:`store_registries` is the eager alternative (every
entry in the ConfigStore, ~0.5 s), kept for apps that want the ConfigStore itself.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from hydra.core.object_type import ObjectType
from hydra.plugins.config_source import ConfigLoadError, ConfigResult, ConfigSource

if TYPE_CHECKING:
    from hydra_zen import ZenStore

__all__ = ["PRIMARY_CONFIG", "SCHEME", "RegistrySource", "register_source", "store_registries"]

#: The config source's scheme: ``pbgml://`` in a Hydra search path.
SCHEME = "pbgml"
#: Modules of the user's components, comma-separated, that the source imports before it
#: answers (``pbgml train --import`` sets it, so that jobs a launcher runs in other
#: processes find the same options). Set by the command line, never read from a config.
IMPORTS_ENV = "PBGML_IMPORTS"
_imported: set[str] = set()


def import_requested() -> None:
    """Import the modules named in ``PBGML_IMPORTS`` (once per process)."""
    import importlib
    import os

    for module in filter(None, os.environ.get(IMPORTS_ENV, "").split(",")):
        if module not in _imported:
            importlib.import_module(module.strip())
            _imported.add(module)


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
    ``optimizer=adamw`` composes; an entry of a collection group (``metrics``,
    ``callbacks``, ``logger``) is packaged at ``<group>.<name>`` (aliases are not options: each stored node
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
    >>> cfg.optimizer._target_.rpartition(".")[2], cfg.optimizer.lr, cfg.loss._target_
    ('SGD', 0.1, 'pbgml.losses.CrossEntropyLoss')
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
        spec = GROUPS[group]
        option_group = spec.key or group
        for name in reg.names():
            # a collection's entry is packaged at <group>.<name>: callbacks=[a,b] adds both
            package = f"{option_group}.{name}" if spec.collection and spec.key else None
            as_is(config_for(group, name), group=option_group, name=name, package=package)
    from omegaconf import OmegaConf

    # the default task as a plain node: a typed default would pin the field to
    # ClassificationTaskConf, and task=regression could not replace it
    from pbgml.configs._experiment import _default_task

    task = OmegaConf.to_container(OmegaConf.structured(_default_task()))
    primary = make_config(
        defaults=defaults(),
        model=MISSING,
        loss=MISSING,
        optimizer=MISSING,
        data=MISSING,
        task=task,
        bases=(configs.ExperimentConf,),
    )
    store(primary, name=PRIMARY_CONFIG)
    if to_hydra:
        store.add_to_hydra_store(overwrite_ok=True)
    return store


def _group_specs() -> dict[str, Any]:
    from pbgml._groups import by_key

    return by_key()


def _split(config_path: str) -> tuple[str, str]:
    path = config_path.strip("/")
    if path.endswith(".yaml"):
        path = path[: -len(".yaml")]
    group, _, name = path.rpartition("/")
    return group, name


def _in_config_store(group: str, name: str) -> bool:
    from hydra.core.config_store import ConfigStore

    return ConfigStore.instance().get_type(f"{group}/{name}.yaml") == ObjectType.CONFIG


class RegistrySource(ConfigSource):
    """A Hydra config source over pbgml's registries: ``pbgml://`` in a search path.

    Its groups are the experiment's fields that a registry fills (``model``, ``loss``,
    ``optimizer``, ``scheduler``, ``metrics``, ``data``, ``task``, ``trainer``,
    ``callbacks``, ``logger``) and its options the registries' names (canonical names
    and aliases). Nothing is converted until Hydra loads an option: then only that
    entry's config (:func:`pbgml.configs.config_for`) becomes a structured config. An
    option of a collection group (``callbacks``, ``logger``, ``metrics``) is packaged
    at ``<group>.<name>``, so ``callbacks=[default,early_stopping]`` adds one entry.

    Examples
    --------
    >>> from pbgml._config._store import RegistrySource
    >>> source = RegistrySource(provider="pbgml", path="pbgml://")
    >>> source.is_group("optimizer"), "sgd" in source.list("optimizer", None)
    (True, True)
    >>> result = source.load_config("callbacks/early_stopping")
    >>> result.header["package"], result.config.monitor
    ('callbacks.early_stopping', 'val/loss')
    """

    def __init__(self, provider: str, path: str) -> None:
        super().__init__(provider=provider, path=path)

    @staticmethod
    def scheme() -> str:
        """The scheme of this source's search-path entries: ``pbgml``."""
        return SCHEME

    def available(self) -> bool:
        """Always available: the registries are part of pbgml."""
        return True

    def _registry(self, group: str) -> Any:
        spec = _group_specs().get(group)
        if spec is None:
            return None
        from pbgml import registry

        import_requested()
        return registry.groups()[spec.name]

    def is_group(self, config_path: str) -> bool:
        """True for the root and for each experiment field a registry fills."""
        path = config_path.strip("/")
        return path == "" or path in _group_specs()

    def is_config(self, config_path: str) -> bool:
        """True for ``group/name`` when ``name`` is registered in that group."""
        group, name = _split(config_path)
        if not name or name == "None" or group not in _group_specs():
            return False  # "None": Hydra asking about a null default (metrics: null)
        if _in_config_store(group, name):
            return False  # stored there (store_registries): the ConfigStore answers
        return name in self._registry(group)

    def exists(self, config_path: str) -> bool:
        """A group or an option of this source."""
        return self.is_group(config_path) or self.is_config(config_path)

    def list(self, config_path: str, results_filter: ObjectType | None) -> list[str]:
        """The groups (at the root) or a group's option names (canonical names only)."""
        path = config_path.strip("/")
        if path == "":
            if results_filter in (None, ObjectType.GROUP):
                return sorted(_group_specs())
            return []
        if path not in _group_specs() or results_filter not in (None, ObjectType.CONFIG):
            return []
        return sorted(self._registry(path).names())

    def load_config(self, config_path: str) -> ConfigResult:
        """The option's structured config (only this one is converted)."""
        from omegaconf import OmegaConf

        from pbgml.configs import config_for

        group, name = _split(config_path)
        spec = _group_specs().get(group)
        if spec is None or name not in self._registry(group):
            raise ConfigLoadError(f"Config not found : {config_path}")
        node = OmegaConf.structured(config_for(spec.name, name))
        package = f"{group}.{name}" if spec.collection else None
        return ConfigResult(
            config=node,
            path=f"{SCHEME}://{self.path}",
            provider=self.provider,
            header={"package": package},
            is_schema_source=True,  # typed already: no ConfigStore schema matching
        )


def register_source() -> None:
    """Make the ``pbgml://`` scheme known to Hydra (idempotent; adds no group anywhere).

    A search path names ``pbgml://`` to offer the registries' options to an app;
    ``pbgml train`` and :func:`pbgml.compose` do, and so does the packaged primary
    config (``pkg://pbgml.conf``, config ``train``) through ``hydra.searchpath``.

    Examples
    --------
    >>> from pbgml._config._store import register_source
    >>> register_source()
    >>> from hydra._internal.sources_registry import SourcesRegistry
    >>> SourcesRegistry.instance().resolve("pbgml").__name__
    'RegistrySource'
    """
    from hydra._internal.sources_registry import SourcesRegistry

    SourcesRegistry.instance().register(RegistrySource)


register_source()
