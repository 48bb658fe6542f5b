"""The stock callbacks, driven by a small fake trainer and real torch modules."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from torch import nn

from pbgml._errors import ArgumentError, MissingExtraError
from pbgml.train._base import Logger
from pbgml.train._callbacks import (
    EarlyStopping,
    LearningRateMonitor,
    ModelSummary,
    ParamHistograms,
    ProgressBar,
)


class Recorder(Logger):
    """Keeps every call."""

    def __init__(self) -> None:
        self.metrics: list[tuple[int, dict[str, float]]] = []
        self.histograms: list[tuple[str, torch.Tensor, int]] = []

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        self.metrics.append((step, dict(metrics)))

    def log_histogram(self, name: str, values: torch.Tensor, step: int) -> None:
        self.histograms.append((name, values.clone(), step))


def fake_trainer(**kw: Any) -> Any:
    base: dict[str, Any] = {
        "current_epoch": 0,
        "global_step": 0,
        "callback_metrics": {},
        "logged_metrics": {},
        "should_stop": False,
        "sanity_checking": False,
        "is_global_zero": True,
        "loggers": [],
        "optimizers": [],
        "lr_schedulers": [],
        "max_epochs": 3,
        "max_steps": -1,
        "num_training_batches": 4,
        "run_dir": ".",
    }
    base.update(kw)
    return SimpleNamespace(**base)


# -- EarlyStopping ----------------------------------------------------------------------
def run_early_stopping(
    stopper: EarlyStopping, values: list[float], start: int = 0, key: str = "val/loss"
) -> int | None:
    """Feed one validation per epoch; return the epoch at which should_stop was set."""
    trainer = fake_trainer()
    for epoch in range(start, len(values)):
        trainer.current_epoch = epoch
        trainer.callback_metrics = {key: values[epoch], "train/loss": 1.0}
        stopper.on_validation_epoch_end(trainer, None)
        stopper.on_train_epoch_end(trainer, None)
        if trainer.should_stop:
            return epoch
    return None


def test_early_stopping_stops_after_patience_checks_without_improvement() -> None:
    losses = [1.0, 0.8, 0.7, 0.71, 0.72, 0.69, 0.70, 0.70, 0.70, 0.1]
    stopper = EarlyStopping(patience=3)
    assert run_early_stopping(stopper, losses) == 8
    assert stopper.stopped_epoch == 8
    assert stopper.best_score == pytest.approx(0.69)
    assert stopper.wait_count == 3


def test_early_stopping_max_mode_and_min_delta() -> None:
    accs = [0.5, 0.6, 0.605, 0.609, 0.7]
    # +0.005 and +0.009 are below min_delta=0.01: two checks without improvement
    assert (
        run_early_stopping(
            EarlyStopping("val/acc", patience=2, mode="max", min_delta=0.01), accs, key="val/acc"
        )
        == 3
    )
    assert (
        run_early_stopping(EarlyStopping("val/acc", patience=2, mode="max"), accs, key="val/acc")
        is None
    )


def test_early_stopping_patience_zero_stops_at_first_non_improvement() -> None:
    assert run_early_stopping(EarlyStopping(patience=0), [1.0, 0.9, 0.95]) == 2


def test_early_stopping_resumes_its_counter_from_state_dict(tmp_path: Path) -> None:
    losses = [1.0, 0.5, 0.6, 0.6, 0.4, 0.45, 0.45, 0.45, 0.1]
    uninterrupted = run_early_stopping(EarlyStopping(patience=3), losses)
    assert uninterrupted == 7

    first = EarlyStopping(patience=3)
    assert run_early_stopping(first, losses[:6]) is None  # wait count 1 at epoch 5
    torch.save({"cb": first.state_dict()}, tmp_path / "ckpt.pt")
    state = torch.load(tmp_path / "ckpt.pt", weights_only=True)["cb"]
    assert state["wait_count"] == 1
    assert state["best_score"] == 0.4

    resumed = EarlyStopping(patience=3)
    resumed.load_state_dict(state)
    assert run_early_stopping(resumed, losses, start=6) == uninterrupted
    # without the state, a fresh callback would stop later
    assert run_early_stopping(EarlyStopping(patience=3), losses, start=6) is None


def test_early_stopping_initial_state_survives_weights_only_load(tmp_path: Path) -> None:
    torch.save(EarlyStopping().state_dict(), tmp_path / "s.pt")
    state = torch.load(tmp_path / "s.pt", weights_only=True)
    assert state["best_score"] == float("inf")
    assert state["stopped_epoch"] is None


def test_early_stopping_missing_metric_lists_names_and_suggests() -> None:
    stopper = EarlyStopping(monitor="val/accuracy")
    trainer = fake_trainer(callback_metrics={"val/acc": 0.5, "val/loss": 1.0, "train/loss": 2.0})
    with pytest.raises(ArgumentError) as info:
        stopper.on_validation_epoch_end(trainer, None)
    message = str(info.value)
    assert "'val/accuracy'" in message
    assert "'train/loss', 'val/acc', 'val/loss'" in message
    assert "Did you mean 'val/acc'?" in message
    assert info.value.param == "monitor"


def test_early_stopping_ignores_sanity_check() -> None:
    stopper = EarlyStopping(patience=0)
    trainer = fake_trainer(sanity_checking=True, callback_metrics={})
    stopper.on_validation_epoch_end(trainer, None)  # no metric, no error, no count
    assert not trainer.should_stop
    assert stopper.best_score == float("inf")


def test_early_stopping_without_validation_checks_at_train_epoch_end() -> None:
    stopper = EarlyStopping(monitor="train/loss", patience=1)
    trainer = fake_trainer()
    for epoch, loss in enumerate([1.0, 0.9, 0.95, 0.96]):
        trainer.current_epoch = epoch
        trainer.callback_metrics = {"train/loss": loss}
        stopper.on_train_epoch_end(trainer, None)
        if trainer.should_stop:
            break
    assert stopper.stopped_epoch == 2


def test_early_stopping_does_not_double_check_when_validation_ran() -> None:
    stopper = EarlyStopping(patience=2)
    trainer = fake_trainer(callback_metrics={"val/loss": 1.0})
    for epoch in range(2):
        trainer.current_epoch = epoch
        stopper.on_validation_epoch_end(trainer, None)
        stopper.on_train_epoch_end(trainer, None)
    assert stopper.wait_count == 1  # one check per epoch, not two


def test_early_stopping_stops_on_non_finite(caplog: pytest.LogCaptureFixture) -> None:
    stopper = EarlyStopping(patience=10)
    trainer = fake_trainer(callback_metrics={"val/loss": float("nan")})
    with caplog.at_level(logging.WARNING, logger="pbgml.train"):
        stopper.on_validation_epoch_end(trainer, None)
    assert trainer.should_stop
    assert "not finite" in (stopper.stop_reason or "")
    assert "not finite" in caplog.text
    relaxed = EarlyStopping(patience=10, check_finite=False)
    trainer = fake_trainer(callback_metrics={"val/loss": float("nan")})
    relaxed.on_validation_epoch_end(trainer, None)
    assert not trainer.should_stop


def test_early_stopping_verbose_prints(capsys: pytest.CaptureFixture[str]) -> None:
    run_early_stopping(EarlyStopping(patience=0, verbose=True), [1.0, 2.0])
    out = capsys.readouterr().out
    assert "improved to 1" in out
    assert "stopping at epoch 1" in out


@pytest.mark.parametrize(
    ("kwargs", "param", "text"),
    [
        ({"mode": "mni"}, "mode", "Did you mean 'min'?"),
        ({"patience": -1}, "patience", "int >= 0"),
        ({"patience": 1.5}, "patience", "int >= 0"),
        ({"min_delta": -0.1}, "min_delta", ">= 0"),
        ({"monitor": ""}, "monitor", "metric name"),
    ],
)
def test_early_stopping_rejects_bad_arguments(
    kwargs: dict[str, Any], param: str, text: str
) -> None:
    with pytest.raises(ArgumentError, match=text) as info:
        EarlyStopping(**kwargs)
    assert info.value.param == param


def test_early_stopping_state_key_is_unique_per_monitor() -> None:
    keys = {EarlyStopping("val/loss").state_key, EarlyStopping("val/acc", mode="max").state_key}
    assert len(keys) == 2


# -- LearningRateMonitor ----------------------------------------------------------------
def test_lr_monitor_epoch_values_equal_the_optimizers_lr() -> None:
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    rec = Recorder()
    trainer = fake_trainer(optimizers=[opt], loggers=[rec])
    monitor = LearningRateMonitor()
    expected = []
    for epoch in range(3):
        trainer.current_epoch, trainer.global_step = epoch, epoch * 10
        monitor.on_train_epoch_start(trainer, None)
        expected.append(opt.param_groups[0]["lr"])
        monitor.on_train_batch_start(trainer, None, None, 0)  # epoch interval: ignored
        opt.step()
        sched.step()
    assert [m["lr-SGD"] for _, m in rec.metrics] == expected == [0.1, 0.05, 0.025]
    assert [s for s, _ in rec.metrics] == [0, 10, 20]
    assert [m["epoch"] for _, m in rec.metrics] == [0, 1, 2]
    assert monitor.lrs == {"lr-SGD": expected}


def test_lr_monitor_step_interval_groups_and_duplicates() -> None:
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 1))
    adamw = torch.optim.AdamW(
        [
            {"params": model[0].parameters(), "name": "backbone", "lr": 1e-4},
            {"params": model[1].parameters(), "lr": 1e-3},
        ]
    )
    sgd_a = torch.optim.SGD(model[0].parameters(), lr=0.1, momentum=0.9)
    sgd_b = torch.optim.SGD(model[1].parameters(), lr=0.2)
    sched = torch.optim.lr_scheduler.LambdaLR(adamw, lambda step: 1.0 / (step + 1))
    rec = Recorder()
    trainer = fake_trainer(optimizers=[adamw, sgd_a, sgd_b], loggers=[rec])
    monitor = LearningRateMonitor(logging_interval="step", log_momentum=True)
    monitor.on_train_epoch_start(trainer, None)  # step interval: ignored
    for step in range(3):
        trainer.global_step = step
        for micro_batch in range(2):  # accumulation: one record per optimizer step
            monitor.on_train_batch_start(trainer, None, None, 2 * step + micro_batch)
        adamw.step()
        sched.step()
    assert [s for s, _ in rec.metrics] == [0, 1, 2]
    first = rec.metrics[0][1]
    assert set(first) == {
        "lr-AdamW/backbone",
        "lr-AdamW/pg1",
        "lr-SGD",
        "lr-SGD-1",
        "momentum-AdamW/backbone",
        "momentum-AdamW/pg1",
        "momentum-SGD",
        "momentum-SGD-1",
        "epoch",
    }
    assert [m["lr-AdamW/backbone"] for _, m in rec.metrics] == pytest.approx([1e-4, 5e-5, 1e-4 / 3])
    assert [m["lr-AdamW/pg1"] for _, m in rec.metrics] == pytest.approx([1e-3, 5e-4, 1e-3 / 3])
    assert first["lr-SGD"] == 0.1
    assert first["lr-SGD-1"] == 0.2
    assert first["momentum-SGD"] == 0.9
    assert first["momentum-AdamW/pg1"] == 0.9


def test_lr_monitor_logs_only_on_rank_zero() -> None:
    opt = torch.optim.SGD(nn.Linear(2, 1).parameters(), lr=0.1)
    rec = Recorder()
    trainer = fake_trainer(optimizers=[opt], loggers=[rec], is_global_zero=False)
    LearningRateMonitor().on_train_epoch_start(trainer, None)
    assert rec.metrics == []


def test_lr_monitor_rejects_bad_interval() -> None:
    with pytest.raises(ArgumentError, match="Did you mean 'step'") as info:
        LearningRateMonitor(logging_interval="steps")
    assert info.value.param == "logging_interval"


# -- ParamHistograms --------------------------------------------------------------------
def test_param_histograms_every_parameter_and_gradient() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    model(torch.randn(5, 3)).sum().backward()
    model[2].bias.grad = None
    rec = Recorder()
    trainer = fake_trainer(loggers=[rec], global_step=12)
    ParamHistograms().on_train_epoch_end(trainer, SimpleNamespace(model=model))
    names = [n for n, _, _ in rec.histograms]
    assert names == [
        "params/0.weight",
        "grads/0.weight",
        "params/0.bias",
        "grads/0.bias",
        "params/2.weight",
        "grads/2.weight",
        "params/2.bias",
    ]
    values = dict((n, v) for n, v, _ in rec.histograms)
    assert torch.equal(values["params/0.weight"], model[0].weight.detach())
    assert torch.equal(values["grads/0.weight"], model[0].weight.grad)
    assert {s for _, _, s in rec.histograms} == {12}


def test_param_histograms_every_n_epochs_and_skips_loggers_without_histograms() -> None:
    class NoHist(Logger):
        pass

    rec = Recorder()
    trainer = fake_trainer(loggers=[NoHist(), rec])
    callback = ParamHistograms(every_n_epochs=2)
    task = SimpleNamespace(model=nn.Linear(2, 2))
    logged_epochs = []
    for epoch in range(5):
        trainer.current_epoch = epoch
        before = len(rec.histograms)
        callback.on_train_epoch_end(trainer, task)
        if len(rec.histograms) > before:
            logged_epochs.append(epoch)
    assert logged_epochs == [1, 3]


def test_param_histograms_warns_when_no_logger_records_histograms() -> None:
    class NoHist(Logger):
        pass

    with pytest.warns(
        UserWarning, match=r"none of the trainer's loggers records histograms \(NoHist\)"
    ):
        ParamHistograms().setup(fake_trainer(loggers=[NoHist()]), None, "fit")
    ParamHistograms().setup(fake_trainer(loggers=[Recorder()]), None, "fit")  # no warning


def test_param_histograms_reach_tensorboard_event_files(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from pbgml.train._loggers import TensorBoardLogger

    logger = TensorBoardLogger()
    logger.setup(str(tmp_path))
    model = nn.Linear(3, 2)
    model(torch.randn(4, 3)).sum().backward()
    trainer = fake_trainer(loggers=[logger], global_step=7)
    ParamHistograms().on_train_epoch_end(trainer, SimpleNamespace(model=model))
    logger.finalize("success")
    acc = EventAccumulator(str(tmp_path / "logs" / "tensorboard"), size_guidance={"histograms": 0})
    acc.Reload()
    assert set(acc.Tags()["histograms"]) == {
        "params/weight",
        "params/bias",
        "grads/weight",
        "grads/bias",
    }
    (event,) = acc.Histograms("params/weight")
    assert event.step == 7
    assert event.histogram_value.num == 6
    assert event.histogram_value.min == pytest.approx(model.weight.min().item())
    assert event.histogram_value.max == pytest.approx(model.weight.max().item())


def test_param_histograms_rejects_bad_every_n_epochs() -> None:
    with pytest.raises(ArgumentError, match="every_n_epochs=0"):
        ParamHistograms(every_n_epochs=0)


# -- ProgressBar ------------------------------------------------------------------------
class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


class CountingLoss:
    """A loss whose .item() calls are counted (each is a device sync on a GPU)."""

    def __init__(self, value: float) -> None:
        self.value = value
        self.calls = 0

    def item(self) -> float:
        self.calls += 1
        return self.value


def drive_bar(bar: ProgressBar, epochs: int, batches: int, loss: Any) -> Any:
    trainer = fake_trainer(max_epochs=epochs, num_training_batches=batches)
    bar.setup(trainer, None, "fit")
    for epoch in range(epochs):
        trainer.current_epoch = epoch
        bar.on_train_epoch_start(trainer, None)
        for i in range(batches):
            trainer.global_step += 1
            bar.on_train_batch_end(trainer, None, {"loss": loss}, None, i)
        trainer.callback_metrics = {"val/acc": 0.875, "train/loss": 0.3}
        bar.on_validation_epoch_end(trainer, None)
        bar.on_train_epoch_end(trainer, None)
    bar.teardown(trainer, None, "fit")
    return trainer


def test_progress_bar_is_silent_when_not_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)  # not even imported
    out = io.StringIO()
    loss = CountingLoss(0.5)
    drive_bar(ProgressBar(file=out), epochs=2, batches=5, loss=loss)
    assert out.getvalue() == ""
    assert loss.calls == 0
    # the default stream, sys.stderr, is not a terminal under pytest
    drive_bar(ProgressBar(), epochs=1, batches=3, loss=loss)
    captured = capsys.readouterr()
    assert captured.out == captured.err == ""


def test_progress_bar_shows_epoch_loss_step_rate_on_a_terminal() -> None:
    pytest.importorskip("tqdm")
    out = FakeTTY()
    bar = ProgressBar(file=out)
    bar.min_interval = 0.0  # redraw at every refresh
    drive_bar(bar, epochs=2, batches=6, loss=torch.tensor(0.25))
    text = out.getvalue()
    assert "Epoch 1/2" in text
    assert "Epoch 2/2" in text
    assert "loss=0.25" in text
    assert "step=12" in text
    assert "it/s" in text
    assert "val/acc=0.875" in text
    assert "6/6" in text


def test_progress_bar_reads_the_loss_only_when_refreshing() -> None:
    pytest.importorskip("tqdm")
    bar = ProgressBar(refresh_rate=5, file=FakeTTY())
    bar.min_interval = 0.0
    loss = CountingLoss(0.5)
    drive_bar(bar, epochs=1, batches=12, loss=loss)
    assert loss.calls == 2  # after batches 5 and 10
    slow = ProgressBar(refresh_rate=1, file=FakeTTY())
    slow.min_interval = 3600.0  # at most one redraw with a new loss
    loss = CountingLoss(0.5)
    drive_bar(slow, epochs=1, batches=50, loss=loss)
    assert loss.calls <= 1


def test_progress_bar_counts_every_batch_with_refresh_rate() -> None:
    pytest.importorskip("tqdm")
    bar = ProgressBar(refresh_rate=4, file=FakeTTY(), leave=True)
    trainer = fake_trainer(max_epochs=1, num_training_batches=10)
    bar.setup(trainer, None, "fit")
    bar.on_train_epoch_start(trainer, None)
    for i in range(10):
        bar.on_train_batch_end(trainer, None, {"loss": torch.tensor(1.0)}, None, i)
    assert bar._bar.n == 8
    bar.on_train_epoch_end(trainer, None)
    assert bar._bar.n == 10
    bar.teardown(trainer, None, "fit")
    assert bar._bar is None


def test_progress_bar_quiet_on_other_ranks_and_other_stages() -> None:
    out = FakeTTY()
    bar = ProgressBar(file=out)
    bar.setup(fake_trainer(is_global_zero=False), None, "fit")
    assert not bar.enabled
    bar.setup(fake_trainer(), None, "validate")
    assert not bar.enabled
    assert out.getvalue() == ""


def test_progress_bar_without_tqdm_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)
    with pytest.raises(MissingExtraError, match=r"pip install pbgml\[progress\]"):
        ProgressBar(file=FakeTTY()).setup(fake_trainer(), None, "fit")


def test_progress_bar_with_broken_tqdm_is_a_pbgml_error(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        def find_spec(self, name: str, *args: Any) -> None:
            if name == "tqdm":
                raise RuntimeError("tqdm is broken")

    monkeypatch.delitem(sys.modules, "tqdm", raising=False)
    monkeypatch.setattr(sys, "meta_path", [Broken(), *sys.meta_path])
    with pytest.raises(MissingExtraError, match=r"RuntimeError: tqdm is broken.*pbgml\[progress\]"):
        ProgressBar(file=FakeTTY()).setup(fake_trainer(), None, "fit")


def test_progress_bar_rejects_bad_refresh_rate() -> None:
    with pytest.raises(ArgumentError, match="refresh_rate=0"):
        ProgressBar(refresh_rate=0)


# -- ModelSummary -----------------------------------------------------------------------
class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU())
        self.head = nn.Linear(4, 2)
        self.tied = self.head  # the same module twice: counted once in the totals
        self.features.requires_grad_(False)


def test_model_summary_prints_layers_and_counts(capsys: pytest.CaptureFixture[str]) -> None:
    callback = ModelSummary()
    callback.on_fit_start(fake_trainer(), SimpleNamespace(model=Net()))
    out = capsys.readouterr().out
    conv, head = 4 * 1 * 3 * 3 + 4, 4 * 2 + 2
    assert callback.counts == {"total": conv + head, "trainable": head, "non_trainable": conv}
    assert "features  Sequential" in out
    assert "head      Linear" in out
    assert "features.0" not in out  # max_depth=1
    assert f"Trainable params: {head}" in out
    assert f"Non-trainable params: {conv}" in out
    assert f"Total params: {conv + head}" in out


def test_model_summary_depth(capsys: pytest.CaptureFixture[str]) -> None:
    ModelSummary(max_depth=-1).on_fit_start(fake_trainer(), SimpleNamespace(model=Net()))
    assert "features.0  Conv2d" in capsys.readouterr().out
    ModelSummary(max_depth=0).on_fit_start(fake_trainer(), SimpleNamespace(model=Net()))
    out = capsys.readouterr().out
    assert "Layer" not in out
    assert "Total params: 50" in out


def test_model_summary_lazy_and_rank(capsys: pytest.CaptureFixture[str]) -> None:
    lazy = nn.Sequential(nn.LazyLinear(3), nn.Linear(3, 1))
    callback = ModelSummary()
    callback.on_fit_start(fake_trainer(), SimpleNamespace(model=lazy))
    assert "Total params: ?" in capsys.readouterr().out
    assert callback.counts["total"] is None
    ModelSummary().on_fit_start(fake_trainer(is_global_zero=False), SimpleNamespace(model=Net()))
    assert capsys.readouterr().out == ""


def test_model_summary_rejects_bad_depth() -> None:
    with pytest.raises(ArgumentError, match="max_depth=-2"):
        ModelSummary(max_depth=-2)


def test_param_histograms_keep_the_gradients_of_the_epochs_last_step() -> None:
    model = nn.Linear(2, 1)
    rec = Recorder()
    trainer = fake_trainer(loggers=[rec], num_training_batches=3)
    task = SimpleNamespace(model=model)
    callback = ParamHistograms()
    grads = []
    for batch_idx in range(3):
        model.zero_grad(set_to_none=True)
        model(torch.randn(4, 2)).sum().backward()
        grads.append(model.weight.grad.clone())
        trainer.batch_idx = batch_idx
        callback.on_before_optimizer_step(trainer, task, None)
        model.zero_grad(set_to_none=True)  # as the trainer does after the step
    callback.on_train_epoch_end(trainer, task)
    logged = {n: v for n, v, _ in rec.histograms}
    assert torch.equal(logged["grads/weight"], grads[-1])
    assert not callback._grads  # freed at epoch end


# -- with the real Trainer ----------------------------------------------------------------
def make_fit(
    tmp_path: Path, *, lr: float = 0.1, scheduler: Any = None, samples: int = 64
) -> tuple[Any, Any]:
    import functools

    from pbgml.data import DataModule, SyntheticClassification
    from pbgml.train import ClassificationTask

    torch.manual_seed(0)
    data = DataModule(SyntheticClassification(samples, 4, 2), val_split=16, batch_size=16)
    task = ClassificationTask(
        nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)),
        optimizer=functools.partial(torch.optim.SGD, lr=lr),
        scheduler=scheduler,
    )
    return task, data


def trainer(tmp_path: Path, **kw: Any) -> Any:
    from pbgml.train import Trainer

    kw.setdefault("logger", False)
    kw.setdefault("num_sanity_val_steps", 0)
    return Trainer(default_root_dir=tmp_path, **kw)


def test_trainer_early_stopping_stops_and_resumes_at_the_same_epoch(tmp_path: Path) -> None:
    from pbgml.train import ModelCheckpoint

    # lr=0: val/loss never improves after the first epoch; patience 2 stops at epoch 2
    task, data = make_fit(tmp_path, lr=0.0)
    stopper = EarlyStopping(monitor="val/loss", patience=2)
    t = trainer(tmp_path / "a", max_epochs=10, callbacks=[stopper])
    t.fit(task, data)
    assert stopper.stopped_epoch == 2
    assert t.current_epoch == 3
    assert "val/loss" in stopper.stop_reason

    # an interrupted run (2 epochs, wait count 1), resumed from its last checkpoint
    task, data = make_fit(tmp_path, lr=0.0)
    first = EarlyStopping(monitor="val/loss", patience=2)
    ckpt = ModelCheckpoint(save_last=True)
    trainer(tmp_path / "b", max_epochs=2, callbacks=[first, ckpt]).fit(task, data)
    assert first.wait_count == 1
    assert first.stopped_epoch is None
    task, data = make_fit(tmp_path, lr=0.0)
    resumed = EarlyStopping(monitor="val/loss", patience=2)
    t = trainer(tmp_path / "b", max_epochs=10, callbacks=[resumed, ModelCheckpoint(save_last=True)])
    t.fit(task, data, ckpt_path=ckpt.last_model_path)
    assert resumed.stopped_epoch == 2
    assert t.current_epoch == 3


def test_trainer_early_stopping_unknown_monitor(tmp_path: Path) -> None:
    task, data = make_fit(tmp_path)
    t = trainer(tmp_path, max_epochs=3, callbacks=[EarlyStopping(monitor="val/accuracy")])
    with pytest.raises(ArgumentError, match=r"Did you mean 'val/acc'\?"):
        t.fit(task, data)


def test_trainer_lr_monitor_logs_the_optimizers_lr(tmp_path: Path) -> None:
    import functools

    from pbgml.train import CSVLogger

    step_lr = functools.partial(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5)
    task, data = make_fit(tmp_path, scheduler=step_lr)
    rec = Recorder()
    t = trainer(
        tmp_path, max_epochs=3, callbacks=[LearningRateMonitor()], logger=[rec, CSVLogger()]
    )
    t.fit(task, data)
    lrs = [(s, m["lr-SGD"]) for s, m in rec.metrics if "lr-SGD" in m]
    assert lrs == [(0, 0.1), (3, 0.05), (6, 0.025)]  # 3 steps an epoch
    assert t.optimizers[0].param_groups[0]["lr"] == 0.0125
    import csv

    with open(tmp_path / "logs" / "metrics.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["lr-SGD"]]
    assert [(r["step"], r["epoch"], float(r["lr-SGD"])) for r in rows] == [
        ("0", "0", 0.1),
        ("3", "1", 0.05),
        ("6", "2", 0.025),
    ]


def test_trainer_param_histograms_in_tensorboard(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from pbgml.train import TensorBoardLogger

    task, data = make_fit(tmp_path)
    t = trainer(tmp_path, max_epochs=2, callbacks=[ParamHistograms()], logger=[TensorBoardLogger()])
    t.fit(task, data)
    acc = EventAccumulator(str(tmp_path / "logs" / "tensorboard"), size_guidance={"histograms": 0})
    acc.Reload()
    names = [n for n, _ in task.model.named_parameters()]
    assert set(acc.Tags()["histograms"]) == {f"{k}/{n}" for k in ("params", "grads") for n in names}
    assert [e.step for e in acc.Histograms("params/0.weight")] == [3, 6]
    assert [e.step for e in acc.Histograms("grads/2.bias")] == [3, 6]
    last = acc.Histograms("params/0.weight")[-1].histogram_value
    assert last.max == pytest.approx(task.model[0].weight.max().item())


def test_trainer_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    pytest.importorskip("tqdm")
    task, data = make_fit(tmp_path)
    out = FakeTTY()
    bar = ProgressBar(file=out)
    bar.min_interval = 0.0
    trainer(tmp_path, max_epochs=2, callbacks=[bar]).fit(task, data)
    text = out.getvalue()
    assert "Epoch 2/2" in text
    assert "loss=" in text
    assert "step=6" in text
    assert "val/acc=" in text
    assert "3/3" in text


def test_trainer_defaults_print_the_summary_and_no_bar_off_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pbgml.train import Trainer

    task, data = make_fit(tmp_path)
    Trainer(default_root_dir=tmp_path, max_epochs=1, logger=False).fit(task, data)
    captured = capsys.readouterr()
    assert "Total params: 58" in captured.out  # (4*8+8) + (8*2+2)
    assert captured.out.startswith("Sequential: input (1, 4) -> output (1, 2)\n")
    assert "Trainable params: 58" in captured.out
    assert "2      Linear      18" in captured.out
    assert captured.err == ""  # no progress bar: stderr is not a terminal here


def test_early_stopping_only_checks_while_fitting() -> None:
    stopper = EarlyStopping(monitor="train/loss")
    trainer = fake_trainer(callback_metrics={"val/acc": 0.5})
    stopper.setup(trainer, None, "validate")
    stopper.on_validation_epoch_end(trainer, None)  # no train/loss, but not fitting: no error
    assert not trainer.should_stop
    stopper.setup(trainer, None, "fit")
    with pytest.raises(ArgumentError, match="train/loss"):
        stopper.on_validation_epoch_end(trainer, None)


def test_callbacks_use_the_task_itself_without_a_model(capsys: pytest.CaptureFixture[str]) -> None:
    class OwnTask(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.Linear(2, 3)

    ModelSummary().on_fit_start(fake_trainer(), OwnTask())
    assert "encoder  Linear       9" in capsys.readouterr().out
    rec = Recorder()
    ParamHistograms().on_train_epoch_end(fake_trainer(loggers=[rec]), OwnTask())
    assert [n for n, _, _ in rec.histograms] == ["params/encoder.weight", "params/encoder.bias"]
    with pytest.raises(ArgumentError, match="has no model"):
        ModelSummary().on_fit_start(fake_trainer(), SimpleNamespace())


def test_model_summary_shapes_from_the_data(capsys: pytest.CaptureFixture[str]) -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    callback = ModelSummary()
    data = SimpleNamespace(sample_shape=(4,))
    callback.on_fit_start(fake_trainer(datamodule=data), SimpleNamespace(model=model))
    assert capsys.readouterr().out.startswith("Sequential: input (1, 4) -> output (1, 2)\n")
    assert callback.summary.num_parameters == 58
    assert model[0].weight.device.type == "cpu"  # the meta pass leaves the model alone
    wrong = SimpleNamespace(sample_shape=(5,))  # the model cannot take it: no shapes, no error
    callback.on_fit_start(fake_trainer(datamodule=wrong), SimpleNamespace(model=model))
    assert capsys.readouterr().out.startswith("Sequential\nLayer")
    assert callback.summary is None
