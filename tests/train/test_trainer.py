"""The training loop: what each Trainer setting does, on tiny CPU data."""

from __future__ import annotations

import functools
import math
import os
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from pbgml.data import ArrayDataset, DataModule
from pbgml.metrics import PerClassAccuracy
from pbgml.optim import SchedulerFactory, WarmupCosineLR
from pbgml.train import (
    Callback,
    ClassificationTask,
    Interrupted,
    Logger,
    NonFiniteLossError,
    RegressionTask,
    Task,
    Trainer,
    TrainerError,
    seed_everything,
)


def make_data(
    n: int = 64, features: int = 4, classes: int = 3, seed: int = 0, **kwargs: Any
) -> DataModule:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long() if classes == 3 else (x[:, 0] > 0).long()
    options: dict[str, Any] = {"val_split": 16, "batch_size": 8, "seed": seed}
    options.update(kwargs)
    return DataModule(ArrayDataset(x, y, classes=[f"c{i}" for i in range(classes)]), **options)


def make_loader(
    n: int = 32, features: int = 4, batch_size: int = 8, seed: int = 0
) -> DataLoader[Any]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=g)
    return DataLoader(TensorDataset(x, (x[:, 0] > 0).long()), batch_size=batch_size)


def sgd(lr: float = 0.1) -> functools.partial[torch.optim.SGD]:
    return functools.partial(torch.optim.SGD, lr=lr)


def quiet(**kwargs: Any) -> Trainer:
    kwargs.setdefault("callbacks", [])
    kwargs.setdefault("logger", False)
    return Trainer(**kwargs)


class Steps(Callback):
    """Records what the loop did: batches, steps, validations, epochs."""

    def __init__(self) -> None:
        self.batches: list[tuple[int, int]] = []
        self.steps: list[int] = []
        self.validations: list[tuple[int, int]] = []
        self.epochs: list[int] = []
        self.losses: list[float] = []

    def on_train_batch_end(
        self,
        trainer: Trainer,
        task: Task,
        outputs: Mapping[str, Tensor],
        batch: Any,
        batch_idx: int,
    ) -> None:
        self.batches.append((trainer.current_epoch, batch_idx))
        self.losses.append(float(outputs["loss"]))

    def on_before_optimizer_step(self, trainer: Trainer, task: Task, optimizer: Any) -> None:
        self.steps.append(trainer.global_step)

    def on_validation_epoch_end(self, trainer: Trainer, task: Task) -> None:
        if not trainer.sanity_checking:
            self.validations.append((trainer.current_epoch, trainer.batch_idx))

    def on_train_epoch_end(self, trainer: Trainer, task: Task) -> None:
        self.epochs.append(trainer.current_epoch)


def task(lr: float = 0.1, **kwargs: Any) -> ClassificationTask:
    return ClassificationTask(
        nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3)), optimizer=sgd(lr), **kwargs
    )


def test_loss_decreases_and_metrics_are_named_by_stage() -> None:
    data = make_data(n=128)
    t = task(lr=0.3)
    trainer = quiet(max_epochs=1)
    trainer.fit(t, data)
    first = trainer.callback_metrics["train/loss"]
    trainer = quiet(max_epochs=10)
    trainer.fit(t, data)
    assert trainer.callback_metrics["train/loss"] < 0.7 * first
    assert set(trainer.callback_metrics) == {"train/loss", "val/loss", "val/acc"}
    assert trainer.callback_metrics["val/acc"] > 0.7
    assert trainer.global_step == 10 * math.ceil(112 / 8)


def test_epoch_values_are_batch_size_weighted_means() -> None:
    # 20 samples, batch 8: batches of 8, 8 and 4
    data = make_data(n=36, val_split=16)
    t = task(lr=0.0)
    trainer = quiet(max_epochs=1, num_sanity_val_steps=0)
    trainer.fit(t, data)
    x, y = next(iter(torch.utils.data.DataLoader(data.val_dataset, batch_size=100)))
    with torch.no_grad():
        expected = nn.functional.cross_entropy(t.model(x), y).item()
    assert trainer.callback_metrics["val/loss"] == pytest.approx(expected, rel=1e-6)


