"""Self-launch: ``trainer.devices=2`` outside torchrun starts 2 workers through torch's
elastic launcher (:mod:`pbgml._launch`); the devices settings."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

import pbgml
from pbgml import _launch
from pbgml.train import Trainer, TrainerError
from pbgml.train._distributed import Devices, resolve_devices

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import launch_worker  # noqa: E402

TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@pytest.fixture(autouse=True)
def _outside_torchrun(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in TORCHRUN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def _experiment(root: Path, devices: Any) -> dict[str, Any]:
    from pbgml.configs import ExperimentConf, MLPConf, SyntheticClassificationDataConf, TrainerConf

    cfg = ExperimentConf(
        model=MLPConf(in_features=8, out_features=3, hidden=[16]),
        data=SyntheticClassificationDataConf(num_samples=120, num_features=8, num_classes=3),
        trainer=TrainerConf(
            max_epochs=2,
            accelerator="cpu",
            devices=devices,
            default_root_dir=str(root),
            enable_progress_bar=False,
            enable_model_summary=False,
        ),
        callbacks={"checkpoint": {"_target_": "model_checkpoint"}},
    )
    tree: dict[str, Any] = yaml.safe_load(pbgml.to_yaml(cfg))
    return tree


@pytest.fixture(scope="module")
def launched(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[int, Any]]:
    root = tmp_path_factory.mktemp("launch")
    cfg = _experiment(root, [0, 1])  # a list of indices is a count of processes on CPU
    mp = pytest.MonkeyPatch()
    for name in TORCHRUN_VARIABLES:
        mp.delenv(name, raising=False)
    try:
        nprocs = _launch.processes(cfg["trainer"])
        assert nprocs == 2
        return root, _launch.launched_all(cfg, launch_worker.probe, nprocs=nprocs)
    finally:
        mp.undo()


def test_devices_2_launches_two_workers_of_one_job(launched: tuple[Path, dict[int, Any]]) -> None:
    root, results = launched
    assert sorted(results) == [0, 1]
    for rank, out in results.items():
        assert (out["rank"], out["world_size"], out["local_world_size"]) == (rank, 2, 2)
    first, second = results[0]["result"], results[1]["result"]
    assert first.run_dir == second.run_dir  # one run folder, rank 0's
    assert first.metrics == second.metrics
    assert 0.0 <= first.metrics["test/acc"] <= 1.0
    assert [p.parent for p in root.glob("*/*/metrics.json")] == [Path(first.run_dir)]
    checkpoint = torch.load(first.best_checkpoint, weights_only=True)
    assert checkpoint["loop"]["epoch"] == 1


def test_a_worker_error_is_raised_again_in_the_parent() -> None:
    with pytest.raises(LookupError, match=r"boom on rank 1 \(hello\)") as info:
        _launch.launched({"word": "hello"}, launch_worker.fail_on_rank_one, nprocs=2)
    assert _launch.launched({"word": "x"}, launch_worker.fail_on_rank_one, nprocs=1) == 0
    assert type(info.value.__cause__).__name__ == "ChildFailedError"


def test_processes_is_one_under_torchrun_or_with_one_device() -> None:
    env = {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0"}
    env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT="1")
    assert _launch.processes({"accelerator": "cpu", "devices": 2}, environ=env) == 1
    assert _launch.processes({"accelerator": "cpu", "devices": 1}, environ={}) == 1
    assert _launch.processes({"accelerator": "cpu", "devices": "auto"}, environ={}) == 1
    assert _launch.processes({"accelerator": "cpu", "devices": [3, 5, 7]}, environ={}) == 3


def test_resolve_devices() -> None:
    assert resolve_devices("cpu", 3) == Devices("cpu", 3)
    assert resolve_devices("cpu", "2") == Devices("cpu", 2)
    assert resolve_devices("cpu", [0, 1]) == Devices("cpu", 2)
    if not torch.cuda.is_available() and not torch.backends.mps.is_available():
        assert resolve_devices("auto", "auto") == Devices("cpu", 1)
    for bad in (0, -1, [], [0, 0], "x", 1.5, True, [0, -1]):
        with pytest.raises(TrainerError) as info:
            resolve_devices("cpu", bad)
        assert info.value.param == "devices"
    with pytest.raises(TrainerError, match="accelerator='tpu' is not one of") as info:
        resolve_devices("tpu", 1)
    assert info.value.param == "accelerator"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal without CUDA")
def test_cuda_without_cuda_is_refused() -> None:
    with pytest.raises(TrainerError, match="CUDA is not available") as info:
        Trainer(accelerator="gpu")
    assert info.value.param == "accelerator"


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="checks the refusal without MPS")
def test_mps_without_mps_is_refused() -> None:
    with pytest.raises(TrainerError, match="MPS") as info:
        Trainer(accelerator="mps")
    assert info.value.param == "accelerator"


@pytest.mark.skipif(not torch.backends.mps.is_available(), reason="needs MPS")
def test_mps_device() -> None:  # pragma: no cover - needs a Mac
    assert Trainer(accelerator="mps", callbacks=[], logger=False).device.type == "mps"
    assert Trainer(accelerator="auto", callbacks=[], logger=False).device.type in ("cuda", "mps")
    with pytest.raises(TrainerError, match="one device"):
        resolve_devices("mps", 2)


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA devices")
def test_cuda_devices_by_index() -> None:  # pragma: no cover - needs 2 GPUs
    trainer = Trainer(accelerator="cuda", devices=[1], callbacks=[], logger=False)
    assert trainer.device == torch.device("cuda", 1)
    assert resolve_devices("auto", "auto").count == torch.cuda.device_count()
    assert _launch.processes({"accelerator": "cuda", "devices": 2}, environ={}) == 2


def test_a_trainer_outside_torchrun_with_two_devices_points_to_the_launchers() -> None:
    with pytest.raises(TrainerError, match=r"pbgml\.run") as info:
        Trainer(accelerator="cpu", devices=2)
    assert "torchrun --nproc-per-node 2" in str(info.value)


def test_pbgml_run_with_devices_2_launches_its_own_workers(tmp_path: Path) -> None:
    """``pbgml.run`` outside torchrun with ``devices=2``: 2 workers, rank 0's result back."""
    mp = pytest.MonkeyPatch()
    for name in TORCHRUN_VARIABLES:
        mp.delenv(name, raising=False)
    try:
        chosen = tmp_path / "job0"  # the folder a caller chose (pbgml train: Hydra's job dir)
        result = pbgml.run(_experiment(tmp_path, 2), run_dir=chosen)
    finally:
        mp.undo()
    assert isinstance(result, pbgml.RunResult)
    assert 0.0 <= result.metrics["test/acc"] <= 1.0
    assert Path(result.run_dir) == chosen
    assert [p.parent for p in tmp_path.rglob("metrics.json")] == [chosen]
    state = torch.load(result.last_checkpoint, weights_only=True)
    # 84 training samples, batch 64: 2 steps an epoch in 1 process, 1 per rank in 2
    assert (state["loop"]["epoch"], state["loop"]["global_step"]) == (1, 2)


