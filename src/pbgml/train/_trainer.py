"""The :class:`Trainer`: a hand-written training loop with hooks only where they are used."""

from __future__ import annotations

import contextlib
import math
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from pbgml._errors import did_you_mean
from pbgml.optim import ScheduledLR
from pbgml.train import _distributed, _evaluation, _precision, _state, _strategy
from pbgml.train._base import Callback, Logger
from pbgml.train._checkpoint import (
    ModelCheckpoint,
    load_checkpoint,
    save_checkpoint,
    weights_are_finite,
)
from pbgml.train._errors import Interrupted, NonFiniteLossError, TrainerError
from pbgml.train._helpers import (
    _CLIP_ALGORITHMS,
    _COMPILE_MODES,
    _HOOKS,
    PRECISIONS,
    _batch_size,
    _check_fraction_or_count,
    _check_int,
    _length,
    _limit,
    _overridden,
    _overrides,
)
from pbgml.train._logs import StageLog
from pbgml.train._seed import set_rng_state
from pbgml.train._signals import SignalCatcher
from pbgml.train._task import Task

__all__ = ["PRECISIONS", "Trainer"]

_SYNC_BN_CPU = (
    "sync_batchnorm=True is ignored on CPU: torch's SyncBatchNorm runs on CUDA only (DDP "
    "refuses it on CPU), so each process normalizes with its own batch's statistics"
)


def _make_strategy(name: str) -> _strategy.Strategy:
    """The strategy of a ``strategy`` value (``"auto"``: DDP); FSDP's module is imported
    only when it is used."""
    if name == "fsdp":
        from pbgml.train._fsdp import FSDPStrategy

        return FSDPStrategy()
    return _strategy.DDPStrategy()


