"""Checkpoint files: atomic writes, ``weights_only`` loads, and the :class:`ModelCheckpoint`."""

from __future__ import annotations

import math
import os
import tempfile
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from pbgml._errors import did_you_mean
from pbgml._validate import validates
from pbgml.train._base import Callback
from pbgml.train._errors import TrainerError

if TYPE_CHECKING:
    from pbgml.train._task import Task
    from pbgml.train._trainer import Trainer

__all__ = [
    "CHECKPOINT_KEYS",
    "SAFE_GLOBALS",
    "ModelCheckpoint",
    "load_checkpoint",
    "save_checkpoint",
    "weights_are_finite",
]

#: The top-level keys of every checkpoint the trainer writes.
CHECKPOINT_KEYS = (
    "model",
    "optimizer",
    "scheduler",
    "scaler",
    "loop",
    "rng",
    "data",
    "callbacks",
    "config",
    "meta",
)

#: Classes a checkpoint may hold beyond tensors and plain Python values: none. Every
#: state is converted to tensors, lists, dicts, strings and numbers before it is saved
#: (numpy's RNG state included), so ``torch.load(weights_only=True)`` reads it as is.
SAFE_GLOBALS: tuple[type, ...] = ()

_DEFAULT_FILENAME = "epoch={epoch:03d}-step={step:06d}"
_LAST = "last"
_EXT = ".ckpt"


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def save_checkpoint(checkpoint: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write a checkpoint atomically: the file at ``path`` is always complete.

    The dict goes to a temporary file in the same folder, is flushed and fsynced,
    then renamed over ``path`` (:func:`os.replace`) and the folder is fsynced: a
    crash at any moment leaves either the old file or the new one, never a torn one.

    Examples
    --------
    >>> import tempfile, torch
    >>> from pbgml.train import load_checkpoint, save_checkpoint
    >>> folder = tempfile.mkdtemp()
    >>> path = save_checkpoint({"model": {"w": torch.ones(2)}}, f"{folder}/a.ckpt")
    >>> load_checkpoint(path)["model"]["w"]
    tensor([1., 1.])
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(dict(checkpoint), handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)
    return target


def _link_or_copy(source: Path, target: Path, checkpoint: Mapping[str, Any]) -> None:
    """Make ``target`` name the same complete file as ``source``, atomically."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.link")
    try:
        tmp.unlink(missing_ok=True)
        os.link(source, tmp)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except OSError:
        tmp.unlink(missing_ok=True)
        save_checkpoint(checkpoint, target)


def load_checkpoint(
    path: str | os.PathLike[str], map_location: str | torch.device | None = "cpu"
) -> dict[str, Any]:
    """Read a checkpoint with ``torch.load(weights_only=True)``, never anything less safe.

    Raises
    ------
    TrainerError
        When the file is missing or holds something ``weights_only`` refuses (the
        load is never retried without it).

    Examples
    --------
    >>> from pbgml.train import load_checkpoint
    >>> try:
    ...     load_checkpoint("no/such.ckpt")
    ... except FileNotFoundError as err:
    ...     print(err)
    ckpt_path='no/such.ckpt': no such checkpoint file
    """
    source = Path(path)
    if not source.is_file():
        raise _MissingCheckpointError(f"ckpt_path={os.fspath(path)!r}: no such checkpoint file")
    try:
        with torch.serialization.safe_globals(list(SAFE_GLOBALS)):
            loaded = torch.load(source, map_location=map_location, weights_only=True)
    except Exception as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        reason = next(
            (line for line in lines if "Unsupported global" in line), lines[0] if lines else ""
        )
        raise TrainerError(
            f"ckpt_path={os.fspath(path)!r}: not a checkpoint torch.load(weights_only=True) "
            f"can read ({type(err).__name__}: {reason}); "
            "pbgml never loads checkpoints without weights_only",
            param="ckpt_path",
        ) from err
    if not isinstance(loaded, dict):
        raise TrainerError(
            f"ckpt_path={os.fspath(path)!r}: expected a dict, got {type(loaded).__name__}",
            param="ckpt_path",
        )
    return loaded


class _MissingCheckpointError(TrainerError, FileNotFoundError):
    def __init__(self, message: str) -> None:
        super().__init__(message, param="ckpt_path")


def weights_are_finite(state: Mapping[str, Any]) -> bool:
    """Whether every floating tensor of a state dict is finite.

    Examples
    --------
    >>> import torch
    >>> from pbgml.train import weights_are_finite
    >>> weights_are_finite({"w": torch.ones(2)}), weights_are_finite({"w": torch.tensor([1.0, float("nan")])})
    (True, False)
    """
    for value in state.values():
        if isinstance(value, torch.Tensor):
            if value.is_floating_point() and not bool(torch.isfinite(value).all()):
                return False
        elif isinstance(value, Mapping) and not weights_are_finite(value):
            return False
    return True


def _format(template: str, values: Mapping[str, Any]) -> str:
    try:
        return template.format_map(values)
    except KeyError as err:
        raise TrainerError(
            f"ModelCheckpoint: filename={template!r} names {err.args[0]!r}, which is not "
            f"logged (known: {', '.join(sorted(values))})",
            param="filename",
        ) from None


def _mode_rule(value: object) -> None:
    if value not in ("min", "max"):
        hint = did_you_mean(str(value), ("min", "max"))
        raise TrainerError(
            f"ModelCheckpoint: mode={value!r} must be 'min' or 'max'.{hint}", param="mode"
        )


def _top_k_rule(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < -1:
        raise TrainerError(
            f"ModelCheckpoint: save_top_k={value!r} must be an int >= -1", param="save_top_k"
        )


def _every_rule(name: str) -> Callable[[object], None]:
    def rule(value: object) -> None:
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise TrainerError(
                f"ModelCheckpoint: {name}={value!r} must be None or an int >= 0", param=name
            )

    return rule


#: ModelCheckpoint's argument rules: its constructor applies them, and so does pbgml.check.
_CHECKPOINT_RULES: dict[str, Callable[[object], None]] = {
    "mode": _mode_rule,
    "save_top_k": _top_k_rule,
    "every_n_train_steps": _every_rule("every_n_train_steps"),
    "every_n_epochs": _every_rule("every_n_epochs"),
}


@validates(**_CHECKPOINT_RULES)
class ModelCheckpoint(Callback):
    """Save checkpoints at epoch ends (and/or every N steps), keep the best, link ``last``.

    Files go to ``dirpath`` (default ``run_dir/checkpoints``), named by the
    ``filename`` template (default ``epoch=NNN-step=NNNNNN``, ``.ckpt`` added); the
    template is :meth:`str.format` with ``epoch``, ``step`` and every logged metric
    by name, slashes included: ``"epoch{epoch:03d}-{val/acc:.3f}"``.

    With a ``monitor``, the ``save_top_k`` best by that metric are kept (``mode``
    ``"min"`` or ``"max"``); without, the ``save_top_k`` most recent. ``-1`` keeps
    all, ``0`` none (then only ``last.ckpt`` is written). ``last.ckpt`` (when
    ``save_last``) names the latest complete checkpoint: a hard link when the
    file system allows it, else a copy, always replaced atomically. A checkpoint
    whose weights are not finite is never written, so rotation never loses the
    last good one. The best scores and paths are saved in each checkpoint and
    restored on resume.

    Parameters
    ----------
    dirpath
        The folder; ``None`` is ``run_dir/checkpoints``.
    filename
        The name template (without ``.ckpt``).
    monitor
        The logged metric to rank checkpoints by (``"val/acc"``), or ``None``.
    mode
        ``"min"`` or ``"max"``.
    save_top_k
        How many ranked checkpoints to keep (``-1``: all).
    save_last
        Keep ``last.ckpt`` pointing at the latest checkpoint.
    every_n_train_steps
        Also save every this many optimizer steps (mid-epoch checkpoints).
    every_n_epochs
        Save at the end of every this many epochs (``None`` or ``0``: never).

    Examples
    --------
    >>> from pbgml.train import ModelCheckpoint
    >>> cb = ModelCheckpoint(monitor="val/acc", mode="max", filename="epoch{epoch:03d}-{val/acc:.3f}")
    >>> cb.format_filename({"epoch": 3, "step": 120, "val/acc": 0.91234})
    'epoch003-0.912.ckpt'
    """

    def __init__(
        self,
        dirpath: str | os.PathLike[str] | None = None,
        filename: str | None = None,
        monitor: str | None = None,
        mode: str = "min",
        save_top_k: int = 1,
        save_last: bool = True,
        every_n_train_steps: int | None = None,
        every_n_epochs: int | None = 1,
    ) -> None:
        for name, value in (
            ("mode", mode),
            ("save_top_k", save_top_k),
            ("every_n_train_steps", every_n_train_steps),
            ("every_n_epochs", every_n_epochs),
        ):
            _CHECKPOINT_RULES[name](value)
        self.dirpath: Path | None = None if dirpath is None else Path(dirpath)
        self.filename = _DEFAULT_FILENAME if filename is None else filename
        self.monitor = monitor
        self.mode = mode
        self.save_top_k = save_top_k
        self.save_last = save_last
        self.every_n_train_steps = every_n_train_steps or None
        self.every_n_epochs = every_n_epochs or None
        self.best_k_models: dict[str, float] = {}
        self.best_model_path = ""
        self.best_model_score: float | None = None
        self.last_model_path = ""
        self._recent: list[str] = []
        self._last_saved_step = -1
        self._warned_missing = False
        self._writes = True

    @property
    def state_key(self) -> str:
        """``ModelCheckpoint{monitor=..., mode=..., every_n_train_steps=...}``."""
        return (
            f"ModelCheckpoint{{monitor={self.monitor!r}, mode={self.mode!r}, "
            f"every_n_train_steps={self.every_n_train_steps}, every_n_epochs={self.every_n_epochs}}}"
        )

    def format_filename(self, values: Mapping[str, Any]) -> str:
        """The file name for these values (``epoch``, ``step`` and metrics), with ``.ckpt``."""
        return _format(self.filename, values) + _EXT

    # -- hooks ---------------------------------------------------------------------
    def setup(self, trainer: Trainer, task: Task, stage: str) -> None:
        """Resolve ``dirpath`` under the trainer's run directory."""
        if self.dirpath is None:
            self.dirpath = Path(trainer.run_dir) / "checkpoints"

    def on_train_batch_end(
        self, trainer: Trainer, task: Task, outputs: Mapping[str, Any], batch: Any, batch_idx: int
    ) -> None:
        """Save every ``every_n_train_steps`` optimizer steps."""
        n = self.every_n_train_steps
        step = trainer.global_step
        if n and step and step % n == 0 and step != self._last_saved_step:
            self._save(trainer, finished_epoch=False)

    def on_train_epoch_end(self, trainer: Trainer, task: Task) -> None:
        """Save at the end of every ``every_n_epochs`` epochs."""
        n = self.every_n_epochs
        if n and (trainer.current_epoch + 1) % n == 0:
            self._save(trainer, finished_epoch=None)

    # -- saving --------------------------------------------------------------------
    def _better(self, score: float, than: float) -> bool:
        return score < than if self.mode == "min" else score > than

    def _worst(self) -> str:
        pick = max if self.mode == "min" else min
        return pick(self.best_k_models, key=lambda p: self.best_k_models[p])

    def _save(self, trainer: Trainer, *, finished_epoch: bool | None) -> None:
        if trainer.fast_dev_run or self.dirpath is None:
            return
        # every rank keeps the same books (best, last, top k: the metrics are synced),
        # so ckpt_path="best" names one file everywhere; rank 0 alone writes and deletes
        self._writes = trainer.is_global_zero
        self._last_saved_step = trainer.global_step
        last = self.dirpath / f"{_LAST}{_EXT}"
        if self.save_last:
            self.last_model_path = str(last)
        checkpoint = trainer._checkpoint_dict(finished_epoch=finished_epoch)
        if not weights_are_finite(checkpoint["model"]):
            if not self._writes:
                return
            warnings.warn(
                f"ModelCheckpoint: the weights at step {trainer.global_step} are not finite; "
                "no checkpoint written (last.ckpt still names the last good one)",
                RuntimeWarning,
                stacklevel=2,
            )
            return
        metrics = dict(trainer.callback_metrics)
        values = {**metrics, "epoch": trainer.current_epoch, "step": trainer.global_step}
        written: Path | None = None
        if self.monitor is None:
            written = self._save_recent(checkpoint, values)
        else:
            score = metrics.get(self.monitor)
            if score is None:
                if not self._warned_missing and self._writes:
                    self._warned_missing = True
                    warnings.warn(
                        f"ModelCheckpoint: monitor={self.monitor!r} is not logged yet "
                        f"(logged: {', '.join(sorted(metrics)) or 'nothing'}); only last.ckpt "
                        "is written until it is",
                        RuntimeWarning,
                        stacklevel=2,
                    )
            elif math.isfinite(score):
                written = self._save_top_k(checkpoint, values, float(score))
        if self.save_last:
            if written is not None and self._writes:
                _link_or_copy(written, last, checkpoint)
            else:
                self._remember(checkpoint)
                if self._writes:
                    save_checkpoint(checkpoint, last)

    def _save_recent(self, checkpoint: dict[str, Any], values: Mapping[str, Any]) -> Path | None:
        if self.save_top_k == 0:
            return None
        assert self.dirpath is not None
        path = self.dirpath / self.format_filename(values)
        if str(path) in self._recent:
            self._recent.remove(str(path))
        self._recent.append(str(path))
        self.best_model_path = str(path)
        dropped: list[str] = []
        while self.save_top_k > 0 and len(self._recent) > self.save_top_k:
            dropped.append(self._recent.pop(0))
        self._remember(checkpoint)  # the books as they are once this file exists
        if self._writes:
            save_checkpoint(checkpoint, path)
            for old in dropped:  # only once the new one is safely on disk
                self._delete(Path(old))
        return path

    def _save_top_k(
        self, checkpoint: dict[str, Any], values: Mapping[str, Any], score: float
    ) -> Path | None:
        k = self.save_top_k
        if k == 0:
            return None
        full = k != -1 and len(self.best_k_models) >= k
        if full and not self._better(score, self.best_k_models[self._worst()]):
            return None
        assert self.dirpath is not None
        path = self.dirpath / self.format_filename(values)
        self.best_k_models[str(path)] = score
        if self.best_model_score is None or self._better(score, self.best_model_score):
            self.best_model_score = score
            self.best_model_path = str(path)
        dropped: list[str] = []
        while k != -1 and len(self.best_k_models) > k:
            worst = self._worst()
            del self.best_k_models[worst]
            dropped.append(worst)
        self._remember(checkpoint)
        if not self._writes:
            return path
        save_checkpoint(checkpoint, path)
        for old in dropped:  # only once the new, finite one is safely on disk
            if old != str(path):
                self._delete(Path(old))
        return path

    def _delete(self, path: Path) -> None:
        """Delete an old checkpoint of this callback's own: a ``.ckpt`` file right in
        ``dirpath``. A path from a checkpoint's state that points anywhere else (a
        moved run, a hostile file) is left alone: checkpoints never choose what is
        deleted."""
        if self.dirpath is None or path.suffix != _EXT:
            return
        try:
            inside = path.resolve().parent == self.dirpath.resolve()
        except OSError:
            return
        if inside and not path.is_symlink():
            path.unlink(missing_ok=True)

    def _remember(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["callbacks"][self.state_key] = self.state_dict()

    # -- state ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Best scores and paths, the recent files, and where ``last`` points."""
        return {
            "dirpath": None if self.dirpath is None else str(self.dirpath),
            "monitor": self.monitor,
            "mode": self.mode,
            "best_k_models": dict(self.best_k_models),
            "best_model_path": self.best_model_path,
            "best_model_score": self.best_model_score,
            "last_model_path": self.last_model_path,
            "recent": list(self._recent),
            "last_saved_step": self._last_saved_step,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the state of :meth:`state_dict` (the files are not touched)."""
        self.best_k_models = {str(k): float(v) for k, v in state.get("best_k_models", {}).items()}
        self.best_model_path = str(state.get("best_model_path", ""))
        score = state.get("best_model_score")
        self.best_model_score = None if score is None else float(score)
        self.last_model_path = str(state.get("last_model_path", ""))
        self._recent = [str(p) for p in state.get("recent", [])]
        self._last_saved_step = int(state.get("last_saved_step", -1))
