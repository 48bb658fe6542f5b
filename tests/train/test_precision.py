"""Precision on CPU: 16-mixed with a CPU GradScaler (skipped steps, clipping, checkpoints), bf16."""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any, cast

import pytest
import torch
from torch import Tensor, nn

from pbgml.data import ArrayDataset, DataModule
from pbgml.metrics import Metric
from pbgml.train import (
    Callback,
    ClassificationTask,
    ModelCheckpoint,
    Trainer,
    TrainerError,
    load_checkpoint,
)


def make_data(n: int = 96, seed: int = 0) -> DataModule:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    return DataModule(
        ArrayDataset(x, y, classes=["a", "b", "c"]), val_split=16, batch_size=8, seed=seed
    )


def make_task(lr: float = 0.1, scheduler: Any = None) -> ClassificationTask:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    return ClassificationTask(
        model, optimizer=functools.partial(torch.optim.SGD, lr=lr), scheduler=scheduler
    )


class EpochLosses(Callback):
    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_train_epoch_end(self, trainer: Trainer, task: Any) -> None:
        self.losses.append(trainer.callback_metrics["train/loss"])


def quiet(**kwargs: Any) -> Trainer:
    kwargs.setdefault("callbacks", [])
    kwargs.setdefault("logger", False)
    kwargs.setdefault("accelerator", "cpu")
    return Trainer(**kwargs)


@pytest.mark.parametrize("precision", ["16-mixed", "bf16-mixed", "bf16-true"])
def test_lower_precisions_train_on_cpu(precision: str) -> None:
    losses = EpochLosses()
    t = make_task()
    trainer = quiet(max_epochs=4, precision=precision, callbacks=[losses])
    trainer.fit(t, make_data())
    assert losses.losses[-1] < losses.losses[0]
    assert all(math.isfinite(v) for v in losses.losses)
    expected = torch.bfloat16 if precision == "bf16-true" else torch.float32
    assert {p.dtype for p in t.model.parameters()} == {expected}
    # the metrics' states never go to bfloat16 (counts would stop being exact)
    metric = t.val_metrics["acc"]
    assert isinstance(metric, Metric)
    assert all(s.dtype != torch.bfloat16 for s in metric.states().values())
    assert 0.0 <= trainer.callback_metrics["val/acc"] <= 1.0
    if precision == "16-mixed":
        assert isinstance(trainer.scaler, torch.amp.GradScaler)
        assert trainer.scaler._device == "cpu"
        assert trainer.skipped_steps == 0
    else:
        assert trainer.scaler is None


def test_bf16_true_feeds_bfloat16_inputs() -> None:
    seen: list[torch.dtype] = []
    t = make_task()
    first = cast(nn.Sequential, t.model)[0]
    first.register_forward_pre_hook(lambda _m, args: seen.append(args[0].dtype))
    quiet(max_epochs=1, precision="bf16-true").fit(t, make_data())
    assert set(seen) == {torch.bfloat16}


class InfGradientOnce(Callback):
    """Makes the gradient of the first layer's weight inf at one batch (a tensor hook);
    records the weights before and after every optimizer step."""

    def __init__(self, batch: int) -> None:
        self.batch = batch
        self.before: list[Tensor] = []
        self.after: list[Tensor] = []
        self.lrs: list[float] = []

    def on_fit_start(self, trainer: Trainer, task: Any) -> None:
        weight = task.model[0].weight

        def hook(grad: Tensor) -> Tensor:
            if trainer.batch_idx == self.batch and trainer.current_epoch == 0:
                return torch.full_like(grad, math.inf)
            return grad

        weight.register_hook(hook)

    def on_train_batch_start(self, trainer: Trainer, task: Any, batch: Any, idx: int) -> None:
        self.before.append(task.model[0].weight.detach().clone())

    def on_train_batch_end(
        self, trainer: Trainer, task: Any, outputs: Any, batch: Any, idx: int
    ) -> None:
        self.after.append(task.model[0].weight.detach().clone())
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])


def test_an_inf_gradient_skips_the_step_and_the_scheduler() -> None:
    from pbgml.optim import SchedulerFactory

    scheduler = SchedulerFactory(
        functools.partial(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.9),
        interval="step",
    )
    spy = InfGradientOnce(batch=2)
    t = make_task(scheduler=scheduler)
    trainer = quiet(max_epochs=1, precision="16-mixed", callbacks=[spy], gradient_clip_val=1.0)
    trainer.fit(t, make_data())
    assert trainer.skipped_steps == 1
    steps = trainer.global_step
    assert steps == 10
    # the skipped step left the weights as they were, the others changed them
    assert torch.equal(spy.before[2], spy.after[2])
    assert not torch.equal(spy.before[1], spy.after[1])
    assert not torch.equal(spy.before[3], spy.after[3])
    # the step scheduler stepped on every optimizer step but the skipped one
    assert trainer.lr_schedulers[0].calls == steps - 1
    assert spy.lrs[2] == pytest.approx(spy.lrs[1])
    assert spy.lrs[3] == pytest.approx(spy.lrs[2] * 0.9)
    assert trainer.scaler.get_scale() == 2.0**16 / 2  # backed off once
    assert all(torch.isfinite(p).all() for p in t.parameters())