def test_two_seeded_runs_give_bit_identical_weights() -> None:
    def run() -> dict[str, Tensor]:
        seed_everything(7)
        t = ClassificationTask(
            nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.5), nn.Linear(16, 3)),
            optimizer=functools.partial(torch.optim.AdamW, lr=1e-2),
        )
        quiet(max_epochs=3).fit(t, make_data(num_workers=0))
        return {k: v.clone() for k, v in t.state_dict().items()}

    a, b = run(), run()
    assert all(torch.equal(a[k], b[k]) for k in a)
    seed_everything(8)
    c = ClassificationTask(nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.5), nn.Linear(16, 3)))
    assert not torch.equal(c.state_dict()["model.0.weight"], a["model.0.weight"])


def test_gradient_accumulation_equals_one_big_batch() -> None:
    loader_small = make_loader(n=32, batch_size=8)
    loader_big = make_loader(n=32, batch_size=16)
    torch.manual_seed(0)
    a = ClassificationTask(nn.Linear(4, 2), optimizer=sgd(0.5))
    b = ClassificationTask(nn.Linear(4, 2), optimizer=sgd(0.5))
    b.load_state_dict(a.state_dict())
    steps = Steps()
    trainer = quiet(max_epochs=1, accumulate_grad_batches=2, callbacks=[steps])
    trainer.fit(a, train_dataloaders=loader_small)
    assert trainer.global_step == 2
    assert steps.steps == [0, 1]  # the optimizer stepped on batches 1 and 3
    quiet(max_epochs=1).fit(b, train_dataloaders=loader_big)
    for key, value in a.state_dict().items():
        torch.testing.assert_close(value, b.state_dict()[key], rtol=1e-5, atol=1e-6)


def test_accumulation_steps_on_the_last_incomplete_group() -> None:
    trainer = quiet(max_epochs=1, accumulate_grad_batches=3)
    trainer.fit(task(), train_dataloaders=make_loader(n=32, batch_size=8))  # 4 batches
    assert trainer.global_step == 2
    assert trainer.estimated_stepping_batches == 2


class GradProbe(Callback):
    def __init__(self) -> None:
        self.norms: list[float] = []
        self.max_abs: list[float] = []

    def on_before_optimizer_step(self, trainer: Trainer, task: Task, optimizer: Any) -> None:
        grads = [p.grad for p in task.parameters() if p.grad is not None]
        self.norms.append(float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))))
        self.max_abs.append(max(float(g.abs().max()) for g in grads))


@pytest.mark.parametrize(("algorithm", "clip"), [("norm", 0.05), ("value", 0.01)])
def test_gradient_clipping(algorithm: str, clip: float) -> None:
    probe = GradProbe()
    trainer = quiet(
        max_epochs=1, gradient_clip_val=clip, gradient_clip_algorithm=algorithm, callbacks=[probe]
    )
    trainer.fit(task(lr=1.0), train_dataloaders=make_loader())
    unclipped = GradProbe()
    quiet(max_epochs=1, callbacks=[unclipped]).fit(task(lr=1.0), train_dataloaders=make_loader())
    if algorithm == "norm":
        assert max(probe.norms) <= clip * (1 + 1e-4)
        assert max(unclipped.norms) > clip
    else:
        assert max(probe.max_abs) <= clip + 1e-7
        assert max(unclipped.max_abs) > clip


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        (1.0, [(0, 5), (1, 5)]),
        (0.5, [(0, 2), (0, 5), (1, 2), (1, 5)]),
        (2, [(0, 1), (0, 3), (0, 5), (1, 1), (1, 3), (1, 5)]),
    ],
)
def test_val_check_interval_float_and_int(interval: float, expected: list[tuple[int, int]]) -> None:
    steps = Steps()
    trainer = quiet(max_epochs=2, val_check_interval=interval, callbacks=[steps])
    trainer.fit(task(), make_data(n=64))  # 48 training samples: 6 batches
    assert steps.validations == expected


