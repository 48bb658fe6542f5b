"""DDP for real: 2 CPU processes with gloo under ``torchrun``, in a subprocess.

One reference run (module-scoped) trains, checkpoints and tests; then a run killed
with SIGKILL (the whole torchrun job) after its second epoch resumes and must end
with the reference's weights.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from pbgml.train import Trainer, TrainerError

WORKER = Path(__file__).with_name("ddp_worker.py")
TORCHRUN = Path(sys.executable).with_name("torchrun")
EPOCHS = 4
TEST_SAMPLES = 51  # odd: the ranks' test shards differ in size, and none is padded

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available() or not TORCHRUN.is_file(),
    reason="needs torch.distributed and torchrun",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _command(mode: str, out: Path) -> list[str]:
    return [
        str(TORCHRUN),
        "--nproc-per-node",
        "2",
        "--master-addr",
        "127.0.0.1",
        "--master-port",
        str(_free_port()),
        str(WORKER),
        mode,
        str(out),
    ]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(OMP_NUM_THREADS="1", PBGML_TEST_EPOCHS=str(EPOCHS), **extra)
    return env


def _launch(mode: str, out: Path, **extra: str) -> list[dict[str, Any]]:
    out.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        _command(mode, out), env=_env(**extra), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return [torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1)]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    out = tmp_path_factory.mktemp("ddp_reference")
    return out, _launch("trainer", out)


def test_two_processes_train_the_same_weights(
    reference: tuple[Path, list[dict[str, Any]]],
) -> None:
    _, ranks = reference
    first, second = ranks
    assert first["world_size"] == 2
    losses = first["losses"]
    assert len(losses) == EPOCHS
    assert losses[-1] < losses[0] * 0.8
    # the epoch loss is the mean over both ranks' samples: the same on each
    assert second["losses"] == pytest.approx(losses)
    # 80 training samples, 40 per rank, 5 batches of 8, a step every 2 batches: 3 steps
    assert first["global_step"] == second["global_step"] == 3 * EPOCHS
    for key, value in first["weights"].items():
        assert torch.equal(value, second["weights"][key]), key
    assert not any(k.startswith("module.") or k.startswith("task.") for k in first["weights"])


def test_only_rank_zero_wrote_the_run_files(reference: tuple[Path, list[dict[str, Any]]]) -> None:
    out, (first, second) = reference
    assert second["writes"] == []
    written = {Path(w.split(" ")[-1]).name for w in first["writes"]}
    assert {"last.ckpt", "metrics.csv"} <= {p.name for p in (out / "run").rglob("*")}
    assert any(name.startswith(".last.ckpt") for name in written)  # the atomic writes
    checkpoint = torch.load(out / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert list(checkpoint["model"]) == list(first["weights"])  # no "module." prefix


def test_the_test_set_is_counted_once(reference: tuple[Path, list[dict[str, Any]]]) -> None:
    _, (first, second) = reference
    # each rank tested its own shard, the shards together are the test set exactly
    assert first["local_test"] + second["local_test"] == TEST_SAMPLES
    assert {first["local_test"], second["local_test"]} == {25, 26}
    for rank in (first, second):
        assert rank["test"]["test/n"] == TEST_SAMPLES  # the synced count
    assert first["test"] == second["test"]
    assert 0.0 <= first["test"]["test/acc"] <= 1.0


def test_kill_9_of_the_whole_job_then_resume_gives_the_same_weights(
    reference: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    _, (expected, _) = reference
    out = tmp_path / "killed"
    out.mkdir()
    job = subprocess.Popen(
        _command("trainer", out),
        env=_env(PBGML_TEST_HANG_AFTER_EPOCH="2"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while not (out / "ready").exists():
            assert job.poll() is None, "the job ended before its second epoch's end"
            assert time.monotonic() < deadline, "the job never reached its second epoch's end"
            time.sleep(0.1)
    finally:
        # the whole job at once: the agent, and the workers (torchrun starts each in
        # its own session, so they are not in the agent's process group)
        workers = [int(p.read_text()) for p in out.glob("pid*")]
        os.killpg(job.pid, signal.SIGKILL)
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        job.wait(timeout=30)
    assert (out / "ready").read_text() == "6"
    assert not (out / "rank0.pt").exists()
    first, second = _launch("trainer-resume", out)
    assert first["global_step"] == second["global_step"] == 3 * EPOCHS
    assert len(first["losses"]) == EPOCHS - 2
    assert first["losses"] == pytest.approx(expected["losses"][2:])
    for key, value in expected["weights"].items():
        assert torch.equal(first["weights"][key], value), key
        assert torch.equal(second["weights"][key], value), key


@pytest.fixture(scope="module")
def run_job(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    out = tmp_path_factory.mktemp("ddp_run")
    return out, _launch("run", out)


def test_pbgml_run_under_torchrun_writes_one_run_folder_from_rank_zero(
    run_job: tuple[Path, list[dict[str, Any]]],
) -> None:
    tmp_path, (first, second) = run_job
    assert first["run_dir"] == second["run_dir"]
    assert first["metrics"] == second["metrics"]
    assert first["best"] == second["best"] is not None
    run_dir = Path(first["run_dir"])
    assert {"config.yaml", "metrics.json"} <= {p.name for p in run_dir.iterdir()}
    assert list((tmp_path / "runs" / "run").iterdir()) == [run_dir]  # one folder
    assert second["writes"] == []
    assert any("metrics.json" in w for w in first["writes"])
    assert 0.0 <= first["metrics"]["test/acc"] <= 1.0


def _outside_torchrun(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)


def test_devices_2_outside_torchrun_points_to_torchrun(monkeypatch: pytest.MonkeyPatch) -> None:
    _outside_torchrun(monkeypatch)
    with pytest.raises(TrainerError, match="torchrun") as info:
        Trainer(devices=2)
    assert info.value.param == "devices"


@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_a_strategy_outside_torchrun_trains_in_a_group_of_one(
    strategy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``trainer=ddp`` on a laptop: one process, its own one-process group (gloo on an
    in-memory store, no port), the same weights as without the strategy."""
    from pbgml.train import Callback

    _outside_torchrun(monkeypatch)
    seen: list[Any] = []

    class Spy(Callback):
        def on_train_batch_start(self, trainer: Any, task: Any, batch: Any, idx: int) -> None:
            if trainer._strategy is not None:
                seen.append((trainer._strategy.name, torch.distributed.get_world_size()))

    weights = []
    for chosen in (strategy, "auto"):
        torch.manual_seed(0)
        task = _task()
        trainer = Trainer(
            max_epochs=2, strategy=chosen, accelerator="cpu", callbacks=[Spy()], logger=False
        )
        trainer.fit(task, train_dataloaders=_loader())
        assert not torch.distributed.is_initialized()
        weights.append(task.model.state_dict())
    assert seen == [(strategy, 1)] * 8
    for key, value in weights[0].items():
        assert torch.allclose(value, weights[1][key], atol=1e-6), key