class Trainer:
    """Fit, validate, test and predict a :class:`~pbgml.train.Task`: a lean, resumable loop.

    The loop is a hand-written PyTorch loop: losses are accumulated on the device
    (a host sync only every ``log_every_n_steps`` steps and at epoch ends), a hook
    is called only on the callbacks that override it, evaluation runs under
    :func:`torch.no_grad` and with torch's RNG forked (so validating never changes
    training). Everything optional (checkpoints, progress bar, early stopping...)
    is a :class:`~pbgml.train.Callback`.

    Parameters
    ----------
    max_epochs
        Stop after this many epochs (``None`` or ``-1``: no limit, then set ``max_steps``).
    min_epochs
        Do not stop early (``should_stop``) before this many epochs.
    max_steps
        Stop after this many optimizer steps (``None`` or ``-1``: no limit).
    accelerator
        ``"auto"`` (CUDA when available, else MPS, else CPU), ``"cpu"``, ``"cuda"`` (or
        ``"gpu"``) or ``"mps"``.
    devices
        A count, a list of CUDA indices or ``"auto"`` (every GPU; one process elsewhere):
        a Trainer drives one device per process, so more than one needs the processes:
        ``torchrun --nproc-per-node N`` (then each process takes ``LOCAL_RANK``'s
        device), or :func:`pbgml.run` / the ``pbgml`` command, which start their own
        workers through torch's elastic launcher. ``trainer.devices`` holds the resolved
        :class:`~pbgml.train._distributed.Devices`.
    strategy
        ``"auto"`` (DDP when there are several processes), ``"ddp"`` or ``"fsdp"``
        (FSDP2: the task's ``model`` sharded during fit; checkpoints hold the full
        weights, as in one process). Either one in a single process outside torchrun
        trains in a process group of one (the same weights as ``"auto"``).
    sync_batchnorm
        Convert BatchNorm layers to ``nn.SyncBatchNorm`` in distributed fits (CUDA only:
        ignored with a warning on CPU).
    tf32
        On a CUDA device, let float32 matmuls use TF32 where the GPU has it (Ampere and
        newer; the default, as most training wants); ``False`` keeps full float32. It
        holds for the process (``torch.set_float32_matmul_precision``); no effect on CPU.
    precision
        ``"32"``; ``"bf16-mixed"`` (autocast to bfloat16, CPU and CUDA);
        ``"16-mixed"`` (float16 autocast and a ``torch.amp.GradScaler``, CUDA and CPU:
        gradients are unscaled before clipping, a step the scaler skips for inf/NaN
        gradients steps no ``"step"``-interval scheduler and is counted in
        :attr:`skipped_steps`; the scaler's state is in the checkpoints); or
        ``"bf16-true"`` (weights and floating inputs in bfloat16, no autocast; the
        metrics' states stay as they are).
    gradient_clip_val, gradient_clip_algorithm
        Clip the gradients' total norm (``"norm"``) or each value (``"value"``) to
        this before each optimizer step.
    accumulate_grad_batches
        Step the optimizer every this many batches (the loss is divided by it).
    val_check_interval
        Validate every this fraction of an epoch (float) or every this many
        training batches (int).
    check_val_every_n_epoch
        Validate in every n-th epoch only; ``None`` with an int
        ``val_check_interval`` counts batches across epochs.
    limit_train_batches, limit_val_batches, limit_test_batches
        Use this fraction (float) or this many batches (int) of each loader.
    num_sanity_val_steps
        Validation batches run before training (not logged; skipped on resume).
    fast_dev_run
        ``True`` (1) or n: run n batches of training, validation and test, one
        epoch, without loggers or checkpoints.
    log_every_n_steps
        Send the step values to the loggers every this many optimizer steps.
    deterministic
        Call ``torch.use_deterministic_algorithms(True)`` while training.
    default_root_dir
        The run directory: checkpoints in ``checkpoints/``, logs in ``logs/``.
    enable_progress_bar, enable_model_summary
        Include a :class:`ProgressBar` / :class:`ModelSummary` in the default callbacks.
    callbacks
        ``None``: the defaults (:class:`ModelCheckpoint` at every epoch end with
        ``last.ckpt``, then the progress bar and model summary when enabled); a list:
        exactly those callbacks (``[]``: none at all).
    logger
        ``None``: a :class:`CSVLogger`; a logger or a list of them; ``False`` or ``[]``: none.
    config_text
        The resolved config as YAML text, stored in every checkpoint as it is (never parsed).
    hparams
        Hyperparameters given to the loggers at the start of fit, with the parameter counts.
    compile, compile_mode, compile_backend
        ``compile=True`` runs the forward of the task's ``model`` (of the task itself
        when it has no ``model``) through ``torch.compile(mode=compile_mode,
        backend=compile_backend)`` (default backend ``"inductor"``; ``"aot_eager"``
        compiles fast, for tests) in every stage of this trainer, and puts the plain
        forward back afterwards. The parameter names do not change: checkpoints hold
        the plain module's state_dict, so a compiled run resumes uncompiled and the
        reverse.

    Examples
    --------
    >>> import functools, torch
    >>> from pbgml.data import DataModule, SyntheticClassification
    >>> from pbgml.train import ClassificationTask, Trainer
    >>> data = DataModule(SyntheticClassification(100, 4, 2), val_split=20, batch_size=20)
    >>> task = ClassificationTask(torch.nn.Linear(4, 2), optimizer=functools.partial(torch.optim.SGD, lr=0.5))
    >>> trainer = Trainer(max_epochs=2, callbacks=[], logger=False)
    >>> trainer.fit(task, data)
    >>> trainer.current_epoch, trainer.global_step, sorted(trainer.callback_metrics)
    (2, 8, ['train/loss', 'val/acc', 'val/loss'])
    >>> try:
    ...     Trainer(precision="16")
    ... except ValueError as err:
    ...     print(err)
    precision='16' is not one of '16-mixed', '32', '32-true', 'bf16-mixed', 'bf16-true'
    """

    def __init__(
        self,
        *,
        max_epochs: int | None = 10,
        min_epochs: int = 0,
        max_steps: int | None = None,
        accelerator: str = "auto",
        devices: int | str | Sequence[int] = 1,
        precision: str | int = "32",
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str = "norm",
        accumulate_grad_batches: int = 1,
        val_check_interval: int | float = 1.0,
        check_val_every_n_epoch: int | None = 1,
        limit_train_batches: int | float = 1.0,
        limit_val_batches: int | float = 1.0,
        limit_test_batches: int | float = 1.0,
        num_sanity_val_steps: int = 2,
        fast_dev_run: bool | int = False,
        log_every_n_steps: int = 50,
        deterministic: bool = False,
        default_root_dir: str | os.PathLike[str] = "outputs",
        enable_progress_bar: bool = True,
        enable_model_summary: bool = True,
        callbacks: Iterable[Callback] | Callback | None = None,
        logger: Logger | Iterable[Logger] | bool | None = None,
        config_text: str | None = None,
        hparams: Mapping[str, Any] | None = None,
        compile: bool = False,
        compile_mode: str | None = None,
        compile_backend: str | None = None,
        strategy: str = "auto",
        sync_batchnorm: bool = False,
        tf32: bool = True,
    ) -> None:
        _check_int("max_epochs", max_epochs, -1, none=True)
        if not isinstance(tf32, bool):
            raise TrainerError(f"tf32={tf32!r} must be True or False", param="tf32")
        _check_int("min_epochs", min_epochs, 0)
        _check_int("max_steps", max_steps, -1, none=True)
        _check_int("accumulate_grad_batches", accumulate_grad_batches, 1)
        _check_int("check_val_every_n_epoch", check_val_every_n_epoch, 1, none=True)
        _check_int("num_sanity_val_steps", num_sanity_val_steps, -1)
        _check_int("log_every_n_steps", log_every_n_steps, 1)
        _check_fraction_or_count("val_check_interval", val_check_interval, zero=False)
        for name, value in (
            ("limit_train_batches", limit_train_batches),
            ("limit_val_batches", limit_val_batches),
            ("limit_test_batches", limit_test_batches),
        ):
            _check_fraction_or_count(name, value)
        if strategy not in _strategy.STRATEGIES:
            raise TrainerError(
                f"strategy={strategy!r} is not one of {', '.join(map(repr, _strategy.STRATEGIES))}"
                + did_you_mean(str(strategy), _strategy.STRATEGIES),
                param="strategy",
            )
        if strategy == "fsdp" and compile:
            raise TrainerError(
                "compile=True with strategy='fsdp' is not supported yet: use one of them",
                param="compile",
            )
        if not isinstance(sync_batchnorm, bool):
            raise TrainerError(
                f"sync_batchnorm={sync_batchnorm!r} must be True or False", param="sync_batchnorm"
            )
        self._launch = _distributed.launch_env()
        launch = self._launch
        # torchrun's environment with several processes, or any job of a strategy (outside
        # torchrun: a group of one, trainer=ddp on a laptop): each stage makes the process
        # group, unless one exists already (the user's), and destroys what it made
        wants_group = strategy in ("ddp", "fsdp")
        self._group_env: _distributed.LaunchEnv | None = None
        if launch is None:
            self._group_env = _distributed.ALONE if wants_group else None
        elif launch.world_size > 1 or wants_group:
            self._group_env = launch
        self.devices = _distributed.resolve_devices(accelerator, devices)
        per_node = 1 if self._launch is None else self._launch.local_world_size
        if self.devices.count not in (1, per_node) and devices != "auto":
            raise TrainerError(
                f"devices={devices!r}: a Trainer drives one device per process, and this job "
                f"has {per_node} process(es) per machine: launch the script with torchrun "
                f"(torchrun --nproc-per-node {self.devices.count} script.py), or run the "
                "experiment with pbgml.run or the pbgml command, which start their own workers",
                param="devices",
            )
        precision = str(precision)
        if precision not in PRECISIONS:
            raise TrainerError(
                f"precision={precision!r} is not one of {', '.join(map(repr, sorted(PRECISIONS)))}",
                param="precision",
            )
        if gradient_clip_val is not None and (
            isinstance(gradient_clip_val, bool)
            or not isinstance(gradient_clip_val, int | float)
            or not gradient_clip_val > 0
        ):
            raise TrainerError(
                f"gradient_clip_val={gradient_clip_val!r} must be a number > 0 or None",
                param="gradient_clip_val",
            )
        if gradient_clip_algorithm not in _CLIP_ALGORITHMS:
            raise TrainerError(
                f"gradient_clip_algorithm={gradient_clip_algorithm!r} must be 'norm' or 'value'",
                param="gradient_clip_algorithm",
            )
        if not isinstance(compile, bool):
            raise TrainerError(f"compile={compile!r} must be True or False", param="compile")
        if compile_mode not in _COMPILE_MODES:
            raise TrainerError(
                f"compile_mode={compile_mode!r} is not one of "
                f"{', '.join(map(repr, _COMPILE_MODES))}",
                param="compile_mode",
            )
        if compile_backend is not None and not isinstance(compile_backend, str):
            raise TrainerError(
                f"compile_backend={compile_backend!r} must be a torch.compile backend name "
                "('inductor', 'aot_eager', ...) or None",
                param="compile_backend",
            )
        if isinstance(fast_dev_run, bool):
            dev_batches = 1 if fast_dev_run else 0
        else:
            _check_int("fast_dev_run", fast_dev_run, 0)
            dev_batches = fast_dev_run
        if max_epochs is not None and max_epochs >= 0 and max_steps is not None and max_steps == 0:
            raise TrainerError("max_steps=0 trains nothing: use None or -1", param="max_steps")
        self.device = self._pick_device()
        _precision.check_precision(precision, self.device)
        self.max_epochs = None if max_epochs is None or max_epochs < 0 else max_epochs
        self.min_epochs = min_epochs
        self.max_steps = None if max_steps is None or max_steps < 0 else max_steps
        self.precision = precision
        self.strategy = strategy
        self.sync_batchnorm = sync_batchnorm
        self.tf32 = tf32
        if self.device.type == "cuda":  # pragma: no cover - needs CUDA
            _precision.set_tf32(tf32)
        self._strategy: _strategy.Strategy | None = None
        self.compile = compile
        self.compile_mode = compile_mode
        self.compile_backend = compile_backend
        self._compiled: tuple[nn.Module, Any] | None = None
        self.gradient_clip_val = gradient_clip_val
        self.gradient_clip_algorithm = gradient_clip_algorithm
        self.accumulate_grad_batches = accumulate_grad_batches
        self.val_check_interval = val_check_interval
        self.check_val_every_n_epoch = check_val_every_n_epoch
        self.limit_train_batches: int | float = limit_train_batches
        self.limit_val_batches: int | float = limit_val_batches
        self.limit_test_batches: int | float = limit_test_batches
        self.num_sanity_val_steps = num_sanity_val_steps
        self.fast_dev_run = dev_batches
        if dev_batches:
            self.max_epochs, self.max_steps = 1, dev_batches
            self.limit_train_batches = self.limit_val_batches = dev_batches
            self.limit_test_batches = dev_batches
            self.num_sanity_val_steps = 0
            self.val_check_interval, self.check_val_every_n_epoch = 1.0, 1
        if self.max_epochs is None and self.max_steps is None:
            raise TrainerError(
                "max_epochs=None and max_steps=None would train forever: set one of them",
                param="max_epochs",
            )
        self.log_every_n_steps = log_every_n_steps
        self.deterministic = deterministic
        self.run_dir = Path(default_root_dir)
        self.default_root_dir = self.run_dir
        self.enable_progress_bar = enable_progress_bar
        self.enable_model_summary = enable_model_summary
        self.config_text = config_text
        self.hparams: dict[str, Any] = dict(hparams or {})
        self.callbacks: list[Callback] = self._build_callbacks(callbacks)
        self.loggers: list[Logger] = [] if dev_batches else self._build_loggers(logger)
        # state
        self.current_epoch = 0
        self.global_step = 0
        self.callback_metrics: dict[str, float] = {}
        self.logged_metrics: dict[str, float] = {}
        self.progress_bar_metrics: dict[str, float] = {}
        self.should_stop = False
        self.sanity_checking = False
        self.training = False
        self.state: str | None = None
        self.num_training_batches: float = 0.0
        self.num_val_batches: float = 0.0
        self.batch_idx = 0
        self.estimated_stepping_batches: int | None = None
        self.estimated_epochs: int | None = None
        self.optimizers: list[torch.optim.Optimizer] = []
        self.lr_schedulers: list[ScheduledLR] = []
        self.scaler: Any = None
        #: Optimizer steps the gradient scaler skipped (inf/NaN gradients under ``16-mixed``).
        self.skipped_steps = 0
        self.task: Task | None = None
        self.datamodule: Any = None
        self.train_dataloader: Any = None
        self.val_dataloaders: Any = None
        self._autocast_dtype = _precision.autocast_dtype(precision)
        self._convert = _precision.batch_converter(precision, self.device)
        self._train_log = StageLog("train", on_step=True)
        self._batches_in_epoch = 0
        self._total_batches = 0
        self._epoch_finished = False
        # the epoch's loss total: a float on CPU, a device tensor elsewhere (no sync per step)
        self._loss_sum: Any = 0.0
        self._loss_weight = 0.0
        self._last_loss: Tensor | float | None = None
        self._nonfinite: Tensor | None = None
        #: (value, epoch, batch) of a non-finite loss a distributed CPU step saw, until it steps
        self._bad_loss: tuple[float, int, int] | None = None
        self._catcher: SignalCatcher | None = None
        self._loggers_ready = False
        self._meta: dict[str, Any] = {}
        self._hooks: dict[str, list[Callback]] = {}
        # torch's RNG and the train loader's generator when this epoch's iterator started
        self._epoch_start: dict[str, Any] | None = None
        self._resume_data: Mapping[str, Any] = {}

    # -- construction helpers --------------------------------------------------------
    def _pick_device(self) -> torch.device:
        """This process's device: CPU, MPS, or the CUDA device of ``LOCAL_RANK`` (the
        ``LOCAL_RANK``-th of ``devices`` when it lists indices)."""
        kind, indices = self.devices.kind, self.devices.indices
        if kind != "cuda":
            return torch.device(kind)
        local = 0 if self._launch is None else self._launch.local_rank  # pragma: no cover
        if indices is not None and local < len(indices):  # pragma: no cover - needs CUDA
            return torch.device("cuda", indices[local])
        if self._launch is not None:  # pragma: no cover - needs CUDA
            return torch.device("cuda", local)
        return torch.device("cuda", torch.cuda.current_device())  # pragma: no cover

    def _build_callbacks(self, callbacks: Iterable[Callback] | Callback | None) -> list[Callback]:
        if callbacks is None:
            return self._default_callbacks()
        chosen = [callbacks] if isinstance(callbacks, Callback) else list(callbacks)
        for cb in chosen:
            if not isinstance(cb, Callback):
                raise TrainerError(
                    f"callbacks: {cb!r} is not a pbgml.train.Callback", param="callbacks"
                )
        return chosen

    def _default_callbacks(self) -> list[Callback]:
        chosen: list[Callback] = [ModelCheckpoint()]
        if self.enable_progress_bar or self.enable_model_summary:
            from pbgml.train import _callbacks

            if self.enable_progress_bar:
                chosen.append(_callbacks.ProgressBar())
            if self.enable_model_summary:
                chosen.append(_callbacks.ModelSummary())
        return chosen

    @staticmethod
    def _build_loggers(logger: Logger | Iterable[Logger] | bool | None) -> list[Logger]:
        if logger is None or logger is True:
            from pbgml.train._loggers import CSVLogger

            return [CSVLogger()]
        if logger is False:
            return []
        chosen = [logger] if isinstance(logger, Logger) else list(logger)
        for one in chosen:
            if not isinstance(one, Logger):
                raise TrainerError(f"logger: {one!r} is not a pbgml.train.Logger", param="logger")
        return chosen

    # -- public attributes -----------------------------------------------------------
    @property
    def is_global_zero(self) -> bool:
        """Whether this process is rank 0 (the only one writing files and logs).

        Before the process group exists (the trainer makes it when a stage starts),
        torchrun's ``RANK`` says.
        """
        return self.global_rank == 0

    @property
    def global_rank(self) -> int:
        """This process's rank among all processes (0 without torch.distributed)."""
        if dist.is_available() and dist.is_initialized():
            return dist.get_rank()
        return 0 if self._launch is None else self._launch.rank

    @property
    def world_size(self) -> int:
        """The number of processes (1 without torch.distributed)."""
        if dist.is_available() and dist.is_initialized():
            return dist.get_world_size()
        return 1 if self._launch is None else self._launch.world_size

    @property
    def checkpoint_callback(self) -> ModelCheckpoint | None:
        """The first :class:`ModelCheckpoint` among the callbacks, if any."""
        return next((cb for cb in self.callbacks if isinstance(cb, ModelCheckpoint)), None)

    @property
    def checkpoint_callbacks(self) -> list[ModelCheckpoint]:
        """Every :class:`ModelCheckpoint` among the callbacks."""
        return [cb for cb in self.callbacks if isinstance(cb, ModelCheckpoint)]

    @property
    def best_model_path(self) -> str:
        """The first checkpoint callback's best checkpoint (``""`` if none)."""
        cb = self.checkpoint_callback
        return cb.best_model_path if cb is not None else ""

    @property
    def last_model_path(self) -> str:
        """The first checkpoint callback's ``last.ckpt`` (``""`` if none)."""
        cb = self.checkpoint_callback
        return cb.last_model_path if cb is not None else ""

    @property
    def checkpoint_dir(self) -> Path:
        """The folder checkpoints go to (the first checkpoint callback's, else ``run_dir/checkpoints``)."""
        cb = self.checkpoint_callback
        if cb is not None and cb.dirpath is not None:
            return Path(cb.dirpath)
        return self.run_dir / "checkpoints"

    @property
    def logger(self) -> Logger | None:
        """The first logger (``None`` without loggers)."""
        return self.loggers[0] if self.loggers else None

    # -- stages ----------------------------------------------------------------------
    def _check_task(self, task: object) -> Task:
        if not isinstance(task, Task):
            raise TrainerError(
                f"task: expected a pbgml.train.Task (wrap a plain model in ClassificationTask or "
                f"RegressionTask), got {type(task).__name__}",
                param="task",
            )
        return task

    def _compute_hooks(self) -> None:
        self._hooks = {
            hook: [cb for cb in self.callbacks if _overrides(cb, hook)] for hook in _HOOKS
        }

    @contextlib.contextmanager
    def _stage(self, stage: str, task: Task) -> Iterator[None]:
        self.state = stage
        self.task = task
        task._trainer = self
        task.to(self.device)
        _precision.to_true_dtype(task, self.precision)
        compiled = self._compile(task) if self.compile else None
        if self.datamodule is not None and task.class_names is None:
            classes = getattr(self.datamodule, "classes", None)
            if isinstance(classes, list):
                task.class_names = list(classes)
        self._compute_hooks()
        if self.is_global_zero and self.loggers and not self._loggers_ready:
            for lg in self.loggers:
                lg.setup(str(self.run_dir))
            self._loggers_ready = True
        deterministic = None
        if self.deterministic:
            deterministic = torch.are_deterministic_algorithms_enabled()
            torch.use_deterministic_algorithms(True)
        was_training = task.training
        for cb in self.callbacks:
            cb.setup(self, task, stage)
        try:
            yield
        except BaseException as err:
            for cb in self.callbacks:
                cb.on_exception(self, task, err)
            interrupted = isinstance(err, Interrupted | KeyboardInterrupt)
            self._finalize_loggers("interrupted" if interrupted else "failed")
            raise
        else:
            self._finalize_loggers("success")
        finally:
            for cb in self.callbacks:
                cb.teardown(self, task, stage)
            task.train(was_training)
            task._log_sink = None
            if compiled is not None:
                if compiled[1] is None:
                    compiled[0].__dict__.pop("forward", None)
                else:
                    compiled[0].__dict__["forward"] = compiled[1]
            if deterministic is not None:
                torch.use_deterministic_algorithms(deterministic)
            self.state = None
            self.training = False

    def _compile(self, task: Task) -> tuple[nn.Module, Any]:
        """Compile the forward of the task's model (once per trainer) and use it in place.

        The compiled forward is an instance attribute of the module: its hooks still
        run, its state_dict keys do not change (``torch.compile(module)`` would prefix
        them with ``_orig_mod.``; in torch 2.13 ``nn.Module.compile`` silently runs
        eager). Returns the module and the instance ``forward`` it had (``None``: the
        class's), which :meth:`_stage` puts back.
        """
        model = getattr(task, "model", None)
        target: nn.Module = model if isinstance(model, nn.Module) else task
        previous = target.__dict__.get("forward")
        cached = self._compiled
        if cached is not None and cached[0] is target:
            compiled = cached[1]
        else:
            options: dict[str, Any] = {"backend": self.compile_backend or "inductor"}
            if self.compile_mode is not None:
                options["mode"] = self.compile_mode
            compiled = torch.compile(target.forward, **options)
            self._compiled = (target, compiled)
        target.__dict__["forward"] = compiled
        return target, previous

    def _finalize_loggers(self, status: str) -> None:
        if self.is_global_zero:
            for lg in self.loggers:
                lg.finalize(status)

    def _log(self, metrics: Mapping[str, float], step: int) -> None:
        self.logged_metrics.update(metrics)
        if self.is_global_zero:
            for lg in self.loggers:
                lg.log_metrics(metrics, step)

    @staticmethod
    def _loaders(data: Any, stage: str, given: Any, *, primary: bool = True) -> Any:
        """The loader of ``stage``: given, else ``data`` itself when it is the stage's
        loader (``primary``), else the DataModule's."""
        if given is not None:
            return given
        if data is None:
            return None
        if isinstance(data, torch.utils.data.DataLoader):
            return data if primary else None
        method = getattr(data, f"{stage}_dataloader", None)
        if method is None:
            return None
        if stage != "train":
            dataset = getattr(data, f"{stage}_dataset", True)
            if dataset is None:
                return None
        return method()

    def _setup_data(self, data: Any, stage: str) -> None:
        self.datamodule = None if isinstance(data, torch.utils.data.DataLoader) else data
        setup = getattr(data, "setup", None)
        if self.datamodule is not None and callable(setup):
            setup(stage)

    def _collect_meta(self, data: Any) -> None:
        meta: dict[str, Any] = {"torch_version": str(torch.__version__)}
        from pbgml._version import __version__

        meta["pbgml_version"] = str(__version__)
        shape = getattr(data, "sample_shape", None)
        meta["sample_shape"] = None if shape is None else [int(s) for s in shape]
        classes = getattr(data, "classes", None)
        meta["classes"] = list(classes) if isinstance(classes, list | tuple) else None
        meta["num_classes"] = getattr(data, "num_classes", None)
        transform = getattr(data, "eval_transform", None)
        meta["eval_transform"] = None if transform is None else repr(transform)
        self._meta = meta

    # -- fit ---------------------------------------------------------------------------
    def fit(
        self,
        task: Task,
        data: Any = None,
        *,
        train_dataloaders: Any = None,
        val_dataloaders: Any = None,
        ckpt_path: str | os.PathLike[str] | None = None,
    ) -> None:
        """Train ``task`` on ``data`` (a DataModule) or on the given loaders.

        Parameters
        ----------
        task
            The :class:`~pbgml.train.Task`.
        data
            A :class:`~pbgml.data.DataModule` (``set_epoch`` is called every epoch), or
            a train DataLoader.
        train_dataloaders, val_dataloaders
            Plain DataLoaders (instead of, or overriding, ``data``'s).
        ckpt_path
            Resume from this checkpoint, ``"last"`` (the run's ``last.ckpt``) or
            ``"best"``: model, optimizers, schedulers, scaler, callbacks, loop position
            (at the exact batch), RNG states and the data's state.

        Raises
        ------
        Interrupted
            SIGTERM or SIGUSR1 arrived: a checkpoint of the current step was written first.
        NonFiniteLossError
            The loss was not finite (before the optimizer stepped on it).

        Examples
        --------
        >>> import functools, tempfile, torch
        >>> from pbgml.data import DataModule, SyntheticClassification
        >>> from pbgml.train import ClassificationTask, ModelCheckpoint, Trainer
        >>> data = DataModule(SyntheticClassification(64, 4, 2), val_split=16, batch_size=16)
        >>> def task():
        ...     return ClassificationTask(torch.nn.Linear(4, 2), optimizer=functools.partial(torch.optim.SGD, lr=0.1))
        >>> run = tempfile.mkdtemp()
        >>> Trainer(max_epochs=2, default_root_dir=run, callbacks=[ModelCheckpoint()], logger=False).fit(task(), data)
        >>> resumed = Trainer(max_epochs=4, default_root_dir=run, callbacks=[ModelCheckpoint()], logger=False)
        >>> resumed.fit(task(), data, ckpt_path="last")  # continues at epoch 2
        >>> resumed.current_epoch, resumed.global_step
        (4, 12)
        """
        self._check_task(task)
        with _distributed.process_group(self._group_env):
            self._fit_entry(task, data, train_dataloaders, val_dataloaders, ckpt_path)

    def _fit_entry(
        self, task: Task, data: Any, train_dataloaders: Any, val_dataloaders: Any, ckpt_path: Any
    ) -> None:
        self._setup_data(data, "fit")
        train_loader = self._loaders(data, "train", train_dataloaders)
        if train_loader is None:
            raise TrainerError(
                "fit: no training data: pass a DataModule or train_dataloaders=...",
                param="train_dataloaders",
            )
        val_loader = None
        if _overridden(task, "validation_step"):
            val_loader = self._loaders(data, "val", val_dataloaders, primary=False)
        self.train_dataloader, self.val_dataloaders = train_loader, val_loader
        self._collect_meta(data)
        self.should_stop = False
        with self._stage("fit", task), SignalCatcher() as catcher:
            self._catcher = catcher
            try:
                self._fit(task, train_loader, val_loader, ckpt_path)
            finally:
                self._catcher = None

    def _size_run(self, train_loader: Any) -> None:
        self.num_training_batches = _limit(
            "limit_train_batches", _length(train_loader), self.limit_train_batches
        )
        per_epoch: float = self.num_training_batches / self.accumulate_grad_batches
        if not math.isinf(per_epoch):
            per_epoch = math.ceil(per_epoch)
        steps: float = math.inf
        if self.max_epochs is not None:
            steps = self.max_epochs * per_epoch
        if self.max_steps is not None:
            steps = min(steps, self.max_steps)
        self.estimated_stepping_batches = None if math.isinf(steps) else int(steps)
        if self.max_epochs is not None:
            self.estimated_epochs = self.max_epochs
        elif self.max_steps is not None and per_epoch and not math.isinf(per_epoch):
            self.estimated_epochs = math.ceil(self.max_steps / per_epoch)
        else:
            self.estimated_epochs = None
        n = self.num_training_batches
        interval = self.val_check_interval
        if isinstance(interval, float):
            self._val_every = max(1, int(n * interval)) if not math.isinf(n) else None
            if self._val_every is None and interval != 1.0:
                raise TrainerError(
                    f"val_check_interval={interval!r}: a fraction needs a loader with a len()",
                    param="val_check_interval",
                )
        else:
            if self.check_val_every_n_epoch is not None and interval > n:
                raise TrainerError(
                    f"val_check_interval={interval!r} is more than the {int(n)} training batches "
                    "of an epoch: lower it, or set check_val_every_n_epoch=None to count batches "
                    "across epochs",
                    param="val_check_interval",
                )
            self._val_every = interval

    def _configure_optimizers(self, task: Task) -> None:
        out = task.configure_optimizers()
        optimizers: list[Any] = []
        schedulers: list[Any] = []
        if isinstance(out, torch.optim.Optimizer):
            optimizers = [out]
        elif isinstance(out, Mapping):
            optimizers = [out["optimizer"]]
            if out.get("lr_scheduler") is not None:
                schedulers = [out["lr_scheduler"]]
        elif isinstance(out, tuple | list) and len(out) == 2 and isinstance(out[0], list | tuple):
            optimizers, schedulers = list(out[0]), list(out[1])
        elif isinstance(out, tuple | list):
            for item in out:
                if isinstance(item, Mapping):
                    optimizers.append(item["optimizer"])
                    if item.get("lr_scheduler") is not None:
                        schedulers.append(item["lr_scheduler"])
                else:
                    optimizers.append(item)
        else:
            raise TrainerError(
                f"{type(task).__name__}.configure_optimizers returned {type(out).__name__}: "
                "expected an optimizer, (optimizers, schedulers) or a dict with 'optimizer'",
                param="configure_optimizers",
            )
        for opt in optimizers:
            if not isinstance(opt, torch.optim.Optimizer):
                raise TrainerError(
                    f"configure_optimizers: {opt!r} is not a torch optimizer",
                    param="configure_optimizers",
                )
        self.optimizers = optimizers
        self.lr_schedulers = [self._wrap_scheduler(s) for s in schedulers]
        self._clip_params: list[Tensor] = [
            p for opt in optimizers for group in opt.param_groups for p in group["params"]
        ]

    @staticmethod
    def _wrap_scheduler(scheduler: Any) -> ScheduledLR:
        if isinstance(scheduler, ScheduledLR):
            return scheduler
        if isinstance(scheduler, Mapping):
            inner = scheduler["scheduler"]
            if isinstance(inner, ScheduledLR):
                return inner
            return ScheduledLR(
                inner,
                interval=scheduler.get("interval", "epoch"),
                frequency=scheduler.get("frequency", 1),
                monitor=scheduler.get("monitor"),
            )
        return ScheduledLR(scheduler)

    def _fit(self, task: Task, train_loader: Any, val_loader: Any, ckpt_path: Any) -> None:
        self._size_run(train_loader)
        self.num_val_batches = (
            0.0
            if val_loader is None
            else _limit("limit_val_batches", _length(val_loader), self.limit_val_batches)
        )
        distributed = _distributed.initialized() and (
            dist.get_world_size() > 1 or self.strategy in ("ddp", "fsdp")
        )
        if distributed and val_loader is not None:
            self._check_shards("val", val_loader, self.num_val_batches)
        if distributed and self.sync_batchnorm:
            if self.device.type == "cuda":  # pragma: no cover - needs CUDA
                nn.SyncBatchNorm.convert_sync_batchnorm(task)  # type: ignore[no-untyped-call]
            elif self.is_global_zero:
                warnings.warn(_SYNC_BN_CPU, UserWarning, stacklevel=3)
        strategy = _make_strategy(self.strategy) if distributed else None
        if strategy is not None:
            strategy.setup(task, self.device)
        self._configure_optimizers(task)
        if strategy is None:
            self._fit_loop(task, train_loader, val_loader, ckpt_path)
        else:
            self._strategy = strategy
            try:
                strategy.configured(self.optimizers)
                self._fit_loop(task, train_loader, val_loader, ckpt_path)
            except BaseException:
                strategy.teardown(task, self.optimizers, failed=True)
                raise
            else:
                strategy.teardown(task, self.optimizers, failed=False)
            finally:
                self._strategy = None
        _distributed.barrier()  # the last checkpoints are on disk before any rank reads one

    def _fit_loop(self, task: Task, train_loader: Any, val_loader: Any, ckpt_path: Any) -> None:
        self.scaler = _precision.make_scaler(self.precision, self.device)
        self.global_step = 0
        self.skipped_steps = 0
        self.current_epoch = 0
        self._batches_in_epoch = 0
        self._total_batches = 0
        self._epoch_finished = False
        self._train_log = StageLog("train", on_step=True)
        self._nonfinite = None
        self._bad_loss = None
        resume: dict[str, Any] | None = None
        self._resume_data = {}
        if ckpt_path is not None:
            _distributed.barrier()
            resume = load_checkpoint(self._resolve_ckpt(ckpt_path), map_location="cpu")
            self._restore(resume, task)
            self._resume_data = resume.get("data") or {}
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=True)
        if self.is_global_zero and self.loggers and resume is None:
            self._log_hyperparams(task)
        for cb in self.callbacks:
            cb.on_fit_start(self, task)
        if resume is None and val_loader is not None and self.num_sanity_val_steps:
            limit = math.inf if self.num_sanity_val_steps < 0 else self.num_sanity_val_steps
            self.sanity_checking = True
            try:
                self._evaluate("val", task, val_loader, min(limit, self.num_val_batches))
            finally:
                self.sanity_checking = False
        start_batch, rng = 0, None
        if resume is not None:
            rng = resume.get("rng")
            if self._epoch_finished:
                self.current_epoch += 1
            else:
                start_batch = self._batches_in_epoch
        loader_state = None if resume is None else (resume.get("data") or {}).get("loader")
        self.training = True
        while self.num_training_batches and not self._done_training():
            self._train_epoch(task, train_loader, val_loader, start_batch, rng, loader_state)
            start_batch, rng, loader_state = 0, None, None
            self.current_epoch += 1
        self.training = False
        for cb in self.callbacks:
            cb.on_fit_end(self, task)

    def _done_training(self) -> bool:
        if self.max_steps is not None and self.global_step >= self.max_steps:
            return True
        if self.max_epochs is not None and self.current_epoch >= self.max_epochs:
            return True
        return self.should_stop and self.current_epoch >= self.min_epochs

    def _log_hyperparams(self, task: Task) -> None:
        params = list(task.parameters())
        total = sum(p.numel() for p in params)
        trainable = sum(p.numel() for p in params if p.requires_grad)
        counts = {
            "model/params/total": total,
            "model/params/trainable": trainable,
            "model/params/non_trainable": total - trainable,
        }
        for lg in self.loggers:
            lg.log_hyperparams({**self.hparams, **counts})

    def _start_epoch_iterator(
        self,
        loader: Any,
        epoch: int,
        start_batch: int,
        loader_state: Any,
        resume: Mapping[str, Any] | None = None,
    ) -> Iterator[Any]:
        return _state.start_epoch_iterator(self, loader, epoch, start_batch, loader_state, resume)

    def _train_epoch(
        self,
        task: Task,
        loader: Any,
        val_loader: Any,
        start_batch: int,
        rng: Mapping[str, Any] | None,
        loader_state: Any,
    ) -> None:
        epoch = self.current_epoch
        if rng is not None and not start_batch:
            set_rng_state(rng)  # an epoch-end checkpoint: before this epoch's iterator draws
        iterator = self._start_epoch_iterator(
            loader, epoch, start_batch, loader_state, None if rng is None else self._resume_data
        )
        if rng is not None and start_batch:
            set_rng_state(rng)  # mid-epoch: the iterator's draws were made before the save
        if not start_batch:
            self._train_log.reset()
            self._loss_sum = 0.0 if self.device.type == "cpu" else None
            self._loss_weight = 0.0
        self._batches_in_epoch = start_batch
        self._epoch_finished = False
        hooks = self._hooks
        for cb in hooks["on_train_epoch_start"]:
            cb.on_train_epoch_start(self, task)
        task.train()
        task._log_sink = train_log = self._train_log
        limit = self.num_training_batches
        accumulate = self.accumulate_grad_batches
        device = self.device
        convert = self._convert
        on_cpu = device.type == "cpu"
        h_start, h_end = hooks["on_train_batch_start"], hooks["on_train_batch_end"]
        autocast = self._autocast_dtype
        scaler = self.scaler
        catcher = self._catcher
        strategy = self._strategy
        training_step: Callable[[Any, int], Tensor | Mapping[str, Tensor]] = (
            task.training_step if strategy is None else strategy.training_step(task)
        )
        # the gradient sync is skipped on the batches that do not step (a loader
        # without len() may end inside a group: then every batch syncs)
        no_sync = strategy is not None and accumulate > 1 and not math.isinf(limit)
        log_every = self.log_every_n_steps
        validate = (
            val_loader is not None
            and self.num_val_batches > 0
            and (
                self.check_val_every_n_epoch is None
                or (epoch + 1) % self.check_val_every_n_epoch == 0
            )
        )
        val_every = self._val_every
        across_epochs = self.check_val_every_n_epoch is None
        loss_sum = self._loss_sum
        batch_idx = start_batch - 1
        stop = pending = False
        for batch_idx, batch in enumerate(iterator, start_batch):
            if batch_idx >= limit:
                break
            if convert is not None:
                batch = convert(batch)
            for cb in h_start:
                cb.on_train_batch_start(self, task, batch, batch_idx)
            size = train_log.batch_size = _batch_size(batch)
            self.batch_idx = batch_idx
            is_step = (batch_idx + 1) % accumulate == 0 or batch_idx + 1 >= limit
            skip_sync = None
            if no_sync and not is_step:
                assert strategy is not None
                skip_sync = strategy.no_sync()
                skip_sync.__enter__()
            if autocast is None:
                out = training_step(batch, batch_idx)
            else:
                with torch.autocast(device.type, dtype=autocast):
                    out = training_step(batch, batch_idx)
            loss = out if isinstance(out, Tensor) else out["loss"] if out is not None else None
            if loss is not None:
                if on_cpu:  # reading a CPU scalar is no device sync: check it every step
                    value = loss.item()
                    if value - value != 0:
                        if strategy is None:
                            self._raise_nonfinite(value, epoch, batch_idx)
                        # distributed: the other ranks are in this step's collectives;
                        # backward runs, then every rank raises before the optimizer steps
                        self._bad_loss = self._bad_loss or (value, epoch, batch_idx)
                    self._loss_sum += value * size
                    self._last_loss = value
                else:  # accumulate on the device; read at log steps and epoch end only
                    self._record_nonfinite(loss)
                    detached = loss.detach()
                    if loss_sum is None:
                        loss_sum = self._loss_sum = detached.float() * size
                    else:
                        loss_sum.add_(detached, alpha=size)
                    self._last_loss = detached
                self._loss_weight += size
                scaled: Tensor = loss / accumulate if accumulate > 1 else loss
                if scaler is not None:
                    scaler.scale(scaled).backward()
                else:
                    scaled.backward()  # type: ignore[no-untyped-call]
            if skip_sync is not None:
                skip_sync.__exit__(None, None, None)
            if is_step:
                self._optimizer_step(task)
                pending = False
            else:
                pending = True
            self._batches_in_epoch = batch_idx + 1
            self._total_batches += 1
            if validate and val_every is not None:
                seen = self._total_batches if across_epochs else batch_idx + 1
                if seen % val_every == 0:
                    self._evaluate("val", task, val_loader, self.num_val_batches)
                    task.train()
                    task._log_sink = train_log
            if h_end:
                outputs = (
                    {"loss": loss.detach() if loss is not None else None}
                    if isinstance(out, Tensor) or out is None
                    else {k: v.detach() if isinstance(v, Tensor) else v for k, v in out.items()}
                )
                for cb in h_end:
                    cb.on_train_batch_end(self, task, outputs, batch, batch_idx)
            if is_step:
                if self.global_step % log_every == 0 and self.loggers:
                    self._log_step(epoch)
                if catcher is not None and catcher.received is not None:
                    self._interrupt(task, catcher.received)
                if self.max_steps is not None and self.global_step >= self.max_steps:
                    stop = True
                    break
            if self.should_stop and epoch + 1 >= self.min_epochs:
                stop = True
                break
        if pending and not stop:  # a loader without len() ended inside an accumulation group
            self._optimizer_step(task)
        if validate and val_every is None and not stop:  # no len(): validate at the end
            self._evaluate("val", task, val_loader, self.num_val_batches)
        self._end_train_epoch(task, epoch, finished=not stop or batch_idx + 1 >= limit)

    def _agree_finite(self) -> None:
        """Distributed, on CPU: raise on every rank when a rank saw a non-finite loss
        since the last step (one all-reduce of a flag per rank), so none is left waiting
        in a collective for a rank that stopped."""
        world, rank = dist.get_world_size(), dist.get_rank()
        flags = [0.0] * world
        if self._bad_loss is not None:
            flags[rank] = 1.0
        bad = [r for r, flag in enumerate(_distributed.all_reduce_sum(flags)) if flag]
        if not bad:
            return
        mine, self._bad_loss = self._bad_loss, None
        if mine is not None:
            self._raise_nonfinite(*mine)
        raise NonFiniteLossError(
            f"the loss was not finite on rank {', '.join(map(str, bad))} at epoch "
            f"{self.current_epoch}, global step {self.global_step}: every rank stopped before "
            "the optimizer stepped on it",
            epoch=self.current_epoch,
            step=self.global_step,
            batch_idx=self.batch_idx,
        )

    def _optimizer_step(self, task: Task) -> None:
        if self._strategy is not None and self.device.type == "cpu":
            self._agree_finite()
        scaler = self.scaler
        if scaler is not None:
            for opt in self.optimizers:
                scaler.unscale_(opt)
        clip = self.gradient_clip_val
        if clip is not None:
            params = self._clip_params
            if self.gradient_clip_algorithm == "norm":
                nn.utils.clip_grad_norm_(params, clip)
            else:
                nn.utils.clip_grad_value_(params, clip)
        for cb in self._hooks["on_before_optimizer_step"]:
            for opt in self.optimizers:
                cb.on_before_optimizer_step(self, task, opt)
        stepped = True
        if scaler is None:
            for opt in self.optimizers:
                opt.step()
        else:
            # scaler.step reads its inf check on the host already: get_scale costs no more
            scale = scaler.get_scale()
            for opt in self.optimizers:
                scaler.step(opt)
            scaler.update()
            stepped = scaler.get_scale() >= scale  # it backs off when it skipped a step
            if not stepped:
                self.skipped_steps += 1
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=True)
        self.global_step += 1
        if stepped:
            for sched in self.lr_schedulers:
                if sched.interval == "step":
                    sched.step(self.callback_metrics)

    def _raise_nonfinite(self, value: float, epoch: int, batch_idx: int) -> None:
        raise NonFiniteLossError(
            f"the loss is {value} at epoch {epoch}, global step {self.global_step}, batch "
            f"{batch_idx}: training stopped before the optimizer stepped on it (lower the "
            "learning rate, clip gradients with gradient_clip_val, or check the data)",
            epoch=epoch,
            step=self.global_step,
            batch_idx=batch_idx,
        )

    def _record_nonfinite(self, loss: Tensor) -> None:
        """On an accelerator: remember a non-finite loss on the device, raise at the next sync."""
        bad = ~torch.isfinite(loss.detach())
        if self._nonfinite is None:
            self._nonfinite = bad.clone()
        else:
            self._nonfinite.logical_or_(bad)

    def _sync_check(self) -> None:
        flag = self._nonfinite
        if flag is not None and self._strategy is not None:  # pragma: no cover - needs CUDA
            # every rank reaches the same sync points: agree, so all raise or none does
            agreed = flag.to(torch.int32)
            dist.all_reduce(agreed, op=dist.ReduceOp.MAX)
            flag = agreed
        if flag is not None and bool(flag):
            raise NonFiniteLossError(
                f"a loss was not finite at or before epoch {self.current_epoch}, global step "
                f"{self.global_step}, batch {self.batch_idx} (on {self.device.type}, checked at "
                "sync points only; no checkpoint was written with these weights)",
                epoch=self.current_epoch,
                step=self.global_step,
                batch_idx=self.batch_idx,
            )

    def _log_step(self, epoch: int) -> None:
        self._sync_check()
        values = self._train_log.step_values()
        if self._last_loss is not None and "train/loss" not in values:
            values["train/loss"] = float(self._last_loss)
        self.callback_metrics.update(values)
        shown = self._train_log.prog_bar
        self.progress_bar_metrics.update({k: v for k, v in values.items() if k in shown})
        self._log({**values, "epoch": epoch}, self.global_step)

    def _end_train_epoch(self, task: Task, epoch: int, *, finished: bool) -> None:
        self._sync_check()
        values = self._train_log.epoch_values(task.class_names)
        total, weight = float(self._loss_sum or 0.0), self._loss_weight
        if self._strategy is not None:  # the mean over every rank's samples
            total, weight = _distributed.all_reduce_sum([total, weight])
        if weight and "train/loss" not in values:
            values["train/loss"] = total / weight
        self.callback_metrics.update(values)
        # False when max_steps or should_stop ended the epoch early: a resume continues it
        self._epoch_finished = finished
        for sched in self.lr_schedulers:
            if sched.interval == "epoch":
                sched.step(self.callback_metrics)
        for cb in self._hooks["on_train_epoch_end"]:
            cb.on_train_epoch_end(self, task)
        if values:
            self._log({**values, "epoch": epoch}, self.global_step)
        catcher = self._catcher
        if catcher is not None and catcher.received is not None:
            self._interrupt(task, catcher.received)

    # -- evaluation --------------------------------------------------------------------
    def _evaluate(self, stage: str, task: Task, loader: Any, limit: float) -> dict[str, float]:
        return _evaluation.evaluate(self, stage, task, loader, limit)

    def _check_shards(self, stage: str, loader: Any, limit: float) -> None:
        """Refuse, on every rank, an evaluation where some ranks have no batch: they
        would skip it, or miss the collectives that reduce its values (a deadlock).
        Called at the same point by every rank (a collective)."""
        length = _length(loader)
        if math.isinf(length):
            return  # no len(): nothing to compare (each rank must yield a batch)
        mine = min(length, limit)
        world, rank = dist.get_world_size(), dist.get_rank()
        empty = [0.0] * world
        if not mine:
            empty[rank] = 1.0
        ranks = [r for r, flag in enumerate(_distributed.all_reduce_sum(empty)) if flag]
        if ranks and len(ranks) < world:
            samples = len(getattr(loader, "dataset", ())) if hasattr(loader, "dataset") else "?"
            raise TrainerError(
                f"{stage}: rank {', '.join(map(str, ranks))} of {world} has no batch of the "
                f"{stage} set ({samples} samples for {world} processes): every rank needs one; "
                "use a larger set or fewer processes",
                param="limit_val_batches" if stage == "val" else "limit_test_batches",
            )

    def _eval_stage(
        self, stage: str, task: Task, data: Any, dataloaders: Any, ckpt_path: Any
    ) -> list[dict[str, float]]:
        self._check_task(task)
        with _distributed.process_group(self._group_env):
            return self._eval_entry(stage, task, data, dataloaders, ckpt_path)

    def _eval_entry(
        self, stage: str, task: Task, data: Any, dataloaders: Any, ckpt_path: Any
    ) -> list[dict[str, float]]:
        name = "validation_step" if stage == "val" else "test_step"
        if not _overridden(task, name):
            raise TrainerError(
                f"{type(task).__name__} defines no {name}: nothing to "
                f"{'validate' if stage == 'val' else 'test'}",
                param="task",
            )
        self._setup_data(data, "validate" if stage == "val" else "test")
        loader = self._loaders(data, stage, dataloaders)
        if loader is None:
            raise TrainerError(
                f"{'validate' if stage == 'val' else 'test'}: no {stage} data: pass a DataModule "
                "with that set or dataloaders=...",
                param="dataloaders",
            )
        limit_name = "limit_val_batches" if stage == "val" else "limit_test_batches"
        limit = _limit(limit_name, _length(loader), getattr(self, limit_name))
        if _distributed.initialized() and dist.get_world_size() > 1:
            self._check_shards(stage, loader, limit)
        with self._stage("validate" if stage == "val" else "test", task):
            if ckpt_path is not None:
                self._load_weights(task, ckpt_path)
            return [self._evaluate(stage, task, loader, limit)]

    def validate(
        self,
        task: Task,
        data: Any = None,
        *,
        dataloaders: Any = None,
        ckpt_path: str | os.PathLike[str] | None = None,
    ) -> list[dict[str, float]]:
        """Run the validation loop once; return ``[{"val/loss": ..., "val/acc": ...}]``.

        ``ckpt_path`` (``"best"``, ``"last"`` or a path) loads those weights first.

        Examples
        --------
        >>> import torch
        >>> from pbgml.data import DataModule, SyntheticClassification
        >>> from pbgml.train import ClassificationTask, Trainer
        >>> data = DataModule(SyntheticClassification(40, 4, 2), val_split=20, batch_size=8)
        >>> (metrics,) = Trainer(callbacks=[], logger=False).validate(ClassificationTask(torch.nn.Linear(4, 2)), data)
        >>> sorted(metrics)
        ['val/acc', 'val/loss']
        """
        return self._eval_stage("val", task, data, dataloaders, ckpt_path)

    def test(
        self,
        task: Task,
        data: Any = None,
        *,
        dataloaders: Any = None,
        ckpt_path: str | os.PathLike[str] | None = None,
    ) -> list[dict[str, float]]:
        """Run the test loop; return ``[{"test/loss": ..., "test/acc": ...}]``.

        ``ckpt_path="best"`` tests the best checkpoint of the first
        :class:`ModelCheckpoint` (``"last"``, or a path, alike).

        Examples
        --------
        >>> import functools, tempfile, torch
        >>> from pbgml.data import DataModule, SyntheticClassification
        >>> from pbgml.train import ClassificationTask, ModelCheckpoint, Trainer
        >>> data = DataModule(SyntheticClassification(80, 4, 2), val_split=16, batch_size=16,
        ...                   test=SyntheticClassification(32, 4, 2))
        >>> task = ClassificationTask(torch.nn.Linear(4, 2), optimizer=functools.partial(torch.optim.SGD, lr=0.1))
        >>> best = ModelCheckpoint(monitor="val/acc", mode="max")
        >>> trainer = Trainer(max_epochs=2, default_root_dir=tempfile.mkdtemp(), callbacks=[best], logger=False)
        >>> trainer.fit(task, data)
        >>> sorted(trainer.test(task, data, ckpt_path="best")[0])
        ['test/acc', 'test/loss']
        """
        return self._eval_stage("test", task, data, dataloaders, ckpt_path)

    def predict(
        self,
        task: Task,
        data: Any = None,
        *,
        dataloaders: Any = None,
        ckpt_path: str | os.PathLike[str] | None = None,
    ) -> list[Any]:
        """Return the list of ``task.predict_step`` outputs, one per batch.

        Examples
        --------
        >>> import torch
        >>> from pbgml.train import ClassificationTask, Trainer
        >>> loader = torch.utils.data.DataLoader(torch.randn(10, 3), batch_size=4)
        >>> out = Trainer(callbacks=[], logger=False).predict(
        ...     ClassificationTask(torch.nn.Linear(3, 2)), dataloaders=loader
        ... )
        >>> [tuple(o.shape) for o in out]
        [(4, 2), (4, 2), (2, 2)]
        """
        self._check_task(task)
        with _distributed.process_group(self._group_env):
            return self._predict_entry(task, data, dataloaders, ckpt_path)

    def _predict_entry(self, task: Task, data: Any, dataloaders: Any, ckpt_path: Any) -> list[Any]:
        self._setup_data(data, "predict")
        loader = self._loaders(data, "predict", dataloaders)
        if loader is None:
            raise TrainerError(
                "predict: no data: pass a DataModule with a predict set or dataloaders=...",
                param="dataloaders",
            )
        with self._stage("predict", task):
            if ckpt_path is not None:
                self._load_weights(task, ckpt_path)
            outputs = _evaluation.predict(self, task, loader)
        return outputs

    # -- checkpoints -------------------------------------------------------------------
    def _resolve_ckpt(self, ckpt_path: str | os.PathLike[str]) -> Path:
        return _state.resolve_ckpt(self, ckpt_path)

    def _load_weights(self, task: Task, ckpt_path: str | os.PathLike[str]) -> None:
        _distributed.barrier()  # rank 0 may still be writing it
        checkpoint = load_checkpoint(self._resolve_ckpt(ckpt_path), map_location="cpu")
        if "model" not in checkpoint:
            raise TrainerError(f"ckpt_path={ckpt_path!r}: no 'model' key", param="ckpt_path")
        task.load_state_dict(checkpoint["model"])

    def _checkpoint_dict(self, *, finished_epoch: bool | None = None) -> dict[str, Any]:
        """Everything needed to resume exactly, as tensors and plain Python values."""
        return _state.checkpoint_dict(self, finished_epoch=finished_epoch)

    def save_checkpoint(self, path: str | os.PathLike[str]) -> Path:
        """Write a checkpoint of the current state to ``path`` (atomically; rank 0 only).

        Refuses weights that are not finite.

        Examples
        --------
        >>> import os, tempfile, torch
        >>> from pbgml.train import ClassificationTask, Trainer, load_checkpoint
        >>> loader = torch.utils.data.DataLoader(
        ...     torch.utils.data.TensorDataset(torch.randn(8, 3), torch.zeros(8, dtype=torch.long)), batch_size=4
        ... )
        >>> trainer = Trainer(max_epochs=1, callbacks=[], logger=False)
        >>> trainer.fit(ClassificationTask(torch.nn.Linear(3, 2)), train_dataloaders=loader)
        >>> path = trainer.save_checkpoint(os.path.join(tempfile.mkdtemp(), "manual.ckpt"))
        >>> load_checkpoint(path)["loop"]["global_step"]
        2
        """
        checkpoint = self._checkpoint_dict()
        if not weights_are_finite(checkpoint["model"]):
            raise TrainerError(
                f"save_checkpoint: the weights are not finite; {path} not written",
                param="path",
            )
        target = Path(path)
        if self.is_global_zero:
            save_checkpoint(checkpoint, target)
        return target

    def _restore(self, checkpoint: Mapping[str, Any], task: Task) -> None:
        _state.restore(self, checkpoint, task)

    def _interrupt(self, task: Task, signum: int) -> None:
        path: Path | None = self.checkpoint_dir / "last.ckpt"
        checkpoint = self._checkpoint_dict()
        if not weights_are_finite(checkpoint["model"]):
            path = None
        elif self.is_global_zero and path is not None:
            save_checkpoint(checkpoint, path)
            cb = self.checkpoint_callback
            if cb is not None:
                cb.last_model_path = str(path)
        raise Interrupted(
            f"fit interrupted by signal {signum} at epoch {self.current_epoch}, global step "
            f"{self.global_step}; checkpoint: {path}",
            checkpoint_path=None if path is None else str(path),
            signum=signum,
        )