def test_val_check_interval_int_across_epochs_and_check_every_n_epoch() -> None:
    steps = Steps()
    quiet(max_epochs=2, val_check_interval=4, check_val_every_n_epoch=None, callbacks=[steps]).fit(
        task(), make_data(n=64)
    )
    assert steps.validations == [(0, 3), (1, 1), (1, 5)]  # batches 4, 8, 12 overall
    steps = Steps()
    quiet(max_epochs=4, check_val_every_n_epoch=2, callbacks=[steps]).fit(task(), make_data(n=64))
    assert steps.validations == [(1, 5), (3, 5)]
    with pytest.raises(TrainerError, match="more than the 6 training batches") as info:
        quiet(max_epochs=1, val_check_interval=7).fit(task(), make_data(n=64))
    assert info.value.param == "val_check_interval"


def test_limit_batches() -> None:
    steps = Steps()
    trainer = quiet(max_epochs=1, limit_train_batches=0.5, limit_val_batches=1, callbacks=[steps])
    trainer.fit(task(), make_data(n=64))
    assert steps.batches == [(0, 0), (0, 1), (0, 2)]
    assert trainer.num_training_batches == 3
    assert trainer.num_val_batches == 1
    trainer = quiet(max_epochs=1, limit_train_batches=2, limit_test_batches=1)
    trainer.fit(task(), make_data(n=64))
    assert trainer.global_step == 2
    data = make_data(n=64, test=make_data(n=64).train)
    (result,) = trainer.test(task(), data)
    assert set(result) == {"test/loss", "test/acc"}


def test_fast_dev_run_runs_one_batch_and_writes_nothing(tmp_path: Path) -> None:
    steps = Steps()
    from pbgml.train import ModelCheckpoint

    trainer = Trainer(
        fast_dev_run=True, default_root_dir=tmp_path, callbacks=[steps, ModelCheckpoint()]
    )
    trainer.fit(task(), make_data())
    assert steps.batches == [(0, 0)]
    assert steps.validations == [(0, 0)]
    assert trainer.loggers == []
    assert list(tmp_path.iterdir()) == []


def test_max_steps_min_and_max_epochs() -> None:
    steps = Steps()
    trainer = quiet(max_epochs=None, max_steps=8, callbacks=[steps])
    trainer.fit(task(), make_data(n=64))  # 6 batches an epoch
    assert trainer.global_step == 8
    assert steps.batches[-1] == (1, 1)

    class StopNow(Callback):
        def on_train_epoch_end(self, trainer: Trainer, task: Task) -> None:
            trainer.should_stop = True

    trainer = quiet(max_epochs=10, min_epochs=3, callbacks=[StopNow()])
    trainer.fit(task(), make_data(n=64))
    assert trainer.current_epoch == 3
    trainer = quiet(max_epochs=10, callbacks=[StopNow()])
    trainer.fit(task(), make_data(n=64))
    assert trainer.current_epoch == 1
    trainer = quiet(max_epochs=2)
    trainer.fit(task(), make_data(n=64))
    assert (trainer.current_epoch, trainer.global_step) == (2, 12)


class NaNAt(Task):
    def __init__(self, bad_batch: int) -> None:
        super().__init__(nn.Linear(4, 1))
        self.bad_batch = bad_batch

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        x, _ = batch
        loss = self.model(x).pow(2).mean()
        bad = self.trainer.current_epoch == 1 and batch_idx == self.bad_batch
        return loss * float("nan") if bad else loss

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=0.01)


def test_non_finite_loss_stops_before_the_optimizer_step(tmp_path: Path) -> None:
    t = NaNAt(bad_batch=2)
    steps = Steps()
    from pbgml.train import ModelCheckpoint

    trainer = quiet(max_epochs=3, callbacks=[steps, ModelCheckpoint()], default_root_dir=tmp_path)
    with pytest.raises(NonFiniteLossError, match=r"epoch 1, global step 6, batch 2") as info:
        trainer.fit(t, train_dataloaders=make_loader(n=32))
    assert (info.value.epoch, info.value.step, info.value.batch_idx) == (1, 6, 2)
    assert steps.steps == [0, 1, 2, 3, 4, 5]  # no step on the bad batch
    assert all(torch.isfinite(p).all() for p in t.parameters())
    assert t.model.weight.grad is None or torch.isfinite(t.model.weight.grad).all()
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["loop"]["global_step"] == 4


