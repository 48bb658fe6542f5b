"""The loader settings are defined once and every factory and data config agrees with it."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from typing import Any

import pytest

import pbgml
from pbgml import configs
from pbgml.configs._data import _DataModuleConf
from pbgml.data import DataModule, _factories
from pbgml.data._settings import (
    LOADER_SETTINGS,
    LoaderKwargs,
    LoaderSettings,
    loader_parameters,
    takes_loader_settings,
)

FACTORIES: dict[str, Any] = {name: getattr(_factories, name) for name in _factories.__all__}
CONFIGS: dict[str, type[_DataModuleConf]] = {
    conf.__dataclass_fields__["_target_"].default.removeprefix("pbgml.data."): conf
    for conf in vars(configs).values()
    if isinstance(conf, type) and issubclass(conf, _DataModuleConf) and conf is not _DataModuleConf
}
NON_DEFAULT = {
    "seed": 3,
    "batch_size": 7,
    "eval_batch_size": 5,
    "num_workers": 1,
    "pin_memory": False,
    "persistent_workers": True,
    "drop_last": True,
    "shuffle": False,
}
DEFAULTS = {f.name: f.default for f in dataclasses.fields(LoaderSettings)}
HINTS = typing.get_type_hints(LoaderSettings)


def _defaults(params: dict[str, inspect.Parameter]) -> dict[str, object]:
    return {name: params[name].default for name in LOADER_SETTINGS}


def test_the_settings_are_the_datamodules_keyword_parameters() -> None:
    params = inspect.signature(DataModule).parameters
    hints = typing.get_type_hints(DataModule.__init__)
    assert list(LOADER_SETTINGS) == [n for n in params if n in DEFAULTS]
    assert _defaults(dict(params)) == DEFAULTS
    assert {n: hints[n] for n in LOADER_SETTINGS} == HINTS
    assert typing.get_type_hints(LoaderKwargs) == HINTS
    assert list(LoaderKwargs.__annotations__) == list(LOADER_SETTINGS)
    assert set(NON_DEFAULT) == set(LOADER_SETTINGS)


def test_every_factory_has_a_typed_config_and_back() -> None:
    assert sorted(CONFIGS) == sorted(FACTORIES)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_every_factory_signature_lists_every_setting(name: str) -> None:
    params = dict(inspect.signature(FACTORIES[name]).parameters)
    kinds = {p.kind for p in params.values()}
    assert inspect.Parameter.VAR_KEYWORD not in kinds  # unknown keys stay detectable
    assert list(params)[-len(LOADER_SETTINGS) :] == list(LOADER_SETTINGS)
    for setting in LOADER_SETTINGS:
        assert params[setting].kind is inspect.Parameter.KEYWORD_ONLY
    assert _defaults(params) == DEFAULTS
    hints = typing.get_type_hints(FACTORIES[name])
    assert {n: hints[n] for n in LOADER_SETTINGS} == HINTS


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_factory_and_config_agree_on_every_name_type_and_default(name: str) -> None:
    params = inspect.signature(FACTORIES[name]).parameters
    fields = {f.name: f for f in dataclasses.fields(CONFIGS[name]) if f.init}
    assert list(fields)[: len(LOADER_SETTINGS)] == list(LOADER_SETTINGS)
    assert sorted(fields) == sorted(params)
    for param in params.values():
        field = fields[param.name]
        default = inspect.Parameter.empty if field.default is dataclasses.MISSING else field.default
        assert default == param.default, param.name
    conf_hints = typing.get_type_hints(CONFIGS[name])
    assert {n: conf_hints[n] for n in LOADER_SETTINGS} == HINTS


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_docstring_names_the_settings_in_order(name: str) -> None:
    doc = inspect.getdoc(FACTORIES[name]) or ""
    if "Parameters\n---" in doc:
        assert ", ".join(LOADER_SETTINGS) in doc.splitlines()


def test_every_setting_reaches_the_datamodule() -> None:
    dm = pbgml.data.synthetic_classification(num_samples=100, **NON_DEFAULT)
    assert {name: getattr(dm, name) for name in LOADER_SETTINGS} == NON_DEFAULT
    default = pbgml.data.synthetic_classification(num_samples=100)
    assert default.batch_size == DEFAULTS["batch_size"]
    assert default.eval_batch_size == DEFAULTS["batch_size"]  # None: same as batch_size


def test_the_seed_setting_also_seeds_the_factorys_own_work() -> None:
    one = pbgml.data.synthetic_classification(num_samples=50, seed=1)
    two = pbgml.data.synthetic_classification(num_samples=50, seed=2)
    assert one.test_dataset.indices != two.test_dataset.indices


def test_positional_and_own_keywords_still_work() -> None:
    dm = pbgml.data.synthetic_regression(30, 2, batch_size=4, test_split=None)
    assert dm.sample_shape == (2,)
    assert dm.batch_size == 4


def test_unknown_keyword_is_a_type_error_with_a_suggestion() -> None:
    with pytest.raises(
        TypeError, match=r"digits\(\) got an unexpected keyword argument 'batch_sise'"
    ):
        pbgml.data.digits(batch_sise=4)
    with pytest.raises(TypeError, match="Did you mean 'batch_size'"):
        pbgml.data.digits(batch_sise=4)


def test_check_sees_every_setting() -> None:
    with pytest.raises(pbgml.ConfigError) as info:
        pbgml.check({"_target_": "pbgml.data.digits", "batch_sise": 4})
    assert "batch_sise: unknown key for pbgml.data.digits; did you mean 'batch_size'?" in str(
        info.value
    )
    with pytest.raises(pbgml.ConfigError, match="batch_size: expected int, got 'x'"):
        pbgml.check({"_target_": "pbgml.data.digits", "batch_size": "x"})
    with pytest.raises(pbgml.ConfigError, match="eval_batch_size: expected int or None"):
        pbgml.check({"_target_": "pbgml.data.cifar10", "eval_batch_size": "x"})
    pbgml.check({"_target_": "pbgml.data.digits", **NON_DEFAULT})


def test_the_decorator_refuses_factories_it_cannot_complete() -> None:
    def no_kwargs(root: str) -> None: ...

    def shadows(seed: int = 0, **loader: Any) -> None: ...

    with pytest.raises(TypeError, match="must end with"):
        takes_loader_settings(no_kwargs)
    with pytest.raises(TypeError, match=r"declares loader settings itself: \['seed'\]"):
        takes_loader_settings(shadows)


def test_loader_parameters_are_keyword_only_with_defaults() -> None:
    params = loader_parameters()
    assert [p.name for p in params] == list(LOADER_SETTINGS)
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params)
    assert {p.name: p.default for p in params} == DEFAULTS
