"""The trainer's stock loggers: CSV (always there), TensorBoard and MLflow (extras).

Plain Python and PyTorch, written against :class:`~pbgml.train.Logger`. TensorBoard
and MLflow are imported by their logger's constructor, never by ``import pbgml``;
each writes under ``run_dir/logs`` unless told otherwise. Several loggers can serve
one run: the trainer calls each in turn.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import re
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pbgml._errors import ArgumentError, MissingExtraError, PbgmlError, require
from pbgml._optional import needs
from pbgml.train._base import Logger

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["CSVLogger", "MLflowLogger", "TensorBoardLogger", "flatten_params"]

_NOT_SET_UP = (
    "{cls} has no directory yet: the trainer calls setup(run_dir) before logging; "
    "call it yourself, or give save_dir=..."
)
_STATUSES = ("success", "failed", "interrupted")


def _scalar(value: Any) -> Any:
    """A plain Python number (tensors and numpy scalars unwrapped), else the value."""
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", 0) == 0:
        return item()
    return value


def flatten_params(params: Mapping[str, Any], sep: str = ".") -> dict[str, Any]:
    """Flatten nested hyperparameters to one level of scalars and strings.

    Nested mappings join their keys with ``sep``; lists and tuples are indexed
    (``hidden.0``); ``None`` becomes ``"None"``; other objects their ``str()``.

    Parameters
    ----------
    params
        The hyperparameters, e.g. a resolved config as nested dicts.
    sep
        What joins a parent's key and a child's.

    Examples
    --------
    >>> from pbgml.train._loggers import flatten_params
    >>> flatten_params({"optimizer": {"lr": 0.1, "betas": (0.9, 0.99)}, "seed": None})
    {'optimizer.lr': 0.1, 'optimizer.betas.0': 0.9, 'optimizer.betas.1': 0.99, 'seed': 'None'}
    """
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        value = _scalar(value)
        if isinstance(value, Mapping):
            if not value and prefix:
                out[prefix] = "{}"
            for key, sub in value.items():
                walk(f"{prefix}{sep}{key}" if prefix else str(key), sub)
        elif isinstance(value, (list, tuple)):
            if not value:
                out[prefix] = "[]"
            for i, sub in enumerate(value):
                walk(f"{prefix}{sep}{i}", sub)
        elif value is None:
            out[prefix] = "None"
        elif isinstance(value, (bool, int, float, str)):
            out[prefix] = value
        else:
            out[prefix] = str(value)

    walk("", params)
    return out


def _jsonable(value: Any) -> Any:
    value = _scalar(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _atomic_write(path: Path, write: Any) -> None:
    """Write through a temporary file in the same folder, then rename over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _check_status(status: str) -> str:
    if status not in _STATUSES:
        raise ArgumentError(
            f"status={status!r} is invalid; expected one of {', '.join(map(repr, _STATUSES))}.",
            param="status",
        )
    return status