def test_mapping_output_plain_module_and_log() -> None:
    class Logged(Task):
        def training_step(self, batch: Any, batch_idx: int) -> Mapping[str, Tensor]:
            x, y = batch
            loss = nn.functional.cross_entropy(self(x), y)
            self.log("double", loss * 2)
            return {"loss": loss, "extra": loss.detach()}

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            x, y = batch
            self.log("val/custom", (self(x).argmax(1) == y).float().mean())

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.1)

    trainer = quiet(max_epochs=1)
    trainer.fit(Logged(nn.Linear(4, 3)), make_data())
    m = trainer.callback_metrics
    assert set(m) == {"train/loss", "train/double", "val/custom"}
    assert m["train/double"] == pytest.approx(2 * m["train/loss"], rel=1e-5)


class ListLogger(Logger):
    def __init__(self) -> None:
        self.metrics: list[tuple[int, dict[str, float]]] = []
        self.hparams: list[dict[str, Any]] = []
        self.status: list[str] = []

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        self.metrics.append((step, dict(metrics)))

    def log_hyperparams(self, params: Mapping[str, Any]) -> None:
        self.hparams.append(dict(params))

    def finalize(self, status: str) -> None:
        self.status.append(status)


def test_logging_every_n_steps_hparams_and_counts() -> None:
    lg = ListLogger()
    trainer = Trainer(
        max_epochs=2,
        log_every_n_steps=4,
        callbacks=[],
        logger=lg,
        hparams={"lr": 0.1},
        config_text="model: {}\n",
    )
    trainer.fit(task(), make_data(n=64))
    step_logs = [s for s, m in lg.metrics if "train/loss" in m and "val/loss" not in m]
    assert step_logs[:3] == [4, 6, 8]  # step 4, the end of epoch 0 (6), step 8
    assert lg.hparams == [
        {
            "lr": 0.1,
            "model/params/total": 131,
            "model/params/trainable": 131,
            "model/params/non_trainable": 0,
        }
    ]
    assert lg.status == ["success"]
    assert all("epoch" in m for _, m in lg.metrics)
    assert trainer.logged_metrics["epoch"] == 1


def test_logger_false_and_empty_list_log_nothing(tmp_path: Path) -> None:
    for logger in (False, []):
        trainer = Trainer(max_epochs=1, callbacks=[], logger=logger, default_root_dir=tmp_path)
        assert trainer.loggers == []
        trainer.fit(task(), make_data())
    assert list(tmp_path.iterdir()) == []


def test_callbacks_empty_writes_nothing(tmp_path: Path) -> None:
    trainer = Trainer(max_epochs=2, callbacks=[], logger=False, default_root_dir=tmp_path)
    trainer.fit(task(), make_data())
    assert trainer.callbacks == []
    assert trainer.checkpoint_callback is None
    assert list(tmp_path.iterdir()) == []


def test_default_callbacks_and_logger(tmp_path: Path) -> None:
    from pbgml.train import CSVLogger, ModelCheckpoint, ModelSummary, ProgressBar

    trainer = Trainer(max_epochs=1, default_root_dir=tmp_path)
    kinds = [type(cb) for cb in trainer.callbacks]
    assert kinds == [ModelCheckpoint, ProgressBar, ModelSummary]
    assert [type(lg) for lg in trainer.loggers] == [CSVLogger]
    trainer = Trainer(enable_progress_bar=False, enable_model_summary=False, logger=False)
    assert [type(cb) for cb in trainer.callbacks] == [ModelCheckpoint]


def test_hooks_are_dispatched_only_to_callbacks_that_override_them() -> None:
    steps = Steps()
    trainer = quiet(callbacks=[steps, Callback()])
    trainer._compute_hooks()
    assert trainer._hooks["on_train_batch_end"] == [steps]
    assert trainer._hooks["on_train_batch_start"] == []


