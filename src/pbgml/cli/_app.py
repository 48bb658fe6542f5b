"""The Hydra app behind ``pbgml train``: Hydra's command line, pbgml's search path and errors.

This is Hydra's own driver (``hydra._internal.utils._run_hydra``) with three changes:
the search path is pbgml's (the user's ``conf/`` or ``--config-dir`` first, then the
packaged presets, then the registries through the lazy ``pbgml://`` source), every
composition error becomes a :class:`pbgml.ConfigError` (a short message, exit code 2)
instead of Hydra's report, and ``--help`` lists each group's options briefly.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from pbgml._config._compose import CONFIG_NAME, search_path, translated
from pbgml.cli._report import UsageError

__all__ = ["TASK_NAME", "help_text", "run_app"]

#: Hydra's job name: the log file is ``train.log`` in the run's folder.
TASK_NAME = "train"
_SHOWN = 8  # options shown per group in --help

# optuna 2.10 (the Optuna sweeper's) imports SQLAlchemy's declarative_base from its old home
_OPTUNA_SQLALCHEMY = r"The ``declarative_base\(\)`` function is now available as sqlalchemy\.orm"
_TORCHRUN = (
    "a sweep (-m/--multirun or hparams_search=...) cannot start under torchrun: each "
    "job would run on every rank. Start the sweep as one process (pbgml train -m ...) "
    "and set trainer.devices / trainer.strategy=ddp: each job launches its own workers"
)


def _parser() -> argparse.ArgumentParser:
    from hydra._internal.utils import get_args_parser

    parser = get_args_parser()
    parser.prog = "pbgml train"
    return parser


def _under_torchrun() -> bool:
    return "TORCHELASTIC_RUN_ID" in os.environ or (
        "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ
    )


def _group_lines(loader: Any) -> list[str]:
    from hydra.core.object_type import ObjectType

    from pbgml._config._compose import _group_names
    from pbgml._groups import by_key

    specs = by_key()
    user = [s for s in loader.get_sources() if s.provider == "user"]
    lines = []
    for group in _group_names():
        mine = sorted(
            {o for s in user if s.is_group(group) for o in s.list(group, ObjectType.CONFIG)}
        )
        rest = sorted(set(loader.get_group_options(group)) - set(mine))
        options = mine + rest  # the user's own options first
        shown = ", ".join(options[:_SHOWN]) + (", ..." if len(options) > _SHOWN else "")
        spec = specs.get(group)
        doc = spec.doc if spec is not None else _PRESET_DOCS.get(group, "")
        lines.append(f"  {group} ({len(options)}): {shown}")
        if doc:
            lines.append(f"      {doc}")
    return lines


_PRESET_DOCS = {
    "experiment": "Whole experiments (# @package _global_): experiment=digits_mlp.",
    "hparams_search": "Sweeps (Optuna): hparams_search=digits_optuna.",
}


def help_text(loader: Any) -> str:
    """``pbgml train --help``: the usage, the groups with a few options each, the flags."""
    head = (
        "usage: pbgml train [--import MODULE]... [hydra flags] [overrides]\n\n"
        "Train one experiment (or sweep with -m). Overrides use Hydra's grammar:\n"
        "  pbgml train experiment=digits_mlp optimizer=sgd optimizer.lr=0.05 "
        "trainer.max_epochs=2\n"
        "  pbgml train -m experiment=digits_mlp optimizer.lr=1e-3,1e-2\n"
        "  pbgml train experiment=digits_mlp callbacks=[default,early_stopping]\n"
        "  pbgml train resume=outputs/digits_mlp/2026-01-01_12-00-00\n\n"
        "Config groups (option count: your conf/ options first; pbgml list GROUP shows all):\n"
    )
    flags = (
        "\nFlags:\n"
        "  --import MODULE      import your own components' module first (repeatable)\n"
        "  --config-dir DIR     your configs (default: ./conf when present), searched first\n"
        "  --cfg job|hydra|all  print the composed config and exit (--resolve, -p PKG)\n"
        "  --info [all|config|defaults|defaults-tree|plugins|searchpath]\n"
        "  -m, --multirun       sweep: comma lists, range(), hparams_search=...\n"
        '  -sc install=bash     shell completion (eval "$(pbgml train -sc install=bash)")\n'
        "  --hydra-help         Hydra's own help\n"
    )
    return head + "\n".join(_group_lines(loader)) + "\n" + flags


def _take_imports(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    modules: list[str] = []
    rest: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--import":
            module = next(args, None)
            if module is None or module.startswith("-"):
                raise UsageError("--import needs a module name: --import my_project.components")
            modules.append(module)
        elif arg.startswith("--import="):
            modules.append(arg.partition("=")[2])
        else:
            rest.append(arg)
    return modules, rest


def _import(modules: Sequence[str]) -> None:
    import importlib

    for module in modules:
        if not re.fullmatch(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*", module):
            raise UsageError(f"--import {module}: not a module name (dotted, as in my_pkg.parts)")
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            raise UsageError(
                f"--import {module}: no module named {err.name!r}; install your project "
                "(pip install -e .) or run from the folder that holds it "
                "(PYTHONPATH=. pbgml train ...)"
            ) from err


def _completion_line() -> None:
    """Hydra's completion reads COMP_LINE as ``app overrides``: drop the ``train`` word."""
    line = os.environ.get("COMP_LINE", "")
    match = re.match(r"^(\s*\S*pbgml\s+|\s*\S*python[3]?\s+-m\s+pbgml\s+)train(\s|$)", line)
    if match:
        cut = len(match.group(0)) - len(match.group(2))
        prefix = "pbgml "
        os.environ["COMP_LINE"] = prefix + line[cut:].lstrip()
        point = int(os.environ.get("COMP_POINT", len(line)))
        removed = len(line) - len(os.environ["COMP_LINE"])
        os.environ["COMP_POINT"] = str(max(0, point - removed))