# -- CSV ------------------------------------------------------------------------------
class CSVLogger(Logger):
    """Write metrics to a CSV file: columns ``step``, ``epoch``, then one per metric.

    Metrics logged at the same step (the training loss, then the validation
    metrics) share one row; a metric first logged late adds a column (the file is
    rewritten once with the wider header, earlier rows get empty cells), so the file
    always reads with :class:`csv.DictReader` or ``pandas.read_csv``. The metric
    columns are sorted by name. ``epoch`` comes from an ``"epoch"`` entry of the
    metrics, as the trainer logs it. Rows are buffered and appended every
    ``flush_every_n_steps`` steps and at :meth:`finalize`. A file already there (a
    resumed run) is appended to. Hyperparameters go to ``hparams.json`` beside it.

    Parameters
    ----------
    save_dir
        The folder of the file; ``None`` means ``<run_dir>/logs``, from
        :meth:`setup`.
    name
        The file's name.
    flush_every_n_steps
        How many steps of rows to keep in memory before writing them.

    Examples
    --------
    >>> import csv, tempfile
    >>> from pbgml.train import CSVLogger
    >>> with tempfile.TemporaryDirectory() as run_dir:
    ...     logger = CSVLogger()
    ...     logger.setup(run_dir)
    ...     logger.log_metrics({"train/loss": 0.5, "epoch": 0}, step=1)
    ...     logger.log_metrics({"val/acc": 0.75, "epoch": 0}, step=1)
    ...     logger.log_metrics({"train/loss": 0.25, "epoch": 1}, step=2)
    ...     logger.finalize("success")
    ...     with open(logger.path, newline="") as f:
    ...         rows = list(csv.DictReader(f))
    >>> [list(row.values()) for row in rows]
    [['1', '0', '0.5', '0.75'], ['2', '1', '0.25', '']]
    >>> list(rows[0])
    ['step', 'epoch', 'train/loss', 'val/acc']
    """

    def __init__(
        self,
        save_dir: str | os.PathLike[str] | None = None,
        name: str = "metrics.csv",
        flush_every_n_steps: int = 100,
    ) -> None:
        if not isinstance(name, str) or not name or os.sep in name or name in (".", ".."):
            raise ArgumentError(
                f"name={name!r} is invalid; expected a file name such as 'metrics.csv'.",
                param="name",
            )
        if (
            isinstance(flush_every_n_steps, bool)
            or not isinstance(flush_every_n_steps, int)
            or flush_every_n_steps < 1
        ):
            raise ArgumentError(
                f"flush_every_n_steps={flush_every_n_steps!r} is invalid; expected an int >= 1.",
                param="flush_every_n_steps",
            )
        self.save_dir = None if save_dir is None else Path(save_dir)
        self.name = name
        self.flush_every_n_steps = flush_every_n_steps
        self._dir: Path | None = self.save_dir
        self._columns: set[str] = set()
        self._written: list[str] | None = None  # the header on disk
        self._rows: list[dict[str, Any]] = []
        self._flushed_step: int | None = None
        self._hparams: dict[str, Any] = {}
        self._ready = False

    @property
    def log_dir(self) -> Path:
        """The folder the files are written to."""
        if self._dir is None:
            raise PbgmlError(_NOT_SET_UP.format(cls=type(self).__name__))
        return self._dir

    @property
    def path(self) -> Path:
        """The CSV file's path."""
        return self.log_dir / self.name

    def setup(self, run_dir: str) -> None:
        """Write under ``save_dir`` or ``<run_dir>/logs``; read the header of a file already there."""
        self._dir = self.save_dir if self.save_dir is not None else Path(run_dir) / "logs"
        self._ready = False
        self._prepare()

    def _prepare(self) -> None:
        if self._ready:
            return
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and self.path.stat().st_size:
            with open(self.path, newline="", encoding="utf-8") as handle:
                header = next(csv.reader(handle), None)
            if header:
                self._written = header
                self._columns.update(h for h in header if h not in ("step", "epoch"))
        self._ready = True

    def _header(self) -> list[str]:
        return ["step", "epoch", *sorted(self._columns)]

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """Buffer one row (or add to the row of the same step); write every few steps."""
        self._prepare()
        values = {str(k): _scalar(v) for k, v in metrics.items()}
        values.pop("step", None)
        epoch = values.pop("epoch", None)
        if isinstance(epoch, float) and epoch.is_integer():
            epoch = int(epoch)
        last = self._rows[-1] if self._rows else None
        if (
            last is not None
            and last["step"] == step
            and (epoch is None or last["epoch"] in (None, epoch))
            and not (values.keys() & last.keys())
        ):
            last.update(values)
            if epoch is not None:
                last["epoch"] = epoch
        else:
            if (
                self._rows
                and step != self._rows[-1]["step"]
                and step - (self._flushed_step or 0) >= self.flush_every_n_steps
            ):
                self.flush()
            self._rows.append({"step": step, "epoch": epoch, **values})
        self._columns.update(values)

    def flush(self) -> None:
        """Write the buffered rows (rewriting the file when its header grew)."""
        if not self._rows:
            return
        self._prepare()
        header = self._header()
        rows = [{k: ("" if v is None else v) for k, v in row.items()} for row in self._rows]
        if self._written == header:
            with open(self.path, "a", newline="", encoding="utf-8") as handle:
                csv.DictWriter(handle, fieldnames=header).writerows(rows)
        else:
            old: list[dict[str, str]] = []
            if self._written is not None and self.path.exists():
                with open(self.path, newline="", encoding="utf-8") as handle:
                    old = list(csv.DictReader(handle))

            def write(handle: Any) -> None:
                writer = csv.DictWriter(handle, fieldnames=header, restval="")
                writer.writeheader()
                writer.writerows(old)
                writer.writerows(rows)

            _atomic_write(self.path, write)
            self._written = header
        self._flushed_step = self._rows[-1]["step"]
        self._rows = []

    def log_hyperparams(self, params: Mapping[str, Any]) -> None:
        """Merge into ``hparams.json`` beside the CSV file (nested values kept nested)."""
        self._prepare()
        self._hparams.update(_jsonable(params))
        text = json.dumps(self._hparams, indent=2, allow_nan=False) + "\n"
        _atomic_write(self.log_dir / "hparams.json", lambda handle: handle.write(text))

    def finalize(self, status: str) -> None:
        """Write the rows still buffered."""
        _check_status(status)
        self.flush()