def test_validate_test_and_predict() -> None:
    data = make_data(
        n=64,
        test=make_data(n=40, seed=3).train,
        predict=torch.utils.data.TensorDataset(torch.randn(10, 4)),
    )
    t = task(
        metrics={"acc": __import__("pbgml").metrics.Accuracy(), "acc_{class}": PerClassAccuracy(3)}
    )
    trainer = quiet(max_epochs=2)
    trainer.fit(t, data)
    (val,) = trainer.validate(t, data)
    assert set(val) == {"val/loss", "val/acc", "val/acc_c0", "val/acc_c1", "val/acc_c2"}
    (test,) = trainer.test(t, data)
    assert test["test/acc"] == trainer.callback_metrics["test/acc"]
    out = trainer.predict(t, data)
    assert [tuple(o.shape) for o in out] == [(8, 3), (2, 3)]
    plain = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.randn(6, 4)), batch_size=4
    )
    assert len(trainer.predict(t, dataloaders=plain)) == 2


def test_regression_task() -> None:
    from pbgml.data import DataModule, SyntheticRegression

    data = DataModule(SyntheticRegression(96, 3, noise=0.0), val_split=16, batch_size=16)
    t = RegressionTask(nn.Linear(3, 1), optimizer=sgd(0.1))
    trainer = quiet(max_epochs=15)
    trainer.fit(t, data)
    assert trainer.callback_metrics["val/mse"] < 0.05


def test_bf16_mixed_precision_on_cpu() -> None:
    t = task()
    probe: list[torch.dtype] = []
    original = t.model.forward

    def forward(x: Tensor) -> Tensor:
        out = original(x)
        probe.append(out.dtype)
        return out

    t.model.forward = forward  # type: ignore[method-assign]
    trainer = quiet(max_epochs=1, precision="bf16-mixed")
    trainer.fit(t, make_data())
    assert torch.bfloat16 in probe
    assert all(p.dtype == torch.float32 for p in t.parameters())
    assert math.isfinite(trainer.callback_metrics["train/loss"])


def _cosine(**kwargs: Any) -> SchedulerFactory:
    return SchedulerFactory(
        functools.partial(torch.optim.lr_scheduler.CosineAnnealingLR, T_max=None), **kwargs
    )


@pytest.mark.parametrize(
    ("factory", "trainer_kwargs", "attribute", "expected"),
    [
        (_cosine(interval="step"), {"max_epochs": 3}, "T_max", 18),
        (_cosine(interval="step"), {"max_epochs": 3, "accumulate_grad_batches": 4}, "T_max", 6),
        (_cosine(interval="step", frequency=2), {"max_epochs": 3}, "T_max", 9),
        (_cosine(), {"max_epochs": 3}, "T_max", 3),
        (_cosine(interval="step"), {"max_epochs": None, "max_steps": 10}, "T_max", 10),
        (_cosine(interval="step"), {"max_epochs": 3, "limit_train_batches": 0.5}, "T_max", 9),
        (
            SchedulerFactory(
                functools.partial(torch.optim.lr_scheduler.OneCycleLR, max_lr=0.1), interval="step"
            ),
            {"max_epochs": 2, "max_steps": 9},
            "total_steps",
            9,
        ),
        (
            SchedulerFactory(
                functools.partial(WarmupCosineLR, warmup_steps=2, total_steps=None), interval="step"
            ),
            {"max_epochs": 2},
            "total_steps",
            12,
        ),
    ],
)
def test_schedulers_left_unsized_are_sized_from_the_run(
    factory: SchedulerFactory, trainer_kwargs: dict[str, Any], attribute: str, expected: int
) -> None:
    t = task(scheduler=factory)
    trainer = quiet(**trainer_kwargs)
    trainer.fit(t, make_data(n=64))  # 6 batches an epoch
    (scheduled,) = trainer.lr_schedulers
    assert getattr(scheduled.scheduler, attribute) == expected
    if attribute == "T_max" and factory.interval == "step" and factory.frequency == 1:
        assert scheduled.calls == trainer.global_step