def test_a_launch_from_stdin_says_why_its_workers_die(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys, pbgml\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from pathlib import Path\n"
        "from test_launch import _experiment\n"
        f"pbgml.run(_experiment(Path({str(tmp_path)!r}), 2))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in TORCHRUN_VARIABLES}
    proc = subprocess.run(
        [sys.executable, "-"], input=code, capture_output=True, text=True, timeout=240, env=env
    )
    assert proc.returncode != 0
    assert "cannot be read again from stdin" in proc.stderr


def test_the_ddp_preset_on_a_cpu_machine_trains_in_this_process(tmp_path: Path) -> None:
    """``pbgml train trainer=ddp`` on a laptop: ``devices: auto`` is one CPU process, in
    a DDP group of one (no workers started); the run ends with its metrics."""
    cfg = pbgml.compose(
        [
            "trainer=ddp",
            "trainer.max_epochs=1",
            "trainer.enable_progress_bar=false",
            f"trainer.default_root_dir={tmp_path}",
        ],
        experiment="digits_mlp",
    )
    assert (cfg.trainer.strategy, cfg.trainer.devices) == ("ddp", "auto")
    assert _launch.processes(cfg.trainer) == 1
    with pytest.warns(UserWarning, match="sync_batchnorm=True is ignored on CPU"):
        result = pbgml.run(cfg, run_dir=tmp_path / "run")
    assert 0.0 <= result.metrics["test/acc"] <= 1.0
    assert not torch.distributed.is_initialized()


def test_auto_picks_cuda_then_mps_then_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """The choice alone (torch's probes stubbed): ``auto`` is every GPU when CUDA is
    there, else MPS, else one CPU process; an index past the GPUs is refused."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    assert resolve_devices("auto", "auto") == Devices("cuda", 4)
    assert resolve_devices("gpu", [2, 3]) == Devices("cuda", 2, (2, 3))
    assert _launch.processes({"accelerator": "auto", "devices": "auto"}, environ={}) == 4
    with pytest.raises(TrainerError, match="has 4 CUDA device") as info:
        resolve_devices("cuda", [4])
    assert info.value.param == "devices"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_devices("auto", "auto") == Devices("mps", 1)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_devices("auto", "auto") == Devices("cpu", 1)