# -- TensorBoard ----------------------------------------------------------------------
def _import_tensorboard() -> Any:
    require("tensorboard", extra="tensorboard", purpose="TensorBoardLogger")
    try:
        from torch.utils import tensorboard
    except Exception as err:
        raise MissingExtraError(
            f"TensorBoardLogger requires tensorboard, which is installed but "
            f"torch.utils.tensorboard failed to import ({type(err).__name__}: {err}); "
            f"reinstall it: pip install --force-reinstall pbgml[tensorboard]"
        ) from err
    return tensorboard


def _markdown_table(flat: Mapping[str, Any]) -> str:
    lines = ["| name | value |", "|---|---|"]
    for key, value in flat.items():
        cell = str(value).replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {key} | {cell} |")
    return "\n".join(lines)


@needs("tensorboard", extra="tensorboard")
class TensorBoardLogger(Logger):
    """Write scalars, histograms and hyperparameters for TensorBoard.

    One :class:`torch.utils.tensorboard.SummaryWriter` writes event files into
    ``save_dir`` (``<run_dir>/logs/tensorboard`` by default); view them with
    ``tensorboard --logdir <run_dir>/logs``. Hyperparameters are flattened
    (``optimizer.lr``) and written into the same folder, as a text table and
    through TensorBoard's hparams plugin (no sub-run folders); multi-line strings (a
    YAML config) go in as text only. Histograms skip non-finite values. Requires
    ``pip install pbgml[tensorboard]``.

    Parameters
    ----------
    save_dir
        The folder of the event files; ``None`` means ``<run_dir>/logs/tensorboard``.

    Examples
    --------
    >>> import tempfile, torch
    >>> from pbgml.train import TensorBoardLogger
    >>> with tempfile.TemporaryDirectory() as run_dir:
    ...     logger = TensorBoardLogger()
    ...     logger.setup(run_dir)
    ...     logger.log_metrics({"train/loss": 0.5}, step=1)
    ...     logger.log_histogram("params/weight", torch.randn(10), step=1)
    ...     logger.finalize("success")
    ...     logger.log_dir.relative_to(run_dir).as_posix()
    'logs/tensorboard'
    """

    def __init__(self, save_dir: str | os.PathLike[str] | None = None) -> None:
        self._tb = _import_tensorboard()
        self.save_dir = None if save_dir is None else Path(save_dir)
        self._dir: Path | None = self.save_dir
        self._writer: Any = None

    @property
    def log_dir(self) -> Path:
        """The folder of the event files."""
        if self._dir is None:
            raise PbgmlError(_NOT_SET_UP.format(cls=type(self).__name__))
        return self._dir

    @property
    def experiment(self) -> Any:
        """The :class:`~torch.utils.tensorboard.SummaryWriter` (created on first use)."""
        if self._writer is None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self._writer = self._tb.SummaryWriter(log_dir=str(self.log_dir))
        return self._writer

    def setup(self, run_dir: str) -> None:
        """Write under ``save_dir`` or ``<run_dir>/logs/tensorboard``."""
        self._dir = (
            self.save_dir if self.save_dir is not None else Path(run_dir) / "logs" / "tensorboard"
        )

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """One scalar per metric, at ``step``."""
        writer = self.experiment
        for name, value in metrics.items():
            writer.add_scalar(name, float(_scalar(value)), global_step=step)

    def log_histogram(self, name: str, values: Tensor, step: int) -> None:
        """A histogram of the finite values (nothing when there are none)."""
        flat = values.detach().reshape(-1).float().cpu()
        flat = flat[flat.isfinite()]
        if flat.numel():
            self.experiment.add_histogram(name, flat, global_step=step)

    def log_hyperparams(self, params: Mapping[str, Any]) -> None:
        """Flattened hyperparameters, as a text table and for the hparams plugin."""
        hparams: Any = self._tb.summary.hparams  # untyped in torch

        flat = flatten_params(params)
        texts = {k: v for k, v in flat.items() if isinstance(v, str) and "\n" in v}
        plain = {k: v for k, v in flat.items() if k not in texts}
        writer = self.experiment
        writer.add_text("hparams", _markdown_table(plain))
        for key, text in texts.items():
            body = "\n".join("    " + line for line in text.splitlines())
            writer.add_text(f"hparams/{key}", body)
        if plain:
            for summary in hparams(plain, {}):
                writer.file_writer.add_summary(summary)

    def finalize(self, status: str) -> None:
        """Flush and close the event file."""
        _check_status(status)
        if self._writer is not None:
            self._writer.flush()
            self._writer.close()
            self._writer = None