def test_scheduler_factory_without_a_length_refuses() -> None:
    optimizer = torch.optim.SGD(nn.Linear(2, 1).parameters(), lr=1.0)
    with pytest.raises(ValueError, match=r"T_max: None asks the trainer"):
        _cosine(interval="step")(optimizer)


def test_plateau_scheduler_steps_on_the_monitored_metric() -> None:
    factory = SchedulerFactory(
        functools.partial(torch.optim.lr_scheduler.ReduceLROnPlateau, patience=0, factor=0.5),
        monitor="val/loss",
    )
    t = task(lr=0.0, scheduler=factory)  # lr 0: val/loss never improves
    trainer = quiet(max_epochs=3)
    trainer.fit(t, make_data())
    assert trainer.lr_schedulers[0].calls == 3


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"max_epochs": -2}, "max_epochs"),
        ({"accumulate_grad_batches": 0}, "accumulate_grad_batches"),
        ({"val_check_interval": 1.5}, "val_check_interval"),
        ({"val_check_interval": 0}, "val_check_interval"),
        ({"limit_train_batches": -1}, "limit_train_batches"),
        ({"limit_val_batches": "all"}, "limit_val_batches"),
        ({"precision": "64"}, "precision"),
        ({"accelerator": "tpu"}, "accelerator"),
        ({"devices": 2}, "devices"),
        pytest.param(
            {"accelerator": "cuda"},
            "accelerator",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available"),
        ),
        ({"gradient_clip_val": -1.0}, "gradient_clip_val"),
        ({"gradient_clip_algorithm": "l2"}, "gradient_clip_algorithm"),
        ({"max_epochs": None}, "max_epochs"),
        ({"log_every_n_steps": 0}, "log_every_n_steps"),
        ({"callbacks": [object()]}, "callbacks"),
        ({"logger": [object()]}, "logger"),
    ],
)
def test_bad_settings_name_the_argument(kwargs: dict[str, Any], param: str) -> None:
    with pytest.raises(TrainerError) as info:
        Trainer(**kwargs)
    assert info.value.param == param
    assert isinstance(info.value, ValueError)
    assert param in str(info.value)


def test_fit_refuses_what_is_not_a_task() -> None:
    with pytest.raises(TrainerError, match="ClassificationTask") as info:
        quiet().fit(nn.Linear(2, 2), train_dataloaders=make_loader())  # type: ignore[arg-type]
    assert info.value.param == "task"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_moves_model_and_batches() -> None:  # pragma: no cover - no GPU here
    t = task()
    trainer = Trainer(max_epochs=1, callbacks=[], logger=False, accelerator="cuda")
    trainer.fit(t, make_data(pin_memory=True))
    assert next(t.parameters()).is_cuda


def test_plain_train_and_val_dataloaders() -> None:
    steps = Steps()
    trainer = quiet(max_epochs=2, callbacks=[steps], num_sanity_val_steps=1)
    trainer.fit(
        task(), train_dataloaders=make_loader(n=32), val_dataloaders=make_loader(n=16, seed=1)
    )
    assert steps.validations == [(0, 3), (1, 3)]
    assert set(trainer.callback_metrics) == {"train/loss", "val/loss", "val/acc"}


@pytest.mark.parametrize("signum", [s for s in ("SIGTERM", "SIGUSR1") if hasattr(signal, s)])
def test_a_signal_during_fit_checkpoints_then_raises_interrupted(
    tmp_path: Path, signum: str
) -> None:
    sig = getattr(signal, signum)
    before = signal.getsignal(sig)

    class Send(Callback):
        def on_train_batch_end(
            self, trainer: Trainer, task: Task, outputs: Any, batch: Any, batch_idx: int
        ) -> None:
            if trainer.global_step == 3:
                os.kill(os.getpid(), sig)

    lg = ListLogger()
    trainer = Trainer(max_epochs=3, callbacks=[Send()], logger=lg, default_root_dir=tmp_path)
    with pytest.raises(Interrupted) as info:
        trainer.fit(task(), make_data())
    assert info.value.signal == sig
    assert info.value.checkpoint_path == str(tmp_path / "checkpoints" / "last.ckpt")
    ckpt = torch.load(info.value.checkpoint_path, weights_only=True)
    assert (ckpt["loop"]["global_step"], ckpt["loop"]["batch"]) == (3, 3)
    assert signal.getsignal(sig) is before  # the previous handler is back
    assert lg.status == ["interrupted"]