def test_torchrun_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}
    env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT="29500")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    trainer = Trainer(devices=2, accelerator="cpu", callbacks=[], logger=False)
    # before the process group exists (a stage makes it), torchrun's RANK says
    assert (trainer.global_rank, trainer.world_size, trainer.is_global_zero) == (1, 2, False)


def _one_process_job(monkeypatch: pytest.MonkeyPatch) -> None:
    """torchrun's environment for a job of one process (this one)."""
    env = {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "LOCAL_WORLD_SIZE": "1"}
    env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TORCHELASTIC_USE_AGENT_STORE", raising=False)


def _task() -> Any:
    import functools

    from torch import nn

    from pbgml.train import ClassificationTask

    return ClassificationTask(nn.Linear(4, 2), optimizer=functools.partial(torch.optim.SGD, lr=0.1))


def _loader() -> Any:
    x = torch.randn(32, 4, generator=torch.Generator().manual_seed(0))
    dataset = torch.utils.data.TensorDataset(x, (x[:, 0] > 0).long())
    return torch.utils.data.DataLoader(dataset, batch_size=8)


def test_strategy_ddp_wraps_the_step_and_destroys_its_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pbgml.train import Callback

    _one_process_job(monkeypatch)
    seen: list[Any] = []

    class Spy(Callback):
        def on_train_batch_start(self, trainer: Any, task: Any, batch: Any, idx: int) -> None:
            seen.append((trainer._strategy.name, torch.distributed.get_world_size()))

    trainer = Trainer(
        max_epochs=1,
        strategy="ddp",
        accelerator="cpu",
        accumulate_grad_batches=2,
        callbacks=[Spy()],
        logger=False,
    )
    trainer.fit(_task(), train_dataloaders=_loader())
    assert seen == [("ddp", 1)] * 4
    assert trainer.global_step == 2
    assert not torch.distributed.is_initialized()


