"""Tasks' optimizer handling, seeding, signals, registration and the import rule."""

from __future__ import annotations

import ast
import functools
import os
import random
import signal
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import pbgml
from pbgml.data import ArrayDataset, DataModule
from pbgml.metrics import Accuracy, MeanSquaredError
from pbgml.optim import OptimizerFactory, ParamGroups, ScheduledLR, SchedulerFactory
from pbgml.train import (
    ClassificationTask,
    RegressionTask,
    Task,
    Trainer,
    TrainerError,
    build_optimizer,
    build_scheduler,
    seed_everything,
)
from pbgml.train._register import load_callbacks, load_loggers, load_tasks
from pbgml.train._seed import get_rng_state, set_rng_state
from pbgml.train._signals import SignalCatcher

TRAIN = Path(pbgml.__file__).parent / "train"


def test_components_never_import_the_config_layer() -> None:
    banned = ("hydra", "omegaconf", "hydra_zen", "pbgml.config", "pbgml.configs", "pbgml._config")
    for path in sorted(TRAIN.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not any(name == b or name.startswith(b + ".") for b in banned), (
                    path.name,
                    name,
                )


def test_optimizer_forms() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.LayerNorm(2))
    factory = OptimizerFactory(
        functools.partial(torch.optim.AdamW, lr=0.1), ParamGroups(no_decay=("norm",))
    )
    assert len(build_optimizer(factory, model).param_groups) == 2  # called with the model
    assert type(build_optimizer(torch.optim.SGD, model)).__name__ == "SGD"

    def by_params(params: Any) -> torch.optim.Optimizer:
        return torch.optim.Adam(params, lr=0.1)

    def by_model(module: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.SGD(module[0].parameters(), lr=0.1)

    assert type(build_optimizer(by_params, model)).__name__ == "Adam"
    assert len(build_optimizer(by_model, model).param_groups[0]["params"]) == 2
    built = torch.optim.SGD(model.parameters(), lr=1.0)
    assert build_optimizer(built, model) is built
    with pytest.raises(TrainerError) as info:
        build_optimizer(3, model)
    assert info.value.param == "optimizer"


def test_scheduler_forms() -> None:
    opt = torch.optim.SGD(nn.Linear(2, 1).parameters(), lr=1.0)
    step = functools.partial(torch.optim.lr_scheduler.StepLR, step_size=1)
    plain = build_scheduler(step, opt)
    assert isinstance(plain, ScheduledLR)
    assert plain.interval == "epoch"
    assert build_scheduler(None, opt) is None
    scheduled = SchedulerFactory(step, interval="step")(opt)
    assert build_scheduler(scheduled, opt) is scheduled


def test_lightning_style_configure_optimizers_are_understood() -> None:
    class Custom(Task):
        def __init__(self, form: str) -> None:
            super().__init__(nn.Linear(4, 2))
            self.form = form

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            x, y = batch
            return nn.functional.cross_entropy(self(x), y)

        def configure_optimizers(self) -> Any:
            opt = torch.optim.SGD(self.parameters(), lr=0.1)
            sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
            if self.form == "tuple":
                return [opt], [sched]
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    x = torch.randn(16, 4)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, (x[:, 0] > 0).long()), batch_size=8
    )
    for form, expected in (("tuple", 0.1 * 0.5**2), ("dict", 0.1 * 0.5**4)):
        trainer = Trainer(max_epochs=2, callbacks=[], logger=False)
        trainer.fit(Custom(form), train_dataloaders=loader)
        assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(expected)


def test_task_defaults_and_metric_forms() -> None:
    t = ClassificationTask(nn.Linear(2, 2))
    assert isinstance(t.loss, nn.CrossEntropyLoss)
    assert list(t.val_metrics) == ["acc"]
    assert t.val_metrics["acc"] is not t.test_metrics["acc"]
    r = RegressionTask(nn.Linear(2, 1), metrics=[MeanSquaredError(), Accuracy()])
    assert list(r.val_metrics) == ["meansquarederror", "accuracy"]
    with pytest.raises(TrainerError) as info:
        ClassificationTask(nn.Linear(2, 2), metrics={"acc": nn.Linear(1, 1)})  # type: ignore[dict-item]
    assert info.value.param == "metrics"
    with pytest.raises(NotImplementedError, match="training_step"):
        Task(nn.Linear(1, 1)).training_step(None, 0)


def test_seed_everything_seeds_python_numpy_torch_and_refuses_bad_seeds() -> None:
    seed_everything(3)
    a = (random.random(), float(np.random.rand()), float(torch.rand(())))
    seed_everything(3)
    assert a == (random.random(), float(np.random.rand()), float(torch.rand(())))
    state = get_rng_state()
    b = (random.random(), float(np.random.rand()), float(torch.rand(())))
    set_rng_state(state)
    assert b == (random.random(), float(np.random.rand()), float(torch.rand(())))
    for bad in (-1, 2**32, 1.5, True):
        with pytest.raises(TrainerError) as info:
            seed_everything(bad)  # type: ignore[arg-type]
        assert info.value.param == "seed"


