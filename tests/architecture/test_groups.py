"""The table of groups is the one source: registries, check, store and ExperimentConf agree."""

from __future__ import annotations

import dataclasses
import typing

import pytest

import pbgml
from pbgml import registry
from pbgml._config._check import _COLLECTION_GROUPS, GROUP_KEYS
from pbgml._config._store import defaults
from pbgml._groups import GROUPS, by_key
from pbgml._names import public_path
from pbgml.configs import ExperimentConf, config_for, typed_config_for
from pbgml.configs._groups import BASES


def test_every_group_has_a_base_config_class_and_no_more() -> None:
    assert set(BASES) == set(GROUPS)


def test_registries_are_the_table() -> None:
    regs = registry.groups()
    assert list(regs) == list(GROUPS)
    for name, spec in GROUPS.items():
        reg = regs[name]
        assert getattr(registry, name) is reg
        assert (reg.partial, reg.exclude, reg.meta, reg.finalize, reg.homes) == (
            spec.partial,
            spec.later,
            dict(spec.meta),
            spec.finalize,
            spec.homes,
        )


@pytest.mark.parametrize("group", list(GROUPS))
def test_typed_configs_of_a_group_derive_from_its_base(group: str) -> None:
    reg = registry.groups()[group]
    for name in reg.names():
        typed = typed_config_for(public_path(reg.get(name)))
        if typed is not None:
            assert issubclass(typed, BASES[group]), (group, name, typed)
            assert config_for(group, name) is typed


def test_check_groups_come_from_the_table() -> None:
    assert {spec.key: spec.name for spec in GROUPS.values() if spec.key} == GROUP_KEYS
    assert {spec.key for spec in GROUPS.values() if spec.collection} == _COLLECTION_GROUPS


def test_experiment_fields_are_the_table_keys() -> None:
    fields = {f.name: f for f in dataclasses.fields(ExperimentConf)}
    for key, spec in by_key().items():
        assert key in fields, key
        field = fields[key]
        has_default = field.default is not dataclasses.MISSING or (
            field.default_factory is not dataclasses.MISSING
        )
        assert has_default is not spec.required, key
        if spec.collection:  # a named collection, or None for none / the task's own
            hint = typing.get_type_hints(ExperimentConf)[key]
            assert dict[str, typing.Any] in typing.get_args(hint), key


@pytest.mark.parametrize("key", [k for k, s in by_key().items() if not s.collection])
def test_experiment_defaults_are_the_table_defaults(key: str) -> None:
    spec = by_key()[key]
    field = {f.name: f for f in dataclasses.fields(ExperimentConf)}[key]
    if spec.required:
        return
    value = (
        field.default_factory()
        if field.default_factory is not dataclasses.MISSING
        else field.default
    )  # type: ignore[misc]
    if spec.default is None:
        assert value is None, key
        return
    target = registry.groups()[spec.name].get(spec.default)
    assert value._target_ == public_path(target), key


def test_hydra_defaults_are_the_table_defaults() -> None:
    chosen = {k: v for item in defaults() if isinstance(item, dict) for k, v in item.items()}
    for key, spec in by_key().items():
        if not spec.collection:
            assert chosen[key] == spec.default, key


def test_adding_a_group_is_one_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new row gives a registry that loads its loaders lazily, with the row's settings."""
    from pbgml._groups import GroupSpec
    from pbgml.registry import _make

    spec = GroupSpec("sampler", "sampler", loaders=("pbgml._torch_catalog:torch_optimizers",))
    reg = _make(spec)
    assert not reg.loaded
    assert "sgd" in reg
    assert reg.loaded
    assert pbgml.Registry is type(reg)
