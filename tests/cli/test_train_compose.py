"""``pbgml.compose`` and the lazy ``pbgml://`` config source, in process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from omegaconf import OmegaConf
from torch import nn

import pbgml
from pbgml._config._store import RegistrySource
from pbgml.cli import main
from pbgml.configs import ExperimentConf


@pytest.fixture(autouse=True)
def _registries_not_in_the_config_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another test module may have run store_registries(): the source defers to those."""
    from hydra.core.config_store import ConfigStore

    from pbgml._groups import by_key

    store = ConfigStore.instance()
    kept = {k: v for k, v in store.repo.items() if k not in by_key() and k != "pbgml.yaml"}
    monkeypatch.setattr(store, "repo", kept)


def test_compose_is_the_tree_the_command_line_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["experiment=digits_mlp", "optimizer=sgd", "optimizer.lr=0.2", "callbacks=none"]
    assert main(["train", *args, "--cfg", "job"]) == 0
    from_cli = yaml.safe_load(capsys.readouterr().out)
    composed = pbgml.compose(args[1:], experiment="digits_mlp")
    assert OmegaConf.to_container(composed) == from_cli
    assert OmegaConf.get_type(composed) is ExperimentConf  # typed: seed is an int field
    with pytest.raises(Exception, match="seed"):
        composed.seed = "not a number"


def test_composed_trees_check_build_and_run(tmp_path: Path) -> None:
    cfg = pbgml.compose(
        [
            "trainer.max_epochs=1",
            "trainer.limit_train_batches=2",
            "trainer.limit_val_batches=1",
            "trainer.limit_test_batches=1",
            "trainer.enable_progress_bar=false",
            "callbacks=[model_checkpoint]",
            "logger=none",
        ],
        experiment="digits_mlp",
    )
    pbgml.check(cfg)
    result = pbgml.run(cfg, run_dir=tmp_path / "run")
    assert result.run_dir == str(tmp_path / "run")
    assert (tmp_path / "run" / "metrics.json").is_file()
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()
    assert result.objective == result.metrics["val/acc"]


def test_compose_errors_are_config_errors_with_a_suggestion() -> None:
    with pytest.raises(pbgml.ConfigError) as info:
        pbgml.compose(["trainer.max_epoch=2"], experiment="digits_mlp")
    (issue,) = info.value.errors
    assert (issue.key, issue.kind, issue.suggestion) == (
        "trainer.max_epoch",
        "unknown_key",
        "max_epochs",
    )


def test_the_source_converts_only_the_selected_options(monkeypatch: pytest.MonkeyPatch) -> None:
    import pbgml.configs

    seen: list[tuple[str, str]] = []
    real = pbgml.configs.config_for

    def counting(group: str, name: str) -> Any:
        seen.append((group, name))
        return real(group, name)

    monkeypatch.setattr(pbgml.configs, "config_for", counting)
    pbgml.compose(["callbacks=[default,early_stopping]"], experiment="digits_mlp")
    assert sorted(seen) == sorted(
        [
            ("model", "mlp"),
            ("loss", "cross_entropy"),
            ("optimizer", "adamw"),
            ("data", "digits"),
            ("task", "classification"),
            ("trainer", "default"),
            ("callback", "model_checkpoint"),
            ("callback", "progress_bar"),
            ("callback", "model_summary"),
            ("callback", "early_stopping"),
            ("logger", "csv"),
        ]
    )


def test_the_source_defers_to_configs_in_the_config_store() -> None:
    from pbgml.hydra import store_registries

    source = RegistrySource(provider="pbgml", path="pbgml://")
    assert source.is_config("callbacks/early_stopping")
    store_registries()
    assert not source.is_config("callbacks/early_stopping")  # the ConfigStore answers
    cfg = pbgml.compose(["callbacks=[default,early_stopping]"], experiment="digits_mlp")
    assert list(cfg.callbacks) == [
        "model_checkpoint",
        "progress_bar",
        "model_summary",
        "early_stopping",
    ]


def test_a_null_default_does_not_load_its_group() -> None:
    import subprocess
    import sys

    code = (
        "import sys, pbgml\n"
        "pbgml.compose(experiment='digits_mlp')\n"
        "print('torchmetrics' in sys.modules, pbgml.registry.metric.loaded)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]  # metrics: null reads no metric


def test_the_source_answers_from_the_registries() -> None:
    source = RegistrySource(provider="pbgml", path="pbgml://")
    assert source.is_group("")
    assert source.is_group("metrics")
    assert not source.is_group("layer")
    assert not source.is_group("hydra/launcher")
    assert not source.is_config("hydra/launcher/basic")
    assert source.is_config("optimizer/adamw")
    assert source.is_config("optimizer/adamw.yaml")
    assert not source.is_config("optimizer/adamx")
    assert not source.is_config("metrics/None")  # Hydra's question about a null default
    assert "metrics" in source.list("", None)
    assert "adamw" in source.list("optimizer", None)
    assert source.list("layer", None) == []
    result = source.load_config("metrics/accuracy")
    assert result.header["package"] == "metrics.accuracy"
    assert source.load_config("optimizer/sgd").header["package"] is None


class ComposeTestNet(nn.Module):
    """A test model."""

    def __init__(self, width: int = 3) -> None:
        super().__init__()
        self.width = width


def test_user_registered_components_are_options() -> None:
    pbgml.registry.model.register(ComposeTestNet, name="compose_test_net")
    try:
        cfg = pbgml.compose(["model=compose_test_net", "model.width=5"])
        assert cfg.model.width == 5
        assert cfg.model._target_.endswith("ComposeTestNet")
    finally:
        pbgml.registry.model.unregister("compose_test_net")


def test_presets_stay_complete_trees() -> None:
    from pbgml.hydra import presets

    path = presets()["digits_mlp"]
    tree = pbgml.load_yaml(path)
    assert OmegaConf.to_container(tree) == OmegaConf.to_container(
        pbgml.load_yaml(
            pbgml.to_yaml(pbgml.compose(experiment="digits_mlp", config_dir=path.parent))
        )
    )
    assert {"cpu", "gpu", "ddp"} <= set(presets("trainer"))
    assert {"default", "none"} <= set(presets("callbacks"))
    assert {"many"} <= set(presets("logger"))
    assert {"digits_optuna", "mnist_optuna", "cifar10_optuna"} <= set(presets("hparams_search"))


def test_hydra_initialize_config_module_reads_pbgmls_packaged_configs() -> None:
    """``initialize_config_module("pbgml.conf")``: a user's app composes pbgml's presets."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module

    from pbgml.hydra import register_source

    register_source()
    with initialize_config_module("pbgml.conf", version_base=None):
        cfg = hydra_compose("train", overrides=["experiment=digits_mlp", "optimizer=sgd"])
    assert cfg.optimizer._target_ == "pbgml.optim.SGD"
    assert cfg.model._target_ == "pbgml.nn.MLP"
    assert cfg.name == "digits_mlp"