def test_the_group_is_destroyed_when_fit_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    _one_process_job(monkeypatch)
    task = _task()

    def broken(batch: Any, batch_idx: int) -> Any:
        assert torch.distributed.is_initialized()
        raise RuntimeError("boom")

    task.training_step = broken
    trainer = Trainer(max_epochs=1, strategy="ddp", accelerator="cpu", callbacks=[], logger=False)
    with pytest.raises(RuntimeError, match="boom"):
        trainer.fit(task, train_dataloaders=_loader())
    assert not torch.distributed.is_initialized()


def test_a_group_the_user_made_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    _one_process_job(monkeypatch)
    torch.distributed.init_process_group("gloo", rank=0, world_size=1)
    try:
        trainer = Trainer(max_epochs=1, strategy="ddp", callbacks=[], logger=False)
        trainer.fit(_task(), train_dataloaders=_loader())
        assert torch.distributed.is_initialized()
    finally:
        torch.distributed.destroy_process_group()


def test_two_nodes_of_one_process_on_loopback_train_like_one_node_of_two(
    reference: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    """``torchrun --nnodes 2 --rdzv-backend c10d`` started twice (two "machines" sharing
    this folder as a shared filesystem): the same weights as one node of 2 processes."""
    _, (expected, _) = reference
    out = tmp_path / "nodes"
    out.mkdir()
    endpoint = f"127.0.0.1:{_free_port()}"
    command = [str(TORCHRUN), "--nnodes", "2", "--nproc-per-node", "1", "--rdzv-backend"]
    command += ["c10d", "--rdzv-endpoint", endpoint, "--rdzv-id", f"pbgml-{os.getpid()}"]
    command += [str(WORKER), "trainer", str(out)]
    nodes = [
        subprocess.Popen(
            command, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    ]
    logs = [node.communicate(timeout=120)[0] for node in nodes]
    for node, log in zip(nodes, logs, strict=True):
        assert node.returncode == 0, log[-5000:]
    first, second = (torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert first["world_size"] == second["world_size"] == 2
    assert second["writes"] == []  # global rank 1: nothing, though its LOCAL_RANK is 0
    assert any(".last.ckpt" in w for w in first["writes"])
    assert first["test"] == second["test"]
    for key, value in expected["weights"].items():
        assert torch.equal(first["weights"][key], value), key
        assert torch.equal(second["weights"][key], value), key


def test_a_rank_that_stops_does_not_leave_the_others_waiting(
    run_job: tuple[Path, list[dict[str, Any]]],
) -> None:
    """A non-finite loss on rank 1 only, and val/test sets with a single sample for 2
    ranks: every rank raises (the job ends instead of hanging), and then trains on."""
    out, _ = run_job
    first, second = (torch.load(out / f"caveats{r}.pt", weights_only=True) for r in (0, 1))
    assert "the loss is nan at epoch 0" in second["nan"]
    assert "not finite on rank 1" in first["nan"]
    assert first["nan_step"] == second["nan_step"] == 1  # batch 2 is in the second step
    for rank in (first, second):
        assert "val: rank 1 of 2 has no batch of the val set" in rank["fit"]
        assert "test: rank 1 of 2 has no batch of the test set" in rank["test"]
        assert rank["after_step"] == 3


def test_torchrun_m_pbgml_train_prints_and_writes_once(tmp_path: Path) -> None:
    """The real command: ``torchrun --nproc-per-node 2 -m pbgml train ...``: one run
    folder with its files, the config and the result printed by rank 0 alone."""
    command = [str(TORCHRUN), "--nproc-per-node", "2", "--rdzv-backend", "c10d"]
    command += ["--rdzv-endpoint", f"127.0.0.1:{_free_port()}", "-m", "pbgml", "train"]
    command += ["experiment=digits_mlp", "trainer.max_epochs=1"]
    command += ["trainer.enable_progress_bar=false", "hydra.run.dir=run"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("run folder:") == 1, done.stdout[-3000:]
    assert done.stdout.count("optimized_metric: val/acc") == 1  # the config, shown once
    files = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"config.yaml", "metrics.json", "checkpoints"} <= files
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert 0.0 <= metrics["test/acc"] <= 1.0
