"""A worker that ``tests/train/test_fsdp.py`` runs once under ``torchrun --nproc-per-node 2``.

``python fsdp_worker.py OUT ONE_PROCESS_CKPT`` runs, in the same two processes, with
``strategy="fsdp"`` unless said: ``ref`` (EPOCHS epochs, then test), ``part`` (half of
them) then ``resumed`` (a new trainer resuming ``part``'s last.ckpt up to EPOCHS), ``ddp``
(the same run under DDP), and ``from1`` (a checkpoint of a 1-process run resumed under
FSDP). It writes ``OUT/rank{r}.pt``: per run the final weights, the losses, what the
sharded parameters looked like during fit; and the files this rank wrote.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pbgml.train import Callback, ClassificationTask, CSVLogger, ModelCheckpoint, Trainer

sys.path.insert(0, str(Path(__file__).parent))
from ddp_worker import WRITES, _audit, _data

EPOCHS = 4


def task() -> ClassificationTask:
    torch.manual_seed(int(os.environ["RANK"]))  # different on each rank: rank 0's must win
    model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 3))
    return ClassificationTask(
        model, optimizer=functools.partial(torch.optim.SGD, lr=0.2, momentum=0.9)
    )


class Probe(Callback):
    """The epoch losses, and the model's parameters as the loop sees them."""

    def __init__(self) -> None:
        self.losses: list[float] = []
        self.kinds: set[str] = set()
        self.local = self.full = 0

    def on_train_batch_end(self, trainer: Any, task: Any, out: Any, batch: Any, i: int) -> None:
        params = list(task.model.parameters())
        self.kinds |= {type(p).__name__ for p in params}
        local = [p.to_local() if hasattr(p, "to_local") else p for p in params]
        self.local, self.full = sum(t.numel() for t in local), sum(p.numel() for p in params)

    def on_train_epoch_end(self, trainer: Any, task: Any) -> None:
        self.losses.append(trainer.callback_metrics["train/loss"])


def fit(root: Path, epochs: int, *, strategy: str = "fsdp", ckpt: str | None = None) -> Any:
    probe = Probe()
    trainer = Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        strategy=strategy,
        accumulate_grad_batches=2,
        gradient_clip_val=1.0,
        default_root_dir=root,
        callbacks=[ModelCheckpoint(), probe],
        logger=CSVLogger(),
        num_sanity_val_steps=1,
        enable_progress_bar=False,
    )
    model = task()
    trainer.fit(model, _data(), ckpt_path=ckpt)
    return trainer, model, probe


def summary(trainer: Trainer, model: ClassificationTask, probe: Probe) -> dict[str, Any]:
    return {
        "weights": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "kinds": sorted(probe.kinds),
        "local": probe.local,
        "full": probe.full,
        "losses": probe.losses,
        "global_step": trainer.global_step,
        "plain": [type(p).__name__ for p in model.parameters()],
        "optimizer_params_are_the_task's": all(
            any(p is q for q in model.parameters())
            for opt in trainer.optimizers
            for g in opt.param_groups
            for p in g["params"]
        ),
        "momentum": [
            trainer.optimizers[0].state[p]["momentum_buffer"].clone()
            for p in model.model.parameters()
        ],
    }


def main(out: Path, one_process_ckpt: str) -> None:
    torch.set_num_threads(1)
    runs = out / "runs"
    _audit(str(runs))
    results: dict[str, Any] = {}
    trainer, model, probe = fit(runs / "ref", EPOCHS)
    results["ref"] = summary(trainer, model, probe)
    (test,) = trainer.test(model, _data())
    results["test"] = test
    fit(runs / "part", EPOCHS // 2)
    results["resumed"] = summary(*fit(runs / "part", EPOCHS, ckpt="last"))
    results["ddp"] = summary(*fit(runs / "ddp", EPOCHS, strategy="ddp"))
    results["from1"] = summary(*fit(runs / "from1", 2, ckpt=one_process_ckpt))
    results["writes"] = WRITES
    torch.save(results, out / f"rank{os.environ['RANK']}.pt")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
