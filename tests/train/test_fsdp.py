"""FSDP2 for real: 2 CPU processes with gloo under ``torchrun``, in a subprocess.

One torchrun job (module-scoped, ``fsdp_worker.py``) runs every FSDP case in the same
two processes: a reference run, a run stopped at half its epochs then resumed by a
new trainer, the same run under DDP, and a resume of a 1-process checkpoint. The
checkpoints are the one-process format: this process resumes a FSDP one.
"""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from pbgml.train import ClassificationTask, ModelCheckpoint, Trainer, TrainerError, load_checkpoint

HERE = Path(__file__).parent
WORKER = HERE / "fsdp_worker.py"
TORCHRUN = Path(sys.executable).with_name("torchrun")
EPOCHS = 4

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available() or not TORCHRUN.is_file(),
    reason="needs torch.distributed and torchrun",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _one_process_checkpoint(root: Path) -> Path:
    sys.path.insert(0, str(HERE))
    try:
        from ddp_worker import _data
    finally:
        sys.path.remove(str(HERE))
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 3))
    task = ClassificationTask(
        model, optimizer=functools.partial(torch.optim.SGD, lr=0.2, momentum=0.9)
    )
    trainer = Trainer(
        max_epochs=1,
        accelerator="cpu",
        default_root_dir=root,
        callbacks=[ModelCheckpoint()],
        logger=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(task, _data())
    return root / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    out = tmp_path_factory.mktemp("fsdp")
    one = _one_process_checkpoint(out / "one")
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    command = [str(TORCHRUN), "--nproc-per-node", "2", "--master-addr", "127.0.0.1"]
    command += ["--master-port", str(_free_port()), str(WORKER), str(out), str(one)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=150)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    return out, [torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1)]


def test_fsdp_shards_the_parameters_and_trains_the_same_weights_on_both_ranks(
    job: tuple[Path, list[dict[str, Any]]],
) -> None:
    _, (first, second) = job
    ref = first["ref"]
    assert ref["kinds"] == ["DTensor"]  # sharded during fit
    assert ref["local"] < ref["full"]
    assert ref["full"] == 6 * 32 + 32 + 32 * 3 + 3
    assert first["ref"]["local"] + second["ref"]["local"] == ref["full"]  # each rank 1/2
    assert ref["plain"] == ["Parameter"] * 4  # the task's own model after fit
    assert ref["optimizer_params_are_the_task's"]
    assert len(ref["losses"]) == EPOCHS
    assert ref["losses"][-1] < ref["losses"][0] * 0.8
    assert second["ref"]["losses"] == pytest.approx(ref["losses"])
    assert ref["global_step"] == 3 * EPOCHS
    for key, value in ref["weights"].items():
        assert torch.equal(value, second["ref"]["weights"][key]), key
    for mine, theirs in zip(ref["momentum"], second["ref"]["momentum"], strict=True):
        assert torch.equal(mine, theirs)  # full optimizer states, back on the plain params
    assert first["test"] == second["test"]
    assert 0.0 <= first["test"]["test/acc"] <= 1.0


def test_fsdp_matches_ddp(job: tuple[Path, list[dict[str, Any]]]) -> None:
    _, (first, _) = job
    fsdp, ddp = first["ref"], first["ddp"]
    assert ddp["kinds"] == ["Parameter"]
    assert fsdp["losses"] == pytest.approx(ddp["losses"], rel=1e-5)
    for key, value in fsdp["weights"].items():
        torch.testing.assert_close(value, ddp["weights"][key], rtol=1e-5, atol=1e-6)


