"""The stock loggers: files written, read back with csv, pandas, TensorBoard and MLflow."""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from pbgml._errors import ArgumentError, MissingExtraError, PbgmlError
from pbgml.train._loggers import CSVLogger, MLflowLogger, TensorBoardLogger, flatten_params

HPARAMS = {
    "model": {"_target_": "pbgml.nn.MLP", "hidden": [64, 32], "dropout": 0.1},
    "optimizer": {"lr": 0.003, "betas": (0.9, 0.999)},
    "seed": 7,
    "deterministic": True,
    "scheduler": None,
    "params/total": 1234,
    "config": "model:\n  hidden: [64, 32]\n",
}


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def broken_import(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    """Make ``import module`` raise RuntimeError, as a package built for another torch does."""

    class Broken:
        def find_spec(self, name: str, *args: Any) -> None:
            if name == module:
                raise RuntimeError(f"{module} is broken")

    monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.setattr(sys, "meta_path", [Broken(), *sys.meta_path])


# -- flatten ----------------------------------------------------------------------------
def test_flatten_params() -> None:
    flat = flatten_params({**HPARAMS, "empty": {}, "none": [], "obj": torch.float32})
    assert flat["model.hidden.0"] == 64
    assert flat["model.hidden.1"] == 32
    assert flat["optimizer.betas.1"] == 0.999
    assert flat["scheduler"] == "None"
    assert flat["deterministic"] is True
    assert flat["empty"] == "{}"
    assert flat["none"] == "[]"
    assert flat["obj"] == "torch.float32"
    assert flatten_params({"a": torch.tensor(2.5)}) == {"a": 2.5}


# -- CSV --------------------------------------------------------------------------------
def test_csv_columns_rows_and_new_columns(tmp_path: Path) -> None:
    logger = CSVLogger(flush_every_n_steps=2)
    logger.setup(str(tmp_path))
    assert logger.path == tmp_path / "logs" / "metrics.csv"
    logger.log_metrics({"train/loss": 2.0, "epoch": 0}, step=1)
    logger.log_metrics({"train/loss": 1.5, "epoch": 0}, step=2)
    logger.log_metrics({"train/loss": 1.25, "epoch": 0}, step=3)  # flushes steps 1-2
    assert [r["step"] for r in read_csv(logger.path)] == ["1", "2"]
    logger.log_metrics({"val/loss": 1.0, "val/acc": 0.5, "epoch": 0}, step=3)  # same row
    logger.log_metrics({"lr-SGD": 0.1, "epoch": 1}, step=3)  # same step, new epoch: new row
    logger.log_metrics({"train/loss": 0.5, "epoch": 1.0}, step=6)
    logger.finalize("success")
    rows = read_csv(logger.path)
    assert list(rows[0]) == ["step", "epoch", "lr-SGD", "train/loss", "val/acc", "val/loss"]
    assert [(r["step"], r["epoch"]) for r in rows] == [
        ("1", "0"),
        ("2", "0"),
        ("3", "0"),
        ("3", "1"),
        ("6", "1"),
    ]
    assert [r["train/loss"] for r in rows] == ["2.0", "1.5", "1.25", "", "0.5"]
    assert rows[2]["val/acc"] == "0.5"
    assert rows[0]["val/acc"] == ""  # written before the column existed
    assert rows[3]["lr-SGD"] == "0.1"
    assert not list(logger.log_dir.glob(".*.tmp"))


def test_csv_reads_with_pandas_and_keeps_full_precision(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    logger = CSVLogger(save_dir=tmp_path / "custom", name="m.csv")
    logger.setup("ignored")
    value = 1 / 3
    for step in range(5):
        logger.log_metrics({"train/loss": value * step, "epoch": step // 2}, step=step)
        if step == 3:
            logger.log_metrics({"val/acc": torch.tensor(0.75), "epoch": 1}, step=step)
    logger.finalize("success")
    frame = pd.read_csv(tmp_path / "custom" / "m.csv")
    assert list(frame.columns) == ["step", "epoch", "train/loss", "val/acc"]
    assert frame["step"].tolist() == [0, 1, 2, 3, 4]
    assert frame["epoch"].tolist() == [0, 0, 1, 1, 2]
    assert frame["train/loss"].tolist() == [value * s for s in range(5)]
    assert frame["val/acc"].iloc[3] == 0.75
    assert math.isnan(frame["val/acc"].iloc[0])


def test_csv_appends_to_an_existing_file_on_resume(tmp_path: Path) -> None:
    first = CSVLogger()
    first.setup(str(tmp_path))
    first.log_metrics({"train/loss": 1.0, "epoch": 0}, step=1)
    first.finalize("interrupted")
    second = CSVLogger()
    second.setup(str(tmp_path))
    second.log_metrics({"train/loss": 0.5, "epoch": 1}, step=2)
    second.log_metrics({"val/acc": 0.9, "epoch": 1}, step=2)
    second.finalize("success")
    rows = read_csv(first.path)
    assert [(r["step"], r["train/loss"], r["val/acc"]) for r in rows] == [
        ("1", "1.0", ""),
        ("2", "0.5", "0.9"),
    ]


def test_csv_hparams_json(tmp_path: Path) -> None:
    logger = CSVLogger()
    logger.setup(str(tmp_path))
    logger.log_hyperparams(HPARAMS)
    logger.log_hyperparams({"extra": float("nan"), "seed": 8})
    saved = json.loads((tmp_path / "logs" / "hparams.json").read_text())
    assert saved["model"]["hidden"] == [64, 32]
    assert saved["optimizer"]["betas"] == [0.9, 0.999]
    assert saved["seed"] == 8
    assert saved["extra"] == "nan"
    assert saved["config"] == HPARAMS["config"]


def test_csv_needs_a_directory_and_valid_arguments() -> None:
    with pytest.raises(PbgmlError, match="setup"):
        CSVLogger().log_metrics({"a": 1.0}, step=0)
    with pytest.raises(ArgumentError, match="flush_every_n_steps=0"):
        CSVLogger(flush_every_n_steps=0)
    with pytest.raises(ArgumentError, match="file name"):
        CSVLogger(name="a/b.csv")
    with pytest.raises(ArgumentError, match="status='done'"):
        CSVLogger(save_dir=".").finalize("done")


# -- TensorBoard ------------------------------------------------------------------------
def tb_accumulator(path: Path) -> Any:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(path), size_guidance={"scalars": 0, "histograms": 0, "tensors": 0})
    acc.Reload()
    return acc


def test_tensorboard_scalars_histograms_and_hparams_read_back(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    logger = TensorBoardLogger()
    logger.setup(str(tmp_path))
    logger.log_hyperparams(HPARAMS)
    logged = {1: 2.0, 2: 1.5, 5: 0.25}
    for step, loss in logged.items():
        logger.log_metrics({"train/loss": loss, "epoch": 0}, step=step)
    logger.log_metrics({"val/acc": torch.tensor(0.625)}, step=5)
    values = torch.tensor([0.0, 1.0, 2.0, float("nan"), float("inf")])
    logger.log_histogram("params/w", values, step=5)
    logger.log_histogram("params/all_nan", torch.full((3,), float("nan")), step=5)
    logger.finalize("success")

    log_dir = tmp_path / "logs" / "tensorboard"
    assert logger.log_dir == log_dir
    assert [p for p in log_dir.iterdir() if p.is_dir()] == []  # no sub-run folders
    acc = tb_accumulator(log_dir)
    assert {(e.step, e.value) for e in acc.Scalars("train/loss")} == set(logged.items())
    assert [(e.step, e.value) for e in acc.Scalars("val/acc")] == [(5, 0.625)]
    (hist,) = acc.Histograms("params/w")
    assert (hist.step, hist.histogram_value.num) == (5, 3)  # the finite values
    assert (hist.histogram_value.min, hist.histogram_value.max) == (0.0, 2.0)
    assert "params/all_nan" not in acc.Tags()["histograms"]
    tensors = acc.Tags()["tensors"]
    assert "hparams/text_summary" in tensors
    assert "hparams/config/text_summary" in tensors
    table = acc.Tensors("hparams/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "| optimizer.lr | 0.003 |" in table
    assert "| model.hidden.1 | 32 |" in table
    # the hparams plugin's session records, in the same event file
    from tensorboard.plugins.hparams import plugin_data_pb2

    content = acc.SummaryMetadata("_hparams_/session_start_info").plugin_data.content
    start = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    assert start.hparams["optimizer.lr"].number_value == 0.003
    assert start.hparams["scheduler"].string_value == "None"
    assert start.hparams["deterministic"].number_value == 1  # torch writes bools as numbers
    assert "config" not in start.hparams  # multi-line text goes in as text only


def test_tensorboard_save_dir_and_not_set_up(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    with pytest.raises(PbgmlError, match="setup"):
        TensorBoardLogger().log_metrics({"a": 1.0}, step=0)
    logger = TensorBoardLogger(save_dir=tmp_path / "tb")
    logger.log_metrics({"a": 1.0}, step=3)
    logger.finalize("failed")
    logger.finalize("failed")  # idempotent
    assert [e.value for e in tb_accumulator(tmp_path / "tb").Scalars("a")] == [1.0]


def test_tensorboard_missing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with pytest.raises(
        MissingExtraError,
        match=r"^TensorBoardLogger requires tensorboard: pip install pbgml\[tensorboard\]$",
    ):
        TensorBoardLogger()


def test_tensorboard_broken_install(monkeypatch: pytest.MonkeyPatch) -> None:
    broken_import(monkeypatch, "tensorboard")
    with pytest.raises(
        MissingExtraError, match=r"RuntimeError: tensorboard is broken.*pbgml\[tensorboard\]"
    ):
        TensorBoardLogger()


# -- MLflow -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mlflow() -> Any:
    return pytest.importorskip("mlflow")  # ~1.5 s, once per module


@pytest.fixture(scope="module")
def shared_uri(mlflow: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite store for the module: creating one costs ~0.8 s of migrations."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'shared.db'}"


def test_mlflow_metrics_params_and_status_read_back(mlflow: Any, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    logger = MLflowLogger(run_name="r1")
    logger.setup(str(tmp_path))
    logger.log_hyperparams(HPARAMS)
    logger.log_hyperparams({"seed": 7})  # the same value again: accepted
    for step, loss in [(1, 2.0), (2, 1.5), (3, 1.0)]:
        logger.log_metrics({"train/loss": loss, "epoch": 0}, step=step)
    logger.log_metrics({"val/acc": 0.5, "test/acc[cat]": 0.25}, step=3)
    logger.log_histogram("params/w", torch.zeros(3), step=3)  # ignored
    logger.finalize("success")
    logger.finalize("success")  # idempotent

    db = tmp_path / "logs" / "mlflow.db"
    assert db.is_file()
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    run = client.get_run(logger.run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "r1"
    assert run.data.params["optimizer.lr"] == "0.003"
    assert run.data.params["model.hidden.0"] == "64"
    assert run.data.params["scheduler"] == "None"
    assert run.data.params["params/total"] == "1234"
    history = client.get_metric_history(logger.run_id, "train/loss")
    assert [(m.step, m.value) for m in history] == [(1, 2.0), (2, 1.5), (3, 1.0)]
    assert run.data.metrics["val/acc"] == 0.5
    assert run.data.metrics["test/acc_cat_"] == 0.25
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "pbgml"
    assert experiment.artifact_location.startswith((tmp_path / "logs").resolve().as_uri())


@pytest.mark.parametrize(("status", "expected"), [("failed", "FAILED"), ("interrupted", "KILLED")])
def test_mlflow_final_status(shared_uri: str, tmp_path: Path, status: str, expected: str) -> None:
    logger = MLflowLogger(tracking_uri=shared_uri, experiment_name="exp")
    logger.setup(str(tmp_path / "run"))
    logger.finalize(status)
    assert logger.client.get_run(logger.run_id).info.status == expected


def test_mlflow_long_param_becomes_an_artifact_and_experiment_is_reused(
    mlflow: Any, shared_uri: str, tmp_path: Path
) -> None:
    uri = shared_uri
    long_text = "x: 1\n" * 2000
    first = MLflowLogger(tracking_uri=uri)
    first.setup(str(tmp_path / "a"))
    first.log_hyperparams({"config": long_text})
    first.finalize("success")
    second = MLflowLogger(tracking_uri=uri)
    second.setup(str(tmp_path / "b"))
    second.finalize("success")
    run_a = first.client.get_run(first.run_id)
    run_b = second.client.get_run(second.run_id)
    assert run_a.info.experiment_id == run_b.info.experiment_id
    assert "params/config.txt" in run_a.data.params["config"]
    artifact = Path(
        mlflow.artifacts.download_artifacts(
            run_id=first.run_id, artifact_path="params/config.txt", tracking_uri=uri
        )
    )
    assert artifact.read_text() == long_text


def test_mlflow_requires_setup_and_valid_arguments(mlflow: Any) -> None:
    with pytest.raises(PbgmlError, match="setup"):
        MLflowLogger().log_metrics({"a": 1.0}, step=0)
    with pytest.raises(ArgumentError, match="experiment_name=''"):
        MLflowLogger(experiment_name="")


def test_mlflow_missing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(
        MissingExtraError, match=r"^MLflowLogger requires mlflow: pip install pbgml\[mlflow\]$"
    ):
        MLflowLogger()


def test_mlflow_broken_install(monkeypatch: pytest.MonkeyPatch) -> None:
    broken_import(monkeypatch, "mlflow")
    with pytest.raises(MissingExtraError, match=r"RuntimeError: mlflow is broken.*pbgml\[mlflow\]"):
        MLflowLogger()


# -- several at once --------------------------------------------------------------------
def test_several_loggers_record_the_same_run(mlflow: Any, tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    loggers: list[Any] = [CSVLogger(), TensorBoardLogger(), MLflowLogger()]
    for logger in loggers:
        logger.setup(str(tmp_path))
    for logger in loggers:
        logger.log_hyperparams({"optimizer": {"lr": 0.1}})
    for step in range(1, 4):
        for logger in loggers:
            logger.log_metrics({"train/loss": 1.0 / step, "epoch": 0}, step=step)
    for logger in loggers:
        logger.finalize("success")
    ml_logger = loggers[2]
    assert [float(r["train/loss"]) for r in read_csv(tmp_path / "logs" / "metrics.csv")] == [
        1.0,
        0.5,
        1 / 3,
    ]
    scalars = tb_accumulator(tmp_path / "logs" / "tensorboard").Scalars("train/loss")
    assert [e.value for e in scalars] == pytest.approx([1.0, 0.5, 1 / 3])
    history = ml_logger.client.get_metric_history(ml_logger.run_id, "train/loss")
    assert [m.value for m in history] == [1.0, 0.5, 1 / 3]
    names = {p.name for p in (tmp_path / "logs").iterdir()}
    assert {"hparams.json", "metrics.csv", "mlflow.db", "tensorboard"} <= names
    assert names <= {"hparams.json", "metrics.csv", "mlflow.db", "tensorboard", "mlartifacts"}


# -- with the real Trainer ----------------------------------------------------------------
def fit_run(tmp_path: Path, loggers: Any, *, max_epochs: int = 2, fail: bool = False) -> Any:
    import functools

    from torch import nn

    from pbgml.data import DataModule, SyntheticClassification
    from pbgml.train import ClassificationTask, Trainer

    class Failing(ClassificationTask):
        def training_step(self, batch: Any, batch_idx: int) -> Any:
            if self.trainer.current_epoch == 1:
                raise RuntimeError("boom")
            return super().training_step(batch, batch_idx)

    torch.manual_seed(0)
    data = DataModule(SyntheticClassification(64, 4, 2), val_split=16, batch_size=16)
    task = (Failing if fail else ClassificationTask)(
        nn.Linear(4, 2), optimizer=functools.partial(torch.optim.SGD, lr=0.1)
    )
    trainer = Trainer(
        default_root_dir=tmp_path,
        max_epochs=max_epochs,
        callbacks=[],
        logger=loggers,
        log_every_n_steps=1,
        num_sanity_val_steps=0,
        hparams={"optimizer": {"lr": 0.1}, "seed": 0},
    )
    if fail:
        with pytest.raises(RuntimeError, match="boom"):
            trainer.fit(task, data)
    else:
        trainer.fit(task, data)
    return trainer


def test_trainer_default_csv_logger(tmp_path: Path) -> None:
    trainer = fit_run(tmp_path, None)
    rows = read_csv(tmp_path / "logs" / "metrics.csv")
    assert list(rows[0])[:2] == ["step", "epoch"]
    assert {"train/loss", "val/loss", "val/acc"} <= set(rows[0])
    steps = [int(r["step"]) for r in rows]
    assert steps == sorted(steps)
    assert steps[-1] == trainer.global_step == 6
    assert {r["epoch"] for r in rows} == {"0", "1"}
    last_val = [r for r in rows if r["val/acc"]][-1]
    assert float(last_val["val/acc"]) == trainer.callback_metrics["val/acc"]
    assert last_val["epoch"] == "1"
    hparams = json.loads((tmp_path / "logs" / "hparams.json").read_text())
    assert hparams["optimizer"] == {"lr": 0.1}
    assert hparams["model/params/total"] == 10


def test_trainer_tensorboard_scalars_equal_the_csv(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    fit_run(tmp_path, [CSVLogger(), TensorBoardLogger()])
    rows = read_csv(tmp_path / "logs" / "metrics.csv")
    acc = tb_accumulator(tmp_path / "logs" / "tensorboard")
    for name in ("train/loss", "val/loss", "val/acc"):
        expected = [(int(r["step"]), float(r[name])) for r in rows if r[name]]
        got = [(e.step, e.value) for e in acc.Scalars(name)]
        assert [s for s, _ in got] == [s for s, _ in expected]
        assert [v for _, v in got] == pytest.approx([v for _, v in expected])
    assert "hparams/text_summary" in acc.Tags()["tensors"]


def test_trainer_mlflow_metrics_equal_the_csv_and_status(mlflow: Any, tmp_path: Path) -> None:
    ml = MLflowLogger(run_name="fit")
    fit_run(tmp_path / "ok", [CSVLogger(), ml])
    run = ml.client.get_run(ml.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["optimizer.lr"] == "0.1"
    assert run.data.params["model/params/total"] == "10"
    rows = read_csv(tmp_path / "ok" / "logs" / "metrics.csv")
    expected = [(int(r["step"]), float(r["val/acc"])) for r in rows if r["val/acc"]]
    history = ml.client.get_metric_history(ml.run_id, "val/acc")
    assert [(m.step, m.value) for m in history] == expected

    failed = MLflowLogger()
    csv_logger = CSVLogger()
    fit_run(tmp_path / "bad", [csv_logger, failed], fail=True)
    assert failed.client.get_run(failed.run_id).info.status == "FAILED"
    # the CSV rows of the first epoch were written even though fit raised
    assert {r["epoch"] for r in read_csv(csv_logger.path)} == {"0"}


def test_logging_after_finalize_reopens_every_logger(mlflow: Any, tmp_path: Path) -> None:
    """The trainer finalizes its loggers after each stage: a test stage after fit logs again."""
    pytest.importorskip("tensorboard")
    loggers: list[Any] = [CSVLogger(), TensorBoardLogger(), MLflowLogger()]
    for logger in loggers:
        logger.setup(str(tmp_path))
        logger.log_metrics({"train/loss": 1.0, "epoch": 0}, step=1)
        logger.finalize("success")
    ml = loggers[2]
    assert ml.client.get_run(ml.run_id).info.status == "FINISHED"
    for logger in loggers:
        logger.log_metrics({"test/acc": 0.75}, step=1)
    assert ml.client.get_run(ml.run_id).info.status == "RUNNING"
    for logger in loggers:
        logger.finalize("success")
    rows = read_csv(tmp_path / "logs" / "metrics.csv")
    # a written row is never edited: the test's values get a row of their own
    assert [(r["step"], r["train/loss"], r["test/acc"]) for r in rows] == [
        ("1", "1.0", ""),
        ("1", "", "0.75"),
    ]
    acc = tb_accumulator(tmp_path / "logs" / "tensorboard")
    assert [e.value for e in acc.Scalars("test/acc")] == [0.75]
    assert [e.value for e in acc.Scalars("train/loss")] == [1.0]
    run = ml.client.get_run(ml.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.metrics == {"train/loss": 1.0, "test/acc": 0.75, "epoch": 0.0}
