"""``pbgml.run``: one experiment config in, a trained model's metrics and checkpoints out.

The layer above the config layer and the trainer: it checks the whole config,
seeds everything, builds the parts through the allowlist, checks the model against
the data's sample shape before any step, fits, then tests the best checkpoint.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pbgml._config._check import checked_or_raise
from pbgml._config._instantiate import build_checked
from pbgml._config._model import check_input
from pbgml._config._tree import Tree, read_tree
from pbgml._config._yaml import to_yaml
from pbgml._errors import ArgumentError, ConfigError, ConfigIssue
from pbgml.nn import ShapeMismatchError

__all__ = ["RunResult", "run"]

_NEEDS = (
    "{key}: an experiment needs a {key} (a config with a _target_, such as "
    "{example}); set it in the config"
)
_EXAMPLES = {"model": "MLPConf(...) or {_target_: mlp, ...}", "data": "DigitsDataConf()"}
_NOT_A_TREE = (
    "an experiment is a mapping of its fields (model, data, optimizer, ...), got {value!r}"
)
_BAD_RESUME = "resume: {value!r} is neither a run directory (with checkpoints/last.ckpt) nor a checkpoint file"


@dataclasses.dataclass(frozen=True)
class RunResult:
    """What :func:`pbgml.run` returns: the metrics, the checkpoints and the run's folder.

    Attributes
    ----------
    metrics
        One flat mapping: the last epoch's ``train/*``, the best checkpoint's ``val/*``
        and the test's ``test/*`` (``{"train/loss": ..., "val/acc": ..., "test/acc": ...}``);
        also written to ``run_dir/metrics.json``.
    best_checkpoint
        The best checkpoint's path (the monitored metric's best; the last epoch's when
        nothing is monitored), or ``None`` without a checkpoint callback.
    last_checkpoint
        ``run_dir/checkpoints/last.ckpt``, or ``None`` when none was written.
    run_dir
        The run's folder: ``config.yaml``, ``metrics.json``, ``checkpoints/``, ``logs/``.
    optimized_metric
        The metric a sweep optimizes (see ``objective``).

    Examples
    --------
    >>> from pbgml import RunResult
    >>> RunResult({"val/acc": 0.9}, None, None, "outputs/run").metrics["val/acc"]
    0.9
    """

    metrics: Mapping[str, float]
    best_checkpoint: str | None
    last_checkpoint: str | None
    run_dir: str
    optimized_metric: str = "val/loss"

    @property
    def objective(self) -> float | None:
        """The value of ``optimized_metric`` (what a sweep optimizes), if the run has it.

        ``optimized_metric`` is the experiment's, else the checkpoint's monitor, else
        ``val/loss``.

        Examples
        --------
        >>> from pbgml import RunResult
        >>> RunResult({"val/acc": 0.9}, None, None, "run", "val/acc").objective
        0.9
        """
        return self.metrics.get(self.optimized_metric)


def _issue(key: str, message: str, kind: str, tree: Tree) -> ConfigError:
    return ConfigError([tree.issue(key, message, kind)], source=tree.source)


def _run_dir(
    root: Mapping[str, Any], tree: Tree, claim: bool = True, chosen: str | None = None
) -> tuple[Path, Path | None]:
    """The run's folder and the checkpoint to resume from (``None``: a new run).

    A new folder is claimed atomically (``mkdir`` that fails if it exists), so runs
    started in the same second, in parallel, never share one (``claim=False``: the
    other ranks of a distributed run, which take rank 0's).
    """
    resume = root.get("resume")
    trainer = root.get("trainer") or {}
    base = Path(str(trainer.get("default_root_dir", "outputs")))
    if resume is not None:
        path = Path(str(resume))
        if path.is_dir() and (path / "checkpoints" / "last.ckpt").is_file():
            return path, path / "checkpoints" / "last.ckpt"
        if path.is_file():
            run_dir = path.parent.parent if path.parent.name == "checkpoints" else path.parent
            return run_dir, path
        raise _issue("resume", _BAD_RESUME.format(value=resume), "not_found", tree)
    if chosen is not None:  # the caller's folder (Hydra's output directory)
        path = Path(chosen)
        if claim:
            path.mkdir(parents=True, exist_ok=True)
        return path, None
    stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    folder = base / str(root.get("name") or "run")
    run_dir, n = folder / stamp, 1
    while True:
        if not claim:
            return run_dir, None
        try:
            folder.mkdir(parents=True, exist_ok=True)
            run_dir.mkdir()
            return run_dir, None
        except FileExistsError:  # another run took this second
            n += 1
            run_dir = folder / f"{stamp}_{n}"


def _as_list(built: Any) -> list[Any]:
    if built is None:
        return []
    if isinstance(built, Mapping):
        return [v for v in built.values() if v is not None]
    if isinstance(built, list | tuple):
        return list(built)
    return [built]


def _scalars(metrics: Mapping[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, value in metrics.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        out[str(name)] = number
    return out


def run(
    cfg: Any,
    *,
    allow: Iterable[str] | None = None,
    run_dir: str | os.PathLike[str] | None = None,
    resolvers: Iterable[str] = (),
) -> RunResult:
    """Check, build, train and test one experiment.

    ``cfg`` is an :class:`~pbgml.configs.ExperimentConf` (or a dict, DictConfig, or
    YAML path of the same tree). In order: :func:`pbgml.check` of the whole tree (every
    problem at once); one seed for python, numpy, torch and every worker; the parts
    built through the allowlist; the model checked against the data's sample shape on
    the meta device (a mismatch is a :class:`~pbgml.ConfigError` naming the model's
    field, before any step); ``fit``; then ``validate`` and ``test`` on the best
    checkpoint. The run writes ``config.yaml``, ``metrics.json``, ``checkpoints/`` and
    ``logs/`` in its folder, ``trainer.default_root_dir/<name>/<date_time>`` (or the
    folder of ``resume``, which continues that run from its last checkpoint).

    Parameters
    ----------
    cfg
        The experiment.
    allow
        Dotted prefixes of extra allowed targets (your own modules), given in code.
    run_dir
        The run's folder, chosen by the caller (``pbgml train`` passes Hydra's output
        directory); ignored when ``resume`` is set (a resume stays in its run's folder).
    resolvers
        Interpolation resolvers allowed besides the safe ones (``["oc.env"]``; ``pbgml
        train`` enables ``oc.env`` for the configs the user composes on the command
        line). The saved ``config.yaml`` holds the resolved values, so a resume never
        reads the environment again.

    Returns
    -------
    RunResult
        The flat metrics, the best and last checkpoints, and the run's folder.

    Raises
    ------
    pbgml.ConfigError
        The config has problems, or the model does not fit the data.

    Examples
    --------
    >>> import tempfile, pbgml
    >>> from pbgml.configs import ExperimentConf, MLPConf, SyntheticClassificationDataConf
    >>> from pbgml.configs import TrainerConf
    >>> cfg = ExperimentConf(
    ...     model=MLPConf(in_features=8, out_features=3),
    ...     data=SyntheticClassificationDataConf(num_samples=96, num_features=8, num_classes=3),
    ...     trainer=TrainerConf(max_epochs=2, default_root_dir=tempfile.mkdtemp()),
    ...     callbacks={"checkpoint": {"_target_": "model_checkpoint"}},
    ... )
    >>> result = pbgml.run(cfg)
    >>> sorted(k for k in result.metrics if k.endswith("acc"))
    ['test/acc', 'val/acc']
    """
    tree = read_tree(cfg, resolvers=resolvers)
    root = tree.root
    if not isinstance(root, dict):
        raise ConfigError([ConfigIssue("", _NOT_A_TREE.format(value=root), "type")])
    _fill_defaults(root)
    missing = [key for key in ("model", "data") if not isinstance(root.get(key), dict)]
    if missing:
        raise ConfigError(
            [
                tree.issue(key, _NEEDS.format(key=key, example=_EXAMPLES[key]), "missing")
                for key in missing
            ],
            source=tree.source,
        )
    checked = checked_or_raise(tree, tuple(allow or ()), "")
    from pbgml import _launch

    nprocs = _launch.processes(root.get("trainer") or {})
    if nprocs > 1:  # devices=N outside torchrun: N workers through torch's elastic launcher
        worker = functools.partial(
            run, allow=tuple(allow or ()), run_dir=run_dir, resolvers=tuple(resolvers)
        )
        result: RunResult = _launch.launched(root, worker, nprocs=nprocs)
        return result
    from pbgml.train import _distributed

    # under torchrun: one process group for fit, validate and test, and one run folder
    # (rank 0's: the ranks' clocks may name different seconds)
    env = _distributed.launch_env()
    with _distributed.process_group(env if env is not None and env.world_size > 1 else None):
        claim = env is None or env.rank == 0
        chosen = None if run_dir is None else str(run_dir)
        folder, resume_from = _distributed.broadcast_object(_run_dir(root, tree, claim, chosen))
        return _run(root, tree, checked, folder, resume_from)


def _run(
    root: dict[str, Any], tree: Tree, checked: Any, run_dir: Path, resume_from: Path | None
) -> RunResult:
    from pbgml.train import seed_everything

    trainer_cfg = root.get("trainer") or {}
    seed = root.get("seed")
    if seed is not None:
        seed_everything(int(seed), deterministic=bool(trainer_cfg.get("deterministic", False)))
    parts = build_checked(checked)

    data = parts["data"]
    model = parts["model"]
    shape = getattr(data, "sample_shape", None)
    if shape is not None:
        try:
            check_input(model, tuple(shape), model_cfg=root["model"])
        except ShapeMismatchError as err:
            issues = [
                tree.issue(f"model.{field}", line, "type")
                for field, line in zip(err.fields, err.problems, strict=True)
            ] or [tree.issue("model", str(err), "type")]
            raise ConfigError(issues, source=tree.source) from err

    task_factory = parts.get("task")
    if task_factory is None:
        from pbgml.train import ClassificationTask

        task_factory = ClassificationTask
    extra: dict[str, Any] = {}
    classes = getattr(data, "classes", None)
    keywords = task_factory.keywords if isinstance(task_factory, functools.partial) else {}
    if classes and keywords.get("class_names") is None and _accepts(task_factory, "class_names"):
        extra["class_names"] = list(classes)
    metrics = parts.get("metrics")
    task = task_factory(
        model=model,
        loss=parts.get("loss"),
        optimizer=parts.get("optimizer"),
        scheduler=parts.get("scheduler"),
        metrics=metrics,
        **extra,
    )

    trainer_factory = parts.get("trainer")
    if trainer_factory is None:
        from pbgml.train import Trainer

        trainer_factory = Trainer
    config_text = to_yaml(tree)
    callbacks = _as_list(parts.get("callbacks"))
    loggers = _as_list(parts.get("logger"))
    try:
        trainer = trainer_factory(
            default_root_dir=str(run_dir),
            callbacks=callbacks,
            logger=loggers,
            config_text=config_text,
            hparams=root,
        )
    except ArgumentError as err:  # a setting the Trainer refuses: name its key
        where = f"trainer.{err.param}" if err.param else "trainer"
        raise ConfigError([tree.issue(where, err.reason, "value")], source=tree.source) from err
    if trainer.is_global_zero:
        run_dir.mkdir(parents=True, exist_ok=True)
        if resume_from is None or not (run_dir / "config.yaml").is_file():
            _write_atomic(run_dir / "config.yaml", config_text)  # a resume keeps the original

    trainer.fit(task, data, ckpt_path=str(resume_from) if resume_from is not None else None)
    metrics_out = {
        k: v for k, v in _scalars(trainer.callback_metrics).items() if k.startswith("train/")
    }
    best = trainer.best_model_path or None
    evaluate_on = "best" if best else None
    if _has(data, "val"):
        for values in trainer.validate(task, data, ckpt_path=evaluate_on):
            metrics_out.update(_scalars(values))
    if _has(data, "test"):
        for values in trainer.test(task, data, ckpt_path=evaluate_on):
            metrics_out.update(_scalars(values))
    last = trainer.last_model_path or None
    if last is not None and not Path(last).is_file():
        last = None
    if trainer.is_global_zero:
        clean = {k: v for k, v in metrics_out.items() if math.isfinite(v)}
        _write_atomic(run_dir / "metrics.json", json.dumps(clean, indent=2, sort_keys=True) + "\n")
    optimized = root.get("optimized_metric") or _monitor(trainer) or "val/loss"
    return RunResult(dict(sorted(metrics_out.items())), best, last, str(run_dir), optimized)


def _monitor(trainer: Any) -> str | None:
    callback = getattr(trainer, "checkpoint_callback", None)
    monitor = getattr(callback, "monitor", None)
    return monitor if isinstance(monitor, str) else None


def _fill_defaults(root: dict[str, Any]) -> None:
    """An experiment that leaves a field out gets :class:`~pbgml.configs.ExperimentConf`'s
    default (the loss, the optimizer, the task, the trainer, the default callbacks and
    the CSV logger, the seed), as a typed experiment does; ``null`` stays none."""
    from pbgml.configs import ExperimentConf

    for f in dataclasses.fields(ExperimentConf):
        if f.name in root:
            continue
        if f.default_factory is not dataclasses.MISSING:
            root[f.name] = read_tree({"value": f.default_factory()}).root["value"]
        elif f.default is not dataclasses.MISSING:
            root[f.name] = f.default


def _accepts(factory: Any, name: str) -> bool:
    import inspect

    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _has(data: Any, stage: str) -> bool:
    dataset = getattr(data, f"{stage}_dataset", None)
    return dataset is not None


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