def test_checkpoint_then_resume_gives_the_uninterrupted_weights(
    job: tuple[Path, list[dict[str, Any]]],
) -> None:
    _, (first, second) = job
    resumed = first["resumed"]
    assert resumed["global_step"] == 3 * EPOCHS
    assert resumed["losses"] == pytest.approx(first["ref"]["losses"][EPOCHS // 2 :])
    for key, value in first["ref"]["weights"].items():
        assert torch.equal(resumed["weights"][key], value), key
        assert torch.equal(second["resumed"]["weights"][key], value), key


def test_only_rank_zero_wrote_and_the_checkpoint_is_a_one_process_one(
    job: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    out, (first, second) = job
    assert second["writes"] == []
    assert any(".last.ckpt" in w for w in first["writes"])
    checkpoint = load_checkpoint(out / "runs" / "ref" / "checkpoints" / "last.ckpt")
    weights = checkpoint["model"]
    assert all(type(v) is torch.Tensor for v in weights.values())
    assert list(weights) == list(first["ref"]["weights"])
    for key, value in first["ref"]["weights"].items():
        assert torch.equal(weights[key], value), key
    (optimizer,) = checkpoint["optimizer"]
    assert sorted(optimizer["state"]) == [0, 1, 2, 3]  # ids, as torch.optim saves them
    assert optimizer["state"][0]["momentum_buffer"].shape == (32, 6)  # full, not a shard
    # and it resumes in this one process
    model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 3))
    task = ClassificationTask(
        model, optimizer=functools.partial(torch.optim.SGD, lr=0.2, momentum=0.9)
    )
    trainer = Trainer(max_epochs=EPOCHS + 1, accelerator="cpu", callbacks=[], logger=False)
    sys.path.insert(0, str(HERE))
    try:
        from ddp_worker import _data
    finally:
        sys.path.remove(str(HERE))
    trainer.fit(task, _data(), ckpt_path=out / "runs" / "ref" / "checkpoints" / "last.ckpt")
    assert trainer.current_epoch == EPOCHS + 1
    assert trainer.global_step == 3 * EPOCHS + 10  # 80 samples, 10 batches of 8, no accumulation


def test_a_one_process_checkpoint_resumes_under_fsdp(
    job: tuple[Path, list[dict[str, Any]]],
) -> None:
    out, (first, second) = job
    one = load_checkpoint(out / "one" / "checkpoints" / "last.ckpt")
    from1 = first["from1"]
    assert from1["kinds"] == ["DTensor"]
    assert from1["global_step"] == one["loop"]["global_step"] + 3
    assert len(from1["losses"]) == 1
    for key, value in from1["weights"].items():
        assert torch.equal(value, second["from1"]["weights"][key]), key
        assert not torch.equal(value, one["model"][key]), key  # it trained on


def test_fsdp_refusals(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(TrainerError, match="Did you mean 'fsdp'") as info:
        Trainer(strategy="fsdb")
    with pytest.raises(TrainerError, match="compile") as info:
        Trainer(strategy="fsdp", compile=True)
    assert info.value.param == "compile"


def test_summary_and_histograms_under_fsdp_see_the_plain_model(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """One process outside torchrun (a group of one): the model summary describes the
    task's own model (not FSDP's copy, which fails on the meta device), and the
    histograms get this rank's shards as plain tensors (no collective on rank 0 alone)."""
    from torch.distributed.tensor import DTensor

    from pbgml.data import digits
    from pbgml.nn import MLP
    from pbgml.train import Logger, ModelSummary, ParamHistograms

    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    logged: list[tuple[str, type, tuple[int, ...]]] = []

    class Recorder(Logger):
        def log_metrics(self, metrics: Any, step: int) -> None:
            pass

        def log_histogram(self, tag: str, values: Any, step: int) -> None:
            logged.append((tag, type(values), tuple(values.shape)))

    model = MLP(in_features=64, out_features=10, hidden=[16])
    task = ClassificationTask(model, optimizer=functools.partial(torch.optim.SGD, lr=0.05))
    summary = ModelSummary()
    trainer = Trainer(
        max_epochs=1,
        accelerator="cpu",
        strategy="fsdp",
        callbacks=[summary, ParamHistograms()],
        logger=Recorder(),
        limit_train_batches=3,
        limit_val_batches=1,
    )
    trainer.fit(task, digits(batch_size=16, seed=0))
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "MLP: input (1, 64) -> output (1, 10)"
    assert summary.counts["total"] == sum(p.numel() for p in model.parameters())
    names = {f"params/{n}" for n, _ in model.named_parameters()}
    assert {tag for tag, _, _ in logged if tag.startswith("params/")} == names
    assert all(kind is not DTensor and issubclass(kind, torch.Tensor) for _, kind, _ in logged)