def test_default_trainer_writes_checkpoints_and_csv_logs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trainer = Trainer(max_epochs=2, default_root_dir=tmp_path, enable_progress_bar=False)
    trainer.fit(task(), make_data())
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()
    assert (tmp_path / "checkpoints" / "epoch=001-step=000012.ckpt").is_file()
    assert trainer.run_dir == tmp_path
    assert (tmp_path / "logs" / "metrics.csv").is_file()


def test_seed_everything_deterministic_turns_on_deterministic_algorithms() -> None:
    before = torch.are_deterministic_algorithms_enabled()
    try:
        seed_everything(1, deterministic=True)
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(before)


def test_a_loader_given_as_data_trains_and_is_not_validated_on() -> None:
    steps = Steps()
    trainer = quiet(max_epochs=1, callbacks=[steps])
    trainer.fit(task(), make_loader(n=16))
    assert steps.batches == [(0, 0), (0, 1)]
    assert steps.validations == []
    (result,) = trainer.validate(task(), make_loader(n=16))
    assert set(result) == {"val/loss", "val/acc"}


def test_accumulation_on_a_loader_without_len_steps_on_the_last_group() -> None:
    class Stream(torch.utils.data.IterableDataset[Any]):
        def __iter__(self) -> Any:
            g = torch.Generator().manual_seed(0)
            for _ in range(5):
                x = torch.randn(4, generator=g)
                yield x, (x[0] > 0).long()

    steps = Steps()
    trainer = quiet(max_epochs=2, accumulate_grad_batches=2, callbacks=[steps])
    stream = DataLoader(Stream(), batch_size=1)
    trainer.fit(task(), train_dataloaders=stream, val_dataloaders=make_loader(n=8))
    assert trainer.global_step == 6  # 2 + 1 (the last, incomplete group) per epoch
    assert steps.validations == [(0, 4), (1, 4)]  # at each epoch's end
    assert math.isinf(trainer.num_training_batches)


def test_no_training_batches_trains_nothing_and_ends() -> None:
    trainer = quiet(max_epochs=None, max_steps=5, limit_train_batches=0)
    trainer.fit(task(), make_data())
    assert (trainer.global_step, trainer.current_epoch) == (0, 0)


def test_several_optimizers_all_step() -> None:
    class Two(Task):
        def training_step(self, batch: Any, batch_idx: int) -> Tensor:
            x, y = batch
            return nn.functional.cross_entropy(self(x), y)

        def configure_optimizers(self) -> Any:
            first = torch.optim.SGD(self.model[0].parameters(), lr=0.1)
            second = torch.optim.SGD(self.model[2].parameters(), lr=0.1)
            return [first, second], []

    t = Two(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)))
    before = [p.detach().clone() for p in t.parameters()]
    trainer = quiet(max_epochs=1)
    trainer.fit(t, train_dataloaders=make_loader())
    assert len(trainer.optimizers) == 2
    assert all(not torch.equal(a, b) for a, b in zip(before, t.parameters(), strict=True))


def test_step_checkpoints_fall_on_optimizer_steps_with_accumulation(tmp_path: Path) -> None:
    from pbgml.train import ModelCheckpoint, load_checkpoint

    cb = ModelCheckpoint(every_n_train_steps=2, every_n_epochs=None, save_top_k=-1)
    trainer = Trainer(
        max_epochs=1,
        accumulate_grad_batches=2,
        callbacks=[cb],
        logger=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(task(), make_data(n=64))  # 6 batches: 3 optimizer steps
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["epoch=000-step=000002.ckpt", "last.ckpt"]
    loop = load_checkpoint(tmp_path / "checkpoints" / "epoch=000-step=000002.ckpt")["loop"]
    assert (loop["batch"], loop["global_step"]) == (4, 2)  # after the 4th batch, not the 5th
