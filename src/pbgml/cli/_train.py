"""``pbgml train``: train an experiment from the command line (a Hydra app).

``pbgml train [--import MODULE]... [hydra flags] [overrides]``. The groups are the
experiment's fields (``model``, ``loss``, ``optimizer``, ``scheduler``, ``metrics``,
``data``, ``task``, ``trainer``, ``callbacks``, ``logger``) plus ``experiment`` and
``hparams_search``; each run writes into Hydra's output folder (``outputs/<name>/<time>``)
the resolved ``config.yaml``, ``train.log``, ``checkpoints/``, ``logs/`` and
``metrics.json``. The task function returns the run's objective (its
``optimized_metric``), which is what sweepers optimize. ``resume=PATH`` continues a run
in its own folder with its saved config.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pbgml.cli._report import UsageError

__all__ = ["Task", "main", "task"]

_PATH_KEYS = ("root", "path", "dir", "file")
_FROZEN = ("model", "data")
_RESUME_CHANGES = (
    "resume: {override!r} would change the {part} of the run being resumed; a resume "
    "continues that run exactly. Start a new run instead (drop resume=), or resume "
    "without it"
)
_RESUME_GROUP = (
    "resume: {override!r} selects another {group} option; a resume keeps the saved "
    "config (only fields such as trainer.max_epochs=... may change)"
)
_RESUME_FLAGS = "resume: only overrides go with resume=PATH (no -m, --cfg, --info): got {flag!r}"
_NO_CONFIG = (
    "resume: {path} has no config.yaml: is it a pbgml run folder or one of its checkpoints?"
)


def _is_path_key(key: str) -> bool:
    return key in _PATH_KEYS or key.endswith(tuple(f"_{k}" for k in _PATH_KEYS))


def absolute_paths(tree: Any, start: str) -> None:
    """Relative paths of the data node (``root``, ``path``, ``*_dir``, ...) against ``start``.

    So ``data.root=./data`` means the folder the user started in, whatever Hydra's
    working directory is.

    Examples
    --------
    >>> from pbgml.cli._train import absolute_paths
    >>> tree = {"data": {"root": "data", "batch_size": 8, "url": "${oc.env:X}"}}
    >>> absolute_paths(tree, "/home/me/project")
    >>> tree["data"]["root"]
    '/home/me/project/data'
    """
    data = tree.get("data") if hasattr(tree, "get") else None
    if data is None or not hasattr(data, "items"):
        return
    for key in list(data.keys()):
        try:
            value = data[key]
        except Exception:  # a missing value (???) stays as it is
            continue
        if not (isinstance(key, str) and _is_path_key(key) and isinstance(value, str)):
            continue
        if not value or "${" in value or "://" in value or os.path.isabs(value):
            continue
        data[key] = os.path.normpath(os.path.join(start, os.path.expanduser(value)))


def _rank_zero() -> bool:
    """Whether this process prints: rank 0 of a torchrun job, or a process on its own."""
    return os.environ.get("RANK", "0") == "0"


def _show(tree: Any) -> None:
    if not _rank_zero():
        return
    from omegaconf import OmegaConf

    text = OmegaConf.to_yaml(tree)
    try:
        from rich.console import Console
        from rich.syntax import Syntax
    except ImportError:
        print(text)
        return
    Console(soft_wrap=True).print(Syntax(text, "yaml", background_color="default"))


def _print_result(result: Any) -> None:
    """The run's folder and objective (rank 0 only: under torchrun every rank returns)."""
    if _rank_zero():
        objective = result.objective
        shown = "n/a" if objective is None else f"{objective:.6g}"
        print(f"run folder: {result.run_dir}\n{result.optimized_metric} = {shown}")