class GradNorm(Callback):
    def __init__(self) -> None:
        self.norms: list[float] = []

    def on_before_optimizer_step(self, trainer: Trainer, task: Any, optimizer: Any) -> None:
        grads = [p.grad for p in task.parameters() if p.grad is not None]
        self.norms.append(float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))))


def test_clipping_under_16_mixed_clips_the_unscaled_gradients() -> None:
    norms = GradNorm()
    trainer = quiet(max_epochs=1, precision="16-mixed", gradient_clip_val=1e-3, callbacks=[norms])
    trainer.fit(make_task(), make_data())
    # clipped to the threshold in true units: clipping the scaled gradients (x 65536)
    # and unscaling afterwards would leave norms ~1e-3 / 65536
    assert norms.norms
    assert all(1e-3 * 0.5 < n <= 1e-3 * 1.001 for n in norms.norms)


class ScaleAtStart(Callback):
    def __init__(self) -> None:
        self.scale: float | None = None

    def on_fit_start(self, trainer: Trainer, task: Any) -> None:
        self.scale = trainer.scaler.get_scale()


def test_the_scaler_state_round_trips_through_a_checkpoint(tmp_path: Path) -> None:
    spy = InfGradientOnce(batch=1)
    trainer = quiet(
        max_epochs=1,
        precision="16-mixed",
        default_root_dir=tmp_path,
        callbacks=[spy, ModelCheckpoint()],
    )
    trainer.fit(make_task(), make_data())
    saved = load_checkpoint(tmp_path / "checkpoints" / "last.ckpt")
    assert saved["scaler"] == trainer.scaler.state_dict()
    assert saved["scaler"]["scale"] == 2.0**15
    assert saved["loop"]["skipped_steps"] == 1
    start = ScaleAtStart()
    resumed = quiet(
        max_epochs=2,
        precision="16-mixed",
        default_root_dir=tmp_path,
        callbacks=[start, ModelCheckpoint()],
    )
    resumed.fit(make_task(), make_data(), ckpt_path="last")
    assert start.scale == 2.0**15
    assert resumed.skipped_steps == 1
    assert resumed.global_step == 20


def test_a_32_bit_checkpoint_resumes_under_16_mixed(tmp_path: Path) -> None:
    quiet(max_epochs=1, default_root_dir=tmp_path, callbacks=[ModelCheckpoint()]).fit(
        make_task(), make_data()
    )
    start = ScaleAtStart()
    resumed = quiet(
        max_epochs=2, precision="16-mixed", default_root_dir=tmp_path, callbacks=[start]
    )
    resumed.fit(make_task(), make_data(), ckpt_path=tmp_path / "checkpoints" / "last.ckpt")
    assert start.scale == 2.0**16  # a fresh scaler
    assert resumed.global_step == 20


def test_unknown_precision_lists_bf16_true() -> None:
    with pytest.raises(TrainerError, match="bf16-true") as info:
        Trainer(precision="bf16")
    assert info.value.param == "precision"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_16_mixed_on_cuda_uses_a_cuda_scaler() -> None:  # pragma: no cover - needs a GPU
    t = make_task()
    trainer = quiet(max_epochs=1, precision="16-mixed", accelerator="cuda")
    trainer.fit(t, make_data())
    assert trainer.scaler._device == "cuda"
    assert math.isfinite(trainer.callback_metrics["train/loss"])


def test_tf32_is_a_trainer_setting_that_check_knows() -> None:
    import pbgml
    from pbgml.configs import TrainerConf
    from pbgml.train import Trainer
    from pbgml.train._precision import set_tf32

    assert TrainerConf().tf32 is True
    with pytest.raises(ValueError, match="tf32"):
        Trainer(tf32="yes")  # type: ignore[arg-type]
    assert Trainer(tf32=False, accelerator="cpu").tf32 is False  # no effect on CPU
    before = torch.get_float32_matmul_precision()
    try:
        set_tf32(True)
        assert torch.get_float32_matmul_precision() == "high"
        set_tf32(False)
        assert torch.get_float32_matmul_precision() == "highest"
        torch.export.export(torch.nn.Linear(2, 2), (torch.randn(2, 2),))  # flags consistent
    finally:
        torch.set_float32_matmul_precision(before)
    with pytest.raises(pbgml.ConfigError, match="tf32"):
        pbgml.check({"_target_": "pbgml.train.Trainer", "_partial_": True, "tf32": "on"})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_cuda_trainer_turns_tf32_on_unless_told_not_to() -> None:  # pragma: no cover
    from pbgml.train import Trainer

    before = torch.get_float32_matmul_precision()
    try:
        Trainer(accelerator="cuda")
        assert torch.get_float32_matmul_precision() == "high"
        Trainer(accelerator="cuda", tf32=False)
        assert torch.get_float32_matmul_precision() == "highest"
    finally:
        torch.set_float32_matmul_precision(before)