# -- MLflow ---------------------------------------------------------------------------
_MLFLOW_STATUS = {"success": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}
_MLFLOW_BAD_CHARS = re.compile(r"[^\w\-. /]")
_MLFLOW_MAX_PARAM = 6000  # characters MLflow stores in a parameter's value
_MLFLOW_BATCH_PARAMS = 100
_MLFLOW_BATCH_METRICS = 1000


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


@needs("mlflow", extra="mlflow")
class MLflowLogger(Logger):
    """Log a run to MLflow's local tracking store: metrics by step, parameters, status.

    By default the store is an SQLite file, ``<run_dir>/logs/mlflow.db``, and the
    experiment's artifacts go to ``<run_dir>/logs/mlartifacts`` (MLflow's file store
    needs ``MLFLOW_ALLOW_FILE_STORE=true``; SQLite does not). Browse it with
    ``mlflow ui --backend-store-uri sqlite:///<run_dir>/logs/mlflow.db``. Metric
    names keep their ``/`` (``val/acc``); characters MLflow refuses become ``_``.
    Nested parameters are flattened (``optimizer.lr``); values longer than MLflow's
    limit, such as a YAML config, are stored as a text artifact instead. Metrics are
    sent in batches, at most a second apart, and at :meth:`finalize`, which ends the
    run as ``FINISHED``, ``FAILED`` or ``KILLED`` (logging after that, as a test
    stage after fit does, reopens it until the next :meth:`finalize`). Requires
    ``pip install pbgml[mlflow]``.

    Parameters
    ----------
    tracking_uri
        Where MLflow stores runs; ``None`` means the run directory's SQLite file.
    experiment_name
        The MLflow experiment (created when missing).
    run_name
        The MLflow run's name; ``None`` lets MLflow pick one.

    Attributes
    ----------
    run_id
        The MLflow run's id, after :meth:`setup`.

    Examples
    --------
    >>> import tempfile
    >>> from pbgml.train import MLflowLogger
    >>> with tempfile.TemporaryDirectory() as run_dir:
    ...     logger = MLflowLogger(run_name="demo")
    ...     logger.setup(run_dir)
    ...     logger.log_hyperparams({"optimizer": {"lr": 0.1}})
    ...     logger.log_metrics({"val/acc": 0.5}, step=3)
    ...     logger.finalize("success")
    ...     run = logger.client.get_run(logger.run_id)
    ...     run.info.status, run.data.params, run.data.metrics
    ('FINISHED', {'optimizer.lr': '0.1'}, {'val/acc': 0.5})
    """

    #: The longest a metric waits in memory before it is sent, in seconds.
    flush_interval: float = 1.0

    def __init__(
        self,
        tracking_uri: str | None = None,
        experiment_name: str = "pbgml",
        run_name: str | None = None,
    ) -> None:
        for key, value, optional in (
            ("tracking_uri", tracking_uri, True),
            ("experiment_name", experiment_name, False),
            ("run_name", run_name, True),
        ):
            if not (value is None and optional) and (not isinstance(value, str) or not value):
                raise ArgumentError(
                    f"{key}={value!r} is invalid; expected a non-empty string"
                    f"{' or None' if optional else ''}.",
                    param=key,
                )
        self._mlflow = require("mlflow", extra="mlflow", purpose="MLflowLogger")
        self.tracking_uri = tracking_uri
        self.experiment_name = experiment_name
        self.run_name = run_name
        self.client: Any = None
        self.run_id: str | None = None
        self._active = False
        self._metrics: list[Any] = []
        self._last_flush = 0.0
        self._params: dict[str, str] = {}

    def setup(self, run_dir: str) -> None:
        """Open the store, find or create the experiment, and start a run."""
        from mlflow.tracking import MlflowClient

        logs = Path(run_dir).resolve() / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        uri = self.tracking_uri or f"sqlite:///{(logs / 'mlflow.db').as_posix()}"
        # creating a new SQLite store logs two INFO lines per run: keep them out of the console
        quiet = logging.getLogger("mlflow.store.db.utils")
        level = quiet.level
        quiet.setLevel(logging.WARNING)
        try:
            self.client = MlflowClient(tracking_uri=uri)
            experiment = self.client.get_experiment_by_name(self.experiment_name)
        finally:
            quiet.setLevel(level)
        if experiment is not None:
            experiment_id = experiment.experiment_id
        else:
            try:
                experiment_id = self.client.create_experiment(
                    self.experiment_name, artifact_location=(logs / "mlartifacts").as_uri()
                )
            except self._mlflow.exceptions.MlflowException:
                # another run sharing the store created it first
                experiment = self.client.get_experiment_by_name(self.experiment_name)
                if experiment is None:
                    raise
                experiment_id = experiment.experiment_id
        run = self.client.create_run(experiment_id, run_name=self.run_name)
        self.run_id = run.info.run_id
        self._active = True
        self._last_flush = time.monotonic()

    def _require_run(self) -> str:
        if self.run_id is None:
            raise PbgmlError(
                "MLflowLogger has no run yet: the trainer calls setup(run_dir) before logging."
            )
        if not self._active:  # logging after finalize (a test stage after fit) reopens the run
            self.client.update_run(self.run_id, status="RUNNING")
            self._active = True
        return self.run_id

    def log_hyperparams(self, params: Mapping[str, Any]) -> None:
        """Flattened parameters (MLflow keeps a parameter's first value)."""
        run_id = self._require_run()
        param_cls = self._mlflow.entities.Param
        new: list[Any] = []
        for key, value in flatten_params(params).items():
            name = _MLFLOW_BAD_CHARS.sub("_", key)
            text = str(value)
            if len(text) > _MLFLOW_MAX_PARAM:
                self.client.log_text(run_id, text, f"params/{name}.txt")
                text = f"<{len(text)} characters: see artifact params/{name}.txt>"
            if name in self._params:
                continue
            self._params[name] = text
            new.append(param_cls(name, text))
        for chunk in _chunks(new, _MLFLOW_BATCH_PARAMS):
            self.client.log_batch(run_id, params=chunk)

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """Queue the metrics; send them when the last send is a second old."""
        self._require_run()
        metric_cls = self._mlflow.entities.Metric
        stamp = int(time.time() * 1000)
        for name, value in metrics.items():
            key = _MLFLOW_BAD_CHARS.sub("_", str(name))
            self._metrics.append(metric_cls(key, float(_scalar(value)), stamp, int(step)))
        if time.monotonic() - self._last_flush >= self.flush_interval:
            self.flush()

    def flush(self) -> None:
        """Send the queued metrics."""
        self._last_flush = time.monotonic()
        if not self._metrics or self.run_id is None:
            return
        queued, self._metrics = self._metrics, []
        for chunk in _chunks(queued, _MLFLOW_BATCH_METRICS):
            self.client.log_batch(self.run_id, metrics=chunk)

    def finalize(self, status: str) -> None:
        """Send what is queued and end the run (``FINISHED``, ``FAILED``, ``KILLED``)."""
        _check_status(status)
        if not self._active or self.run_id is None:
            return
        self.flush()
        # (MLflow accepts metrics on an ended run; set_terminated then ends it again)
        self.client.set_terminated(self.run_id, status=_MLFLOW_STATUS[status])
        self._active = False
