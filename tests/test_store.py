from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize, initialize_config_dir
from omegaconf import OmegaConf

from pbgml.hydra import PRIMARY_CONFIG, store_registries


@pytest.fixture(scope="module", autouse=True)
def _stored() -> None:
    store_registries()


def test_every_registry_entry_is_a_hydra_option() -> None:
    with initialize(version_base=None):
        cfg = compose(
            PRIMARY_CONFIG,
            overrides=[
                "optimizer=sgd",
                "optimizer.lr=0.1",
                "optimizer.momentum=0.9",
                "scheduler=step_lr",
                "scheduler.step_size=3",
                "loss=mse",
            ],
        )
    assert cfg.optimizer._target_.endswith("optim.SGD")  # torch.optim or pbgml.optim
    assert cfg.optimizer.lr == 0.1
    assert cfg.optimizer.momentum == 0.9
    assert cfg.scheduler._target_.endswith(".StepLR")
    assert cfg.scheduler.step_size == 3
    assert cfg.loss._target_ == "torch.nn.MSELoss"


def test_primary_config_defaults() -> None:
    with initialize(version_base=None):
        cfg = compose(PRIMARY_CONFIG)
    assert cfg.optimizer._target_.endswith("optim.AdamW")
    assert cfg.loss._target_ == "pbgml.losses.CrossEntropyLoss"
    assert cfg.trainer.max_epochs == 10
    assert cfg.scheduler is None
    assert OmegaConf.is_missing(cfg, "model")


def test_user_yaml_lives_beside_registry_options(tmp_path: Path) -> None:
    (tmp_path / "optimizer").mkdir()
    (tmp_path / "optimizer" / "my_sgd.yaml").write_text(
        "_target_: torch.optim.SGD\n_partial_: true\nlr: 0.05\nmomentum: 0.8\n"
    )
    (tmp_path / "main.yaml").write_text("defaults:\n  - pbgml\n  - _self_\nseed: 7\n")
    with initialize_config_dir(config_dir=str(tmp_path), version_base=None):
        mine = compose("main", overrides=["optimizer=my_sgd"])
        theirs = compose("main", overrides=["optimizer=radam"])
    assert mine.optimizer.momentum == 0.8
    assert mine.seed == 7
    assert theirs.optimizer._target_.endswith("optim.RAdam")


def test_store_lists_each_group() -> None:
    store = store_registries(to_hydra=False)
    groups = {group for group in store.groups if group}
    assert {"optimizer", "loss", "scheduler", "layer", "trainer"} <= groups


def test_generated_configs_carry_the_groups_meta_keys() -> None:
    with initialize(version_base=None):
        cfg = compose(
            PRIMARY_CONFIG,
            overrides=[
                "optimizer=radam",
                "+optimizer.param_groups.no_decay=[bias]",
                "scheduler=multi_step_lr",
                "scheduler.milestones=[2,4]",
                "scheduler.interval=step",
            ],
        )
    assert cfg.optimizer.param_groups.no_decay == ["bias"]
    assert cfg.scheduler.interval == "step"
    assert cfg.scheduler.frequency == 1


def test_every_registry_entry_is_stored_in_its_hydra_group() -> None:
    from hydra.core.config_store import ConfigStore

    from pbgml import registry
    from pbgml._groups import GROUPS

    repo = ConfigStore.instance().repo
    for group, reg in registry.groups().items():
        option_group = GROUPS[group].key or group  # metric -> metrics, callback -> callbacks
        stored = {name.removesuffix(".yaml") for name in repo.get(option_group, {})}
        assert set(reg.names()) <= stored, group
    assert "metric" not in repo
    assert "callback" not in repo
    with initialize(version_base=None):
        cfg = compose(PRIMARY_CONFIG, overrides=["model=lenet", "data=digits", "loss=focal"])
    assert cfg.model._target_ == "pbgml.nn.LeNet"
    assert cfg.data._target_ == "pbgml.data.digits"
    assert cfg.loss._target_ == "pbgml.losses.FocalLoss"


def test_collection_entries_are_packaged_at_their_name() -> None:
    with initialize(version_base=None):
        cfg = compose(
            PRIMARY_CONFIG,
            overrides=["+callbacks=[early_stopping,progress_bar]", "+metrics=[accuracy]"],
        )
    assert {"early_stopping", "progress_bar"} <= set(cfg.callbacks)  # beside the defaults
    assert cfg.callbacks.early_stopping._target_ == "pbgml.train.EarlyStopping"
    assert "_target_" not in cfg.callbacks
    assert cfg.metrics.accuracy._target_ == "pbgml.metrics.Accuracy"
