"""A worker that ``tests/train/test_distributed.py`` runs under ``torchrun --nproc-per-node 2``.

``python ddp_worker.py MODE OUT`` trains a small model with the Trainer (MODE
``trainer``, ``trainer-resume``) or :func:`pbgml.run` (MODE ``run``) and writes, per rank,
``OUT/rank{r}.pt``: the final weights, the files this rank opened for writing under
the run folder (an audit hook), what it evaluated, and the metrics. MODE ``run`` then
runs :func:`caveats` (``OUT/caveats{r}.pt``).
"""

from __future__ import annotations

import functools
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

WRITES: list[str] = []


def _audit(root: str) -> None:
    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open" and args and isinstance(args[0], str | os.PathLike):
            path, mode, flags = str(args[0]), args[1], args[2]
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
            )
            if writing and path.startswith(root):
                WRITES.append(path)
        elif event in ("os.rename", "os.replace", "os.link", "os.mkdir", "os.remove") and any(
            str(a).startswith(root) for a in args if isinstance(a, str | os.PathLike)
        ):
            WRITES.append(f"{event} {args[0]}")

    sys.addaudithook(hook)


def _data(n_train: int = 96, n_test: int = 51) -> Any:
    from pbgml.data import ArrayDataset, DataModule

    g = torch.Generator().manual_seed(0)
    x = torch.randn(n_train + n_test, 6, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    classes = ["a", "b", "c"]
    return DataModule(
        ArrayDataset(x[:n_train], y[:n_train], classes=classes),
        test=ArrayDataset(x[n_train:], y[n_train:], classes=classes),
        val_split=16,
        batch_size=8,
        eval_batch_size=10,
        seed=0,
    )


def run_experiment(out: Path) -> None:
    """``pbgml.run`` of a small experiment under torchrun: one run folder, rank 0 writes."""
    import pbgml
    from pbgml.configs import (
        ExperimentConf,
        MLPConf,
        SyntheticClassificationDataConf,
        TrainerConf,
    )

    torch.set_num_threads(1)
    root = out / "runs"
    _audit(str(root))
    cfg = ExperimentConf(
        model=MLPConf(in_features=8, out_features=3),
        data=SyntheticClassificationDataConf(num_samples=120, num_features=8, num_classes=3),
        trainer=TrainerConf(max_epochs=2, default_root_dir=str(root), accelerator="cpu"),
        callbacks={"checkpoint": {"_target_": "model_checkpoint"}},
    )
    result = pbgml.run(cfg)
    rank = int(os.environ["RANK"])
    torch.save(
        {
            "run_dir": result.run_dir,
            "metrics": dict(result.metrics),
            "best": result.best_checkpoint,
            "writes": WRITES,
        },
        out / f"rank{rank}.pt",
    )


def caveats(out: Path) -> None:
    """A non-finite loss on rank 1 only, then a val set and a test set too small for 2
    ranks: every rank must raise (none may wait for the other), and the next fit works."""
    from pbgml.data import ArrayDataset, DataModule
    from pbgml.train import ClassificationTask, NonFiniteLossError, Trainer, TrainerError

    rank = int(os.environ["RANK"])

    class NanOnRankOne(ClassificationTask):
        def training_step(self, batch: Any, batch_idx: int) -> Tensor:
            loss: Tensor = super().training_step(batch, batch_idx)
            return loss * float("nan") if rank == 1 and batch_idx == 2 else loss

    def trainer() -> Trainer:
        return Trainer(
            max_epochs=1,
            accelerator="cpu",
            strategy="ddp",
            accumulate_grad_batches=2,
            callbacks=[],
            logger=False,
            num_sanity_val_steps=0,
        )

    torch.set_num_threads(1)
    results: dict[str, Any] = {}
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    nan_trainer = trainer()
    try:
        nan_trainer.fit(NanOnRankOne(model), _data())
    except NonFiniteLossError as err:
        results["nan"] = str(err)
    results["nan_step"] = nan_trainer.global_step
    x = torch.randn(21, 6, generator=torch.Generator().manual_seed(0))
    y = (x[:, 0] > 0).long()
    one_val = DataModule(
        ArrayDataset(x[:20], y[:20]), test=ArrayDataset(x[20:], y[20:]), val_split=1, batch_size=4
    )
    for stage in ("fit", "test"):
        task = ClassificationTask(nn.Linear(6, 2))
        try:
            if stage == "fit":
                trainer().fit(task, one_val)
            else:
                trainer().test(task, one_val)
        except TrainerError as err:
            results[stage] = str(err)
    after = trainer()
    after.fit(ClassificationTask(nn.Linear(6, 3)), _data())  # the ranks are still in step
    results["after_step"] = after.global_step
    torch.save(results, out / f"caveats{rank}.pt")


def main(mode: str, out: Path) -> None:
    if mode == "run":  # then the caveats, in the same processes (one start-up less)
        run_experiment(out)
        caveats(out)
        return
    import torch.distributed as dist

    from pbgml.metrics import Accuracy, Metric
    from pbgml.train import Callback, ClassificationTask, CSVLogger, ModelCheckpoint, Trainer

    class Count(Metric):
        """How many samples the metric saw (summed over the ranks by sync)."""

        def __init__(self) -> None:
            super().__init__()
            self.add_state("n", torch.zeros((), dtype=torch.long))

        def update(self, preds: Tensor, target: Tensor) -> None:
            self.states()["n"].add_(target.numel())

        def compute(self) -> Tensor:
            return self.states()["n"].clone()

    class Seen(ClassificationTask):
        local_test = 0

        def test_step(self, batch: Any, batch_idx: int) -> None:
            type(self).local_test += len(batch[1])
            super().test_step(batch, batch_idx)

    class EpochLoss(Callback):
        def __init__(self) -> None:
            self.losses: list[float] = []

        def on_train_epoch_end(self, trainer: Any, task: Any) -> None:
            self.losses.append(trainer.callback_metrics["train/loss"])

    class Hang(Callback):
        """After epoch ``epoch``'s checkpoint: rank 0 writes ``OUT/ready``, every rank waits
        (for the test to kill -9 the whole job)."""

        def __init__(self, epoch: int) -> None:
            self.epoch = epoch

        def on_train_epoch_end(self, trainer: Any, task: Any) -> None:
            if trainer.current_epoch + 1 == self.epoch:
                if trainer.is_global_zero:
                    (out / "ready").write_text(str(trainer.global_step))
                time.sleep(600)

    torch.set_num_threads(1)
    (out / f"pid{os.environ['RANK']}").write_text(str(os.getpid()))
    run_dir = out / "run"
    _audit(str(run_dir))
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 3))
    task = Seen(
        model,
        optimizer=functools.partial(torch.optim.SGD, lr=0.2, momentum=0.9),
        metrics={"acc": Accuracy(), "n": Count()},
    )
    losses = EpochLoss()
    hang = os.environ.get("PBGML_TEST_HANG_AFTER_EPOCH")
    extra = [Hang(int(hang))] if hang else []
    epochs = int(os.environ.get("PBGML_TEST_EPOCHS", "4"))
    trainer = Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        strategy="ddp",
        accumulate_grad_batches=2,
        default_root_dir=run_dir,
        callbacks=[ModelCheckpoint(monitor="val/acc", mode="max"), losses, *extra],
        logger=CSVLogger(),
        num_sanity_val_steps=0,
    )
    resume = "last" if mode == "trainer-resume" else None
    trainer.fit(task, _data(), ckpt_path=resume)
    assert not dist.is_initialized(), "fit left the process group behind"
    (test,) = trainer.test(task, _data())
    rank = int(os.environ["RANK"])
    torch.save(
        {
            "weights": {k: v.detach().clone() for k, v in task.state_dict().items()},
            "writes": WRITES,
            "losses": losses.losses,
            "test": test,
            "local_test": Seen.local_test,
            "global_step": trainer.global_step,
            "sync_bn": any(isinstance(m, nn.SyncBatchNorm) for m in task.modules()),
            "world_size": int(os.environ["WORLD_SIZE"]),
        },
        out / f"rank{rank}.pt",
    )


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