def _install_script(shell: str) -> str | None:
    if shell != "bash":
        return None
    return (
        "_pbgml_train_completion()\n{\n"
        "    local words=($COMP_LINE)\n"
        '    if [ "${words[1]}" != "train" ]; then return; fi\n'
        '    local choices=$(COMP_POINT=$COMP_POINT COMP_LINE="$COMP_LINE" '
        "${words[0]} train -sc query=bash 2>/dev/null)\n"
        '    COMPREPLY=($(compgen -o nospace -o default -W "$choices" -- '
        '"${words[$COMP_CWORD]}"))\n'
        "}\n"
        "COMP_WORDBREAKS=${COMP_WORDBREAKS//=}\n"
        "complete -o nospace -o default -F _pbgml_train_completion pbgml\n"
    )


def run_app(argv: Sequence[str], make_task: Callable[[Sequence[str]], Any]) -> int:
    """Run ``pbgml train argv``; the exit code.

    ``make_task(modules)`` returns the Hydra task function, given the ``--import``
    modules (a launcher may run jobs in other processes: they import them again).
    """
    modules, rest = _take_imports(argv)
    args = _parser().parse_args(rest)  # argparse: usage message and exit code 2
    if args.config_path is not None:
        raise UsageError("--config-path is not used by pbgml train: use --config-dir DIR")
    _import(modules)
    from pbgml._config._store import IMPORTS_ENV

    before = os.environ.get(IMPORTS_ENV)
    if modules:  # jobs in other processes (joblib, submitit) import them too
        os.environ[IMPORTS_ENV] = ",".join(modules)
    try:
        return _app(args, modules, make_task)
    finally:
        if before is None:
            os.environ.pop(IMPORTS_ENV, None)
        else:
            os.environ[IMPORTS_ENV] = before


def _app(args: argparse.Namespace, modules: Sequence[str], make_task: Any) -> int:
    config_name = args.config_name or CONFIG_NAME
    if args.shell_completion and any(o.startswith("install=") for o in args.overrides):
        shell = next(o for o in args.overrides if o.startswith("install=")).partition("=")[2]
        script = _install_script(shell)
        if script is not None:
            sys.stdout.write(script)
            return 0
    if args.shell_completion:
        _completion_line()

    from hydra import version
    from hydra._internal.hydra import Hydra
    from hydra.core.global_hydra import GlobalHydra

    version.setbase("1.3")
    path = search_path(args.config_dir)
    hydra = Hydra.create_main_hydra2(task_name=TASK_NAME, config_search_path=path)
    try:
        return _dispatch(hydra, args, config_name, make_task(modules))
    finally:
        GlobalHydra.instance().clear()


def _dispatch(hydra: Any, args: argparse.Namespace, config_name: str, task: Any) -> int:
    from hydra.types import RunMode

    overrides = list(args.overrides)
    if args.help:
        sys.stdout.write(help_text(hydra.config_loader))
        return 0
    if args.hydra_help:
        with translated():
            hydra.hydra_help(config_name=config_name, args_parser=_parser(), args=args)
        return 0
    shown = args.cfg is not None
    if args.resolve and not shown:
        raise UsageError("--resolve goes with --cfg: pbgml train --cfg job --resolve ...")
    commands = args.run + shown + args.multirun + args.shell_completion + (args.info is not None)
    if commands > 1:
        raise UsageError("use one of --run, --multirun, --cfg, --info and --shell-completion")
    with translated():
        if shown:
            hydra.show_cfg(
                config_name=config_name,
                overrides=overrides,
                cfg_type=args.cfg,
                package=args.package,
                resolve=args.resolve,
            )
            return 0
        if args.shell_completion:
            hydra.shell_completion(config_name=config_name, overrides=overrides)
            return 0
        if args.info is not None:
            hydra.show_info(args.info, config_name=config_name, overrides=overrides)
            return 0
        mode = hydra.get_mode(config_name=config_name, overrides=overrides)
        multirun = args.multirun or mode == RunMode.MULTIRUN
        overrides.append(f"hydra.mode={'MULTIRUN' if multirun else 'RUN'}")
        if not multirun:
            hydra.run(config_name=config_name, task_function=task, overrides=overrides)
            return 0
        if _under_torchrun():
            raise UsageError(_TORCHRUN)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_OPTUNA_SQLALCHEMY)
            hydra.multirun(config_name=config_name, task_function=task, overrides=overrides)
    return 0
