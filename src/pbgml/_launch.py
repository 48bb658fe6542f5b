"""Self-launch: ``trainer.devices=N`` outside torchrun starts N workers on this machine.

The workers are started by torch's elastic launcher (what ``torchrun --standalone``
runs: :func:`torch.distributed.launcher.api.elastic_launch`, a c10d rendezvous on a
free local port, no restarts), so each worker sees the environment torchrun gives
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``...) and the trainer sets up
the process group from it as under torchrun. Workers are spawned: they import the
main module again, so a script must call :func:`pbgml.run` under
``if __name__ == "__main__":``.

Examples
--------
>>> from pbgml._launch import processes
>>> processes({"accelerator": "cpu", "devices": 2}, environ={})
2
>>> processes({"accelerator": "cpu", "devices": 2}, environ={"RANK": "0", "WORLD_SIZE": "2",
...     "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"})  # under torchrun
1
"""

from __future__ import annotations

import os
import pickle
import sys
import tempfile
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pbgml._errors import PbgmlError

__all__ = ["WorkerError", "launched", "launched_all", "processes"]

T = TypeVar("T")
_ERRORS = "PBGML_LAUNCH_ERRORS"


class WorkerError(PbgmlError, RuntimeError):
    """A launched worker failed with an error that could not be raised again as it was.

    Examples
    --------
    >>> from pbgml._launch import WorkerError
    >>> str(WorkerError("worker rank 1 failed: KeyError: 'x'"))
    "worker rank 1 failed: KeyError: 'x'"
    """


def processes(trainer: Mapping[str, Any], *, environ: Mapping[str, str] | None = None) -> int:
    """How many workers an experiment's ``trainer`` config asks this call to start.

    ``1`` (run here) under torchrun or inside an existing process group; otherwise the
    number of devices (``devices`` as a count, a list of indices or ``"auto"``).
    """
    from pbgml.train import _distributed

    if _distributed.launch_env(environ) is not None or _distributed.initialized():
        return 1
    wanted = _distributed.resolve_devices(
        str(trainer.get("accelerator", "auto")), trainer.get("devices", 1)
    )
    return wanted.count


def _worker(fn: Callable[[Any], Any], cfg: Any, nprocs: int) -> Any:
    """One worker: ``fn(cfg)``; an error is pickled for the parent, then raised."""
    import torch

    if "OMP_NUM_THREADS" not in os.environ:  # as torchrun does, not oversubscribing the cores
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // nprocs))
    try:
        return fn(cfg)
    except BaseException as err:
        folder = os.environ.get(_ERRORS)
        if folder:
            target = Path(folder) / f"rank{os.environ.get('RANK', '0')}.pickle"
            try:
                payload = pickle.dumps(err)
                pickle.loads(payload)  # raised again in the parent only if it unpickles
            except Exception:
                payload = pickle.dumps(None)
            target.write_bytes(
                pickle.dumps({"error": payload, "text": f"{type(err).__name__}: {err}"})
            )
        raise


def launched_all(cfg: Any, fn: Callable[[Any], T], *, nprocs: int) -> dict[int, T]:
    """Run ``fn(cfg)`` in ``nprocs`` workers started by torch's elastic launcher.

    ``fn`` must be picklable (a module-level function, or a ``functools.partial`` of
    one) and ``cfg`` plain data (a dict, YAML text). Returns every rank's return value.
    A worker's error is raised here again (the first rank to fail; its own type when
    it pickles, else a :class:`WorkerError` with its message), chained to the
    launcher's ``ChildFailedError``.
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=nprocs,
        run_id=f"pbgml-{uuid.uuid4().hex[:12]}",
        rdzv_backend="c10d",
        rdzv_endpoint="localhost:0",
        max_restarts=0,
        monitor_interval=0.1,
        start_method="spawn",
    )
    with tempfile.TemporaryDirectory(prefix="pbgml-launch-") as errors:
        previous = os.environ.get(_ERRORS)
        os.environ[_ERRORS] = errors
        try:
            results: dict[int, T] = elastic_launch(config, _worker)(fn, cfg, nprocs)
        except ChildFailedError as failed:
            raise _worker_error(Path(errors), failed) from failed
        finally:
            if previous is None:
                os.environ.pop(_ERRORS, None)
            else:
                os.environ[_ERRORS] = previous
    return results


def _worker_error(folder: Path, failed: Exception) -> BaseException:
    rank, _ = failed.get_first_failure()  # type: ignore[attr-defined]
    reports = {int(p.stem.removeprefix("rank")): p for p in folder.glob("rank*.pickle")}
    path = reports.get(rank) or next(iter(sorted(reports.items())), (None, None))[1]
    if path is None:
        main = sys.modules.get("__main__")
        hint = ""
        if str(getattr(main, "__file__", "")).startswith("<"):  # python - (stdin)
            hint = (
                " (the workers are spawned and re-import your main module, which cannot "
                "be read again from stdin: run a script file, or launch with torchrun)"
            )
        return WorkerError(f"a launched worker (rank {rank}) died without an error{hint}: {failed}")
    report = pickle.loads(path.read_bytes())
    error = pickle.loads(report["error"])
    if isinstance(error, BaseException):
        return error
    return WorkerError(f"worker {path.stem} failed: {report['text']}")


def launched(cfg: Any, fn: Callable[[Any], T], *, nprocs: int) -> T:
    """Rank 0's ``fn(cfg)`` of :func:`launched_all` (every worker ran it).

    Examples
    --------
    In :func:`pbgml.run`, with ``trainer.devices=2`` outside torchrun::

        from pbgml import _launch
        nprocs = _launch.processes(root.get("trainer") or {})
        if nprocs > 1:
            return _launch.launched(root, functools.partial(run, allow=allow), nprocs=nprocs)
    """
    return launched_all(cfg, fn, nprocs=nprocs)[0]
