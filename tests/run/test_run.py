"""pbgml.run: config in, trained model's metrics, checkpoints and files out."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import torch

import pbgml
from pbgml.configs import (
    AdamWConf,
    CosineAnnealingLRConf,
    DigitsDataConf,
    ExperimentConf,
    MLPConf,
    SyntheticClassificationDataConf,
    TrainerConf,
)
from pbgml.hydra import presets
from pbgml.train import load_checkpoint

pytest.importorskip("sklearn")


def _readme_cfg(root: Path, **trainer: Any) -> ExperimentConf:
    return ExperimentConf(
        model=MLPConf(in_features=64, hidden=(128, 128), out_features=10),
        optimizer=AdamWConf(lr=3e-3),
        data=DigitsDataConf(batch_size=64),
        trainer=TrainerConf(
            **{
                "max_epochs": 3,
                "default_root_dir": str(root),
                "enable_progress_bar": False,
                **trainer,
            }
        ),
    )


@pytest.fixture(scope="module")
def readme_run(tmp_path_factory: pytest.TempPathFactory) -> pbgml.RunResult:
    return pbgml.run(_readme_cfg(tmp_path_factory.mktemp("readme")))


def test_the_readme_config_trains_and_tests(readme_run: pbgml.RunResult) -> None:
    metrics = readme_run.metrics
    assert {"train/loss", "val/loss", "val/acc", "test/loss", "test/acc"} <= set(metrics)
    assert metrics["test/acc"] > 0.8  # digits: an MLP is far above chance (0.1) in 3 epochs
    assert metrics["val/acc"] > 0.8


def test_the_run_writes_its_files(readme_run: pbgml.RunResult) -> None:
    run_dir = Path(readme_run.run_dir)
    assert json.loads((run_dir / "metrics.json").read_text()) == pytest.approx(readme_run.metrics)
    saved = pbgml.load_yaml(run_dir / "config.yaml")
    assert saved.optimizer.lr == 3e-3
    assert saved.model.hidden == [128, 128]
    assert readme_run.last_checkpoint == str(run_dir / "checkpoints" / "last.ckpt")
    assert readme_run.best_checkpoint is not None
    assert Path(readme_run.best_checkpoint).parent == run_dir / "checkpoints"
    with (run_dir / "logs" / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert rows
    assert list(rows[0])[:2] == ["step", "epoch"]
    assert "train/loss" in rows[0]


def test_the_checkpoint_holds_the_config_and_loads_weights_only(
    readme_run: pbgml.RunResult,
) -> None:
    assert readme_run.last_checkpoint is not None
    ckpt = load_checkpoint(readme_run.last_checkpoint)
    assert pbgml.load_yaml(ckpt["config"]).optimizer.lr == 3e-3
    torch.load(readme_run.last_checkpoint, weights_only=True)


def test_a_model_that_does_not_fit_the_data_fails_before_any_step(tmp_path: Path) -> None:
    cfg = _readme_cfg(tmp_path)
    cfg = dataclasses.replace(cfg, model=MLPConf(in_features=32, out_features=10))
    with pytest.raises(pbgml.ConfigError) as info:
        pbgml.run(cfg)
    issue = info.value.errors[0]
    assert issue.key == "model.in_features"
    assert "samples of shape 64" in issue.message
    assert "set model.in_features=64" in issue.message
    assert not list(tmp_path.rglob("*.ckpt"))


def test_config_problems_are_reported_before_anything_runs(tmp_path: Path) -> None:
    cfg = pbgml.to_yaml(_readme_cfg(tmp_path)).replace("  lr: 0.003", "  lrr: 0.003")
    with pytest.raises(pbgml.ConfigError, match=r"optimizer\.lrr: .*did you mean 'lr'"):
        pbgml.run(pbgml.load_yaml(cfg))
    assert not any(tmp_path.iterdir())
    with pytest.raises(pbgml.ConfigError, match="an experiment needs a model"):
        pbgml.run({"data": {"_target_": "digits"}})


def test_no_callbacks_and_no_logger_write_no_checkpoint_and_no_log(tmp_path: Path) -> None:
    cfg = dataclasses.replace(_readme_cfg(tmp_path, max_epochs=1), callbacks={}, logger=None)
    result = pbgml.run(cfg)
    run_dir = Path(result.run_dir)
    assert result.best_checkpoint is None
    assert result.last_checkpoint is None
    assert not (run_dir / "checkpoints").exists()
    assert not (run_dir / "logs").exists()
    assert "test/acc" in result.metrics  # the last weights are tested


def test_a_cosine_schedule_without_length_is_sized_by_the_run(tmp_path: Path) -> None:
    cfg = dataclasses.replace(
        _readme_cfg(tmp_path, max_epochs=2),
        scheduler=CosineAnnealingLRConf(interval="step"),  # T_max=None
        callbacks={},
        logger={},
    )
    pbgml.check(cfg)
    result = pbgml.run(cfg)
    assert result.metrics["test/acc"] > 0.5


def test_resume_continues_the_run_exactly(tmp_path: Path) -> None:
    """2 epochs, then resume to 4: the same weights as 4 epochs straight."""
    data = SyntheticClassificationDataConf(num_samples=160, num_features=8, num_classes=3)

    def cfg(root: Path, epochs: int, resume: str | None = None) -> ExperimentConf:
        return ExperimentConf(
            model=MLPConf(in_features=8, hidden=(16,), out_features=3, dropout=0.2),
            data=data,
            trainer=TrainerConf(max_epochs=epochs, default_root_dir=str(root)),
            callbacks={"model_checkpoint": {"_target_": "model_checkpoint"}},
            logger={},
            resume=resume,
        )

    straight = pbgml.run(cfg(tmp_path / "a", 4))
    first = pbgml.run(cfg(tmp_path / "b", 2))
    resumed = pbgml.run(cfg(tmp_path / "b", 4, resume=first.run_dir))
    assert resumed.run_dir == first.run_dir
    assert straight.last_checkpoint is not None
    assert resumed.last_checkpoint is not None
    a = load_checkpoint(straight.last_checkpoint)["model"]
    b = load_checkpoint(resumed.last_checkpoint)["model"]
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_resume_path_that_is_not_a_run_is_a_config_error(tmp_path: Path) -> None:
    cfg = dataclasses.replace(_readme_cfg(tmp_path), resume=str(tmp_path / "nowhere"))
    with pytest.raises(pbgml.ConfigError, match=r"resume: .* neither a run directory"):
        pbgml.run(cfg)


def test_the_digits_preset_trains_in_seconds(tmp_path: Path) -> None:
    cfg = pbgml.load_yaml(presets()["digits_mlp"])
    cfg.trainer.default_root_dir = str(tmp_path)
    cfg.trainer.max_epochs = 5
    result = pbgml.run(cfg)
    assert result.metrics["test/acc"] > 0.85
    assert result.best_checkpoint is not None
    assert Path(result.run_dir).parent.name == "digits_mlp"


def test_a_yaml_experiment_gets_the_defaults_of_the_fields_it_leaves_out(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text(
        "model: {_target_: mlp, in_features: 64, out_features: 10}\n"
        "data: {_target_: digits, batch_size: 64}\n"
        f"trainer: {{max_epochs: 1, default_root_dir: {tmp_path}, enable_progress_bar: false}}\n"
    )
    result = pbgml.run(path)  # a trainer node without _target_: the Trainer's settings
    run_dir = Path(result.run_dir)
    assert result.last_checkpoint == str(run_dir / "checkpoints" / "last.ckpt")  # callbacks
    assert (run_dir / "logs" / "metrics.csv").is_file()  # the CSV logger
    saved = pbgml.load_yaml(run_dir / "config.yaml")
    assert saved.seed == 42
    assert saved.optimizer._target_ == "pbgml.optim.AdamW"
    assert saved.task._target_ == "pbgml.train.ClassificationTask"


def test_a_model_the_meta_device_cannot_run_still_trains(tmp_path: Path) -> None:
    from torch import nn

    class ReadsValues(nn.Module):
        def __init__(self, in_features: int = 8, out_features: int = 3) -> None:
            super().__init__()
            self.lin = nn.Linear(in_features, out_features)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.abs().max() > 100:  # reads a value: no meta kernel can
                x = x / 100
            out: torch.Tensor = self.lin(x)
            return out

    pbgml.registry.model.register(ReadsValues, name="reads_values_for_test")
    try:
        cfg = ExperimentConf(
            model={"_target_": "reads_values_for_test"},
            data=SyntheticClassificationDataConf(num_samples=64, num_features=8, num_classes=3),
            trainer=TrainerConf(max_epochs=1, default_root_dir=str(tmp_path)),
            callbacks={},
            logger={},
        )
        assert "test/acc" in pbgml.run(cfg).metrics
    finally:
        pbgml.registry.model.unregister("reads_values_for_test")


def test_parallel_runs_in_the_same_second_get_their_own_folders(tmp_path: Path) -> None:
    from pbgml._config._tree import read_tree
    from pbgml._run import _run_dir

    tree = read_tree({"trainer": {"default_root_dir": str(tmp_path)}, "name": "x"})
    folders = {_run_dir(tree.root, tree)[0] for _ in range(5)}  # same second, same name
    assert len(folders) == 5
    assert all(f.is_dir() for f in folders)


def test_a_setting_the_trainer_refuses_names_its_key(tmp_path: Path) -> None:
    cfg = pbgml.to_yaml(_readme_cfg(tmp_path)).replace(
        "gradient_clip_algorithm: norm", "gradient_clip_algorithm: nrm"
    )
    with pytest.raises(pbgml.ConfigError) as info:
        pbgml.run(pbgml.load_yaml(cfg))
    assert info.value.errors[0].key == "trainer.gradient_clip_algorithm"


def test_the_optimized_metric_is_the_experiments_or_the_checkpoints_monitor(
    readme_run: pbgml.RunResult, tmp_path: Path
) -> None:
    assert readme_run.optimized_metric == "val/loss"  # nothing monitored: val/loss
    assert readme_run.objective == readme_run.metrics["val/loss"]
    cfg = dataclasses.replace(
        _readme_cfg(tmp_path, max_epochs=1),
        callbacks={"ckpt": {"_target_": "model_checkpoint", "monitor": "val/acc", "mode": "max"}},
        logger={},
    )
    assert pbgml.run(cfg).optimized_metric == "val/acc"
    picked = dataclasses.replace(cfg, optimized_metric="test/acc")
    result = pbgml.run(picked)
    assert result.objective == result.metrics["test/acc"]


def test_resume_keeps_the_original_config(tmp_path: Path) -> None:
    first = pbgml.run(dataclasses.replace(_readme_cfg(tmp_path, max_epochs=1), logger={}))
    original = (Path(first.run_dir) / "config.yaml").read_text()
    again = dataclasses.replace(
        _readme_cfg(tmp_path, max_epochs=2), logger={}, resume=first.run_dir
    )
    pbgml.run(again)
    assert (Path(first.run_dir) / "config.yaml").read_text() == original
