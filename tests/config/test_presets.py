from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

import pbgml
from pbgml.configs import ExperimentConf
from pbgml.hydra import presets

PRESETS = presets()


def test_the_course_presets_are_packaged() -> None:
    assert {"cifar10_lenet", "mnist_lenet", "digits_mlp"} <= set(PRESETS)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_packaged_preset_checks_and_round_trips(name: str) -> None:
    path = PRESETS[name]
    pbgml.check(path)  # builds nothing: no data files needed
    loaded = pbgml.load_yaml(path)
    assert pbgml.load_yaml(pbgml.to_yaml(loaded)) == loaded
    typed = pbgml.load_yaml(path, schema=ExperimentConf)  # fits the typed tree
    assert OmegaConf.to_container(typed) == OmegaConf.to_container(loaded)


def test_cifar10_preset_is_the_course_setup() -> None:
    cfg = pbgml.load_yaml(PRESETS["cifar10_lenet"])
    assert cfg.seed == 12345
    assert cfg.trainer.max_epochs == 10
    assert cfg.trainer.gradient_clip_val == 0.5
    assert (cfg.optimizer.lr, cfg.optimizer.momentum) == (0.001, 0.9)
    assert (cfg.data.batch_size, cfg.data.val_split) == (64, 5000)
    assert cfg.model._target_ == "pbgml.nn.LeNet"


def test_digits_preset_builds(tmp_path: Path) -> None:
    parts = pbgml.instantiate(PRESETS["digits_mlp"])
    model, data = parts["model"], parts["data"]
    assert pbgml.check_input(model, data.sample_shape) == (10,)
    x, _ = next(iter(data.train_dataloader()))
    assert model(x).shape == (64, 10)
    assert isinstance(parts["optimizer"](model), torch.optim.AdamW)


def test_a_model_that_does_not_fit_the_data_is_reported_with_both_keys() -> None:
    cfg = pbgml.load_yaml(PRESETS["digits_mlp"])
    cfg.model.in_features = 32
    parts = pbgml.instantiate(cfg)
    with pytest.raises(pbgml.ShapeMismatchError) as info:
        pbgml.check_input(parts["model"], parts["data"].sample_shape, model_cfg=cfg.model)
    message = str(info.value)
    assert "model.in_features=32 but data yields samples of shape 64" in message
    assert "set model.in_features=64" in message