def task(cfg: Any) -> float | None:
    """The Hydra task function: run the composed experiment in Hydra's output folder.

    Returns the run's objective (``optimized_metric``'s value) for sweepers.
    """
    from hydra.core.hydra_config import HydraConfig

    from pbgml._config._compose import typed
    from pbgml._run import run

    runtime = HydraConfig.get().runtime
    start = str(runtime.cwd)
    if os.getcwd() != start:  # hydra.job.chdir=true: the run's paths stay the user's
        os.chdir(start)
    from omegaconf import OmegaConf

    unset = [key for key in ("model", "data") if OmegaConf.is_missing(cfg, key)]
    if unset:
        raise UsageError(
            " and ".join(unset) + ": nothing selected; choose an experiment "
            "(experiment=digits_mlp) or the options (model=mlp data=digits); "
            "pbgml train --help lists them"
        )
    tree = typed(cfg)
    absolute_paths(tree, start)
    _show(tree)
    # the user's own command line and files may read the environment (${oc.env:VAR});
    # configs read from elsewhere (load_yaml, check, a checkpoint) may not
    result = run(tree, run_dir=str(runtime.output_dir), resolvers=("oc.env",))
    objective = result.objective
    _print_result(result)
    return objective


class Task:
    """The task function with the user's ``--import`` modules, picklable for launchers.

    A launcher that runs jobs in other processes (joblib, submitit) gets this object
    by reference and the module names; each job imports them before it runs.

    Examples
    --------
    >>> from pbgml.cli._train import Task
    >>> Task(["json"]).modules
    ('json',)
    """

    def __init__(self, modules: Sequence[str] = ()) -> None:
        self.modules = tuple(modules)

    def __call__(self, cfg: Any) -> float | None:
        """Import the modules (a no-op where they are imported already), then :func:`task`."""
        import importlib

        for module in self.modules:
            importlib.import_module(module)
        return task(cfg)


def _resume_target(path: Path) -> Path:
    if path.is_dir():
        return path
    if path.is_file():
        return path.parent.parent if path.parent.name == "checkpoints" else path.parent
    raise FileNotFoundError(2, "No such file or directory", str(path))


def _resume(argv: Sequence[str]) -> int:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf, open_dict

    import pbgml
    from pbgml._config._compose import translated
    from pbgml._groups import by_key
    from pbgml.cli._app import _import, _take_imports

    modules, rest = _take_imports(argv)
    flags = [a for a in rest if a.startswith("-")]
    if flags:
        raise UsageError(_RESUME_FLAGS.format(flag=flags[0]))
    _import(modules)
    with translated():
        overrides = OverridesParser.create().parse_overrides(rest)
    target: str | None = None
    changes = []
    for override in overrides:
        key = override.key_or_group
        text = override.input_line or key
        if key == "resume":
            target = str(override.value())
            continue
        head = key.lstrip("+~").split(".")[0].split("/")[0]
        if head in _FROZEN:
            raise UsageError(_RESUME_CHANGES.format(override=text, part=head))
        if "." not in key and (head in by_key() or head in ("experiment", "hparams_search")):
            raise UsageError(_RESUME_GROUP.format(override=text, group=head))
        changes.append(override)
    assert target is not None
    run_dir = _resume_target(Path(target).expanduser())
    config = run_dir / "config.yaml"
    if not config.is_file():
        raise UsageError(_NO_CONFIG.format(path=run_dir))
    cfg = pbgml.load_yaml(config)
    with translated(), open_dict(cfg):
        for override in changes:
            OmegaConf.update(cfg, override.key_or_group.lstrip("+"), override.value(), merge=False)
        cfg.resume = str(Path(target).expanduser().resolve())
    result = pbgml.run(cfg)
    _print_result(result)
    return 0


def _wants_resume(argv: Sequence[str]) -> bool:
    return any(arg.startswith("resume=") and arg != "resume=null" for arg in argv)


def main(argv: Sequence[str]) -> int:
    """Run ``pbgml train argv``; return the exit code.

    Examples
    --------
    >>> from pbgml.cli._train import main
    >>> main(["--help"])  # doctest: +ELLIPSIS
    usage: pbgml train ...
    0
    """
    args = list(argv)
    if _wants_resume(args):
        return _resume(args)
    from pbgml.cli._app import run_app

    sys.stdout.flush()
    return run_app(args, Task)