def test_deterministic_is_set_during_fit_and_restored() -> None:
    seen: list[bool] = []

    class Probe(pbgml.train.Callback):
        def on_fit_start(self, trainer: Trainer, task: Task) -> None:
            seen.append(torch.are_deterministic_algorithms_enabled())

    x = torch.randn(8, 4)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, (x[:, 0] > 0).long()), batch_size=8
    )
    Trainer(max_epochs=1, callbacks=[Probe()], logger=False, deterministic=True).fit(
        ClassificationTask(nn.Linear(4, 2)), train_dataloaders=loader
    )
    assert seen == [True]
    assert not torch.are_deterministic_algorithms_enabled()


def test_workers_get_different_seeds_per_worker_and_epoch_identical_across_runs() -> None:
    class Draw(torch.utils.data.Dataset[Any]):
        def __len__(self) -> int:
            return 4

        def __getitem__(self, i: int) -> Any:
            return torch.tensor([random.random(), float(np.random.rand()), float(torch.rand(()))])

    def run() -> list[list[float]]:
        dm = DataModule(Draw(), batch_size=1, num_workers=2, shuffle=False, seed=5)
        loader = dm.train_dataloader()
        out = []
        for epoch in (0, 1):
            dm.set_epoch(epoch)
            out.append(torch.cat(list(loader)).flatten().tolist())
        return out

    first, second = run(), run()
    assert first == second
    assert first[0] != first[1]  # per epoch
    rows = torch.tensor(first[0]).reshape(4, 3)
    assert not torch.equal(rows[0], rows[1])  # batch 0 and 1 come from different workers


def test_augmentations_are_seeded_per_epoch_and_sample() -> None:
    data = ArrayDataset(torch.zeros(6, 2), torch.zeros(6))
    dm = DataModule(
        data, batch_size=6, shuffle=False, train_transform=lambda x: x + torch.rand(2), seed=1
    )
    loader = dm.train_dataloader()
    dm.set_epoch(0)
    a = next(iter(loader))[0]
    torch.rand(100)  # the global RNG does not matter
    dm.set_epoch(0)
    assert torch.equal(a, next(iter(loader))[0])
    dm.set_epoch(1)
    assert not torch.equal(a, next(iter(loader))[0])
    assert not torch.equal(a[0], a[1])


def test_signal_catcher_only_on_the_main_thread_and_restores() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with SignalCatcher() as catcher:
        assert signal.getsignal(signal.SIGTERM) != before
        os.kill(os.getpid(), signal.SIGTERM)
        assert catcher.received == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is before
    result: list[Any] = []

    def worker() -> None:
        with SignalCatcher() as inner:
            result.append((inner._previous, signal.getsignal(signal.SIGTERM) is before))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert result == [({}, True)]


def test_loaders_register_every_name_with_class_aliases() -> None:
    tasks = pbgml.Registry("task")
    load_tasks(tasks)
    assert sorted(tasks.names()) == ["classification", "regression"]
    assert tasks.get("ClassificationTask") is ClassificationTask
    callbacks = pbgml.Registry("callback")
    load_callbacks(callbacks)
    assert sorted(callbacks.names()) == sorted(
        [
            "model_checkpoint",
            "early_stopping",
            "lr_monitor",
            "param_histograms",
            "progress_bar",
            "model_summary",
        ]
    )
    assert callbacks.get("ModelCheckpoint") is pbgml.train.ModelCheckpoint
    loggers = pbgml.Registry("logger")
    load_loggers(loggers)
    assert sorted(loggers.names()) == ["csv", "mlflow", "tensorboard"]
    assert loggers.get("CSVLogger") is pbgml.train.CSVLogger


def test_augmentations_follow_the_epoch_in_persistent_workers() -> None:
    data = ArrayDataset(torch.zeros(4, 2), torch.zeros(4))

    def epochs(persistent: bool) -> list[Any]:
        dm = DataModule(
            data,
            batch_size=4,
            shuffle=False,
            num_workers=1,
            persistent_workers=persistent,
            train_transform=lambda x: x + torch.rand(2),
            seed=1,
        )
        loader = dm.train_dataloader()
        out = []
        for epoch in (0, 1):
            dm.set_epoch(epoch)
            out.append(next(iter(loader))[0])
        return out

    persistent, fresh = epochs(True), epochs(False)
    assert not torch.equal(persistent[0], persistent[1])
    assert all(torch.equal(a, b) for a, b in zip(persistent, fresh, strict=True))


def test_a_trained_task_pickles_and_copies_without_its_trainer() -> None:
    import copy
    import pickle

    x = torch.randn(8, 4)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, (x[:, 0] > 0).long()), batch_size=4
    )
    t = ClassificationTask(nn.Linear(4, 2))
    trainer = Trainer(max_epochs=1, callbacks=[], logger=False)
    trainer.fit(t, train_dataloaders=loader)
    assert t.trainer is trainer
    clone = copy.deepcopy(t)
    restored = pickle.loads(pickle.dumps(t))
    for other in (clone, restored):
        assert other._trainer is None
        assert torch.equal(other.model.weight, t.model.weight)
    assert t.trainer is trainer
