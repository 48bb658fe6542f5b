from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

import pbgml
from pbgml import ConfigError, registry
from pbgml.configs import AdamWConf, ExperimentConf, SGDConf, TrainerConf, config_for

ALL_ENTRIES = [(g, n) for g, reg in registry.groups().items() for n in reg.names()]


@pytest.mark.parametrize(("group", "name"), ALL_ENTRIES, ids=str)
def test_every_registered_config_round_trips(group: str, name: str) -> None:
    conf = config_for(group, name)
    text = pbgml.to_yaml(conf)
    again = pbgml.load_yaml(text)
    assert again == OmegaConf.structured(conf)
    assert pbgml.to_yaml(again) == text


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=60, deadline=None)
@given(lr=finite, b1=finite, b2=finite, wd=finite, amsgrad=st.booleans())
def test_typed_config_values_round_trip(
    lr: float, b1: float, b2: float, wd: float, amsgrad: bool
) -> None:
    cfg = AdamWConf(lr=lr, betas=(b1, b2), weight_decay=wd, amsgrad=amsgrad)
    loaded = pbgml.load_yaml(pbgml.to_yaml(cfg), schema=AdamWConf)
    back = OmegaConf.to_object(loaded)
    assert back.lr == lr or (math.isclose(back.lr, lr))
    assert tuple(back.betas) == (b1, b2)
    assert back.weight_decay == wd
    assert back.amsgrad is amsgrad


@settings(max_examples=40, deadline=None)
@given(
    max_epochs=st.integers(0, 10_000),
    clip=st.none() | finite,
    root=st.text(st.characters(blacklist_categories=("Cs",)), max_size=20),
)
@example(max_epochs=0, clip=None, root="\x85")  # YAML 1.1 folds NEL as a line break
@example(max_epochs=0, clip=None, root="a\u2028b")
@example(max_epochs=0, clip=None, root="true")  # would read back as a bool
@example(max_epochs=0, clip=None, root="1e3")
def test_trainer_values_round_trip(max_epochs: int, clip: float | None, root: str) -> None:
    cfg = TrainerConf(max_epochs=max_epochs, gradient_clip_val=clip, default_root_dir=root)
    loaded = pbgml.load_yaml(pbgml.to_yaml(cfg), schema=TrainerConf)
    assert OmegaConf.to_object(loaded) == cfg


def test_load_yaml_from_path_and_text(tmp_path: Path) -> None:
    path = tmp_path / "opt.yaml"
    path.write_text(pbgml.to_yaml(SGDConf(lr=0.2)))
    assert pbgml.load_yaml(path).lr == 0.2
    assert pbgml.load_yaml(str(path)).lr == 0.2
    assert pbgml.load_yaml("a: 1\nb: ${a}\n").b == 1


def test_load_yaml_schema_errors_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("lr: 0.1\nmomentum: fast\n")
    with pytest.raises(ConfigError) as info:
        pbgml.load_yaml(path, schema=SGDConf)
    (issue,) = info.value.errors
    assert issue.key == "momentum"
    assert issue.line == 2
    with pytest.raises(ConfigError, match="lrr"):
        pbgml.load_yaml("lrr: 0.1", schema=SGDConf)


def test_experiment_round_trips() -> None:
    from pbgml.configs import DataConf, ModelConf

    cfg: Any = ExperimentConf(model=ModelConf(), data=DataConf(), optimizer=SGDConf(lr=0.3))
    text = pbgml.to_yaml(cfg)
    assert pbgml.load_yaml(text) == OmegaConf.create(text)
    assert pbgml.load_yaml(text).optimizer.lr == 0.3


def test_schema_load_retargets_to_the_chosen_components_typed_config() -> None:
    text = (
        "model: {_target_: pbgml.nn.MLP, in_features: 3, out_features: 2}\n"
        "data: {_target_: digits}\n"
        "optimizer: {_target_: torch.optim.SGD, _partial_: true, lr: 0.1, momentum: 0.9}\n"
    )
    cfg = pbgml.load_yaml(text, schema=ExperimentConf)
    assert cfg.optimizer.momentum == 0.9  # SGD's key, where the schema's default is AdamW
    assert cfg.optimizer.nesterov is False  # SGDConf's defaults filled in
    assert "betas" not in cfg.optimizer
    with pytest.raises(ConfigError) as info:
        pbgml.load_yaml(text.replace("momentum: 0.9", "momentum: fast"), schema=ExperimentConf)
    assert info.value.errors[0].key == "optimizer.momentum"
    assert info.value.errors[0].line == 3


def test_typed_round_trip_gives_back_the_typed_config_with_tuples() -> None:
    from pbgml.configs import (
        AdamWConf,
        DigitsDataConf,
        MLPConf,
        ParamGroupsConf,
        StepLRConf,
        TrainerConf,
    )

    cfg = ExperimentConf(
        model=MLPConf(in_features=3, out_features=2, hidden=(4, 5)),
        optimizer=AdamWConf(betas=(0.8, 0.95), param_groups=ParamGroupsConf(no_decay=("bias",))),
        scheduler=StepLRConf(step_size=2, interval="step"),
        data=DigitsDataConf(batch_size=8),
        trainer=TrainerConf(max_epochs=3),
    )
    again = pbgml.load_yaml(pbgml.to_yaml(cfg), schema=ExperimentConf, as_object=True)
    assert again == cfg
    assert type(again.model) is MLPConf
    assert again.model.hidden == (4, 5)
    assert isinstance(again.optimizer.betas, tuple)
    assert again.optimizer.param_groups.no_decay == ("bias",)
    # a target written as a name or as torch's class stays as written
    text = "model: {_target_: mlp, in_features: 3, out_features: 2}\ndata: {_target_: digits}\n"
    text += "optimizer: {_target_: torch.optim.AdamW, _partial_: true, betas: [0.7, 0.9]}\n"
    typed = pbgml.load_yaml(text, schema=ExperimentConf, as_object=True)
    assert (typed.model._target_, typed.optimizer._target_) == ("mlp", "torch.optim.AdamW")
    assert typed.optimizer.betas == (0.7, 0.9)
    with pytest.raises(TypeError, match="schema"):
        pbgml.load_yaml(text, as_object=True)


def test_typed_round_trip_keeps_escaped_text_as_text() -> None:
    from pbgml.configs import DigitsDataConf, MLPConf

    cfg = ExperimentConf(
        model=MLPConf(in_features=3, out_features=2), data=DigitsDataConf(), name="\\${x}"
    )
    again = pbgml.load_yaml(pbgml.to_yaml(cfg), schema=ExperimentConf, as_object=True)
    assert again.name == "${x}"  # the text, not an interpolation and not its escape
