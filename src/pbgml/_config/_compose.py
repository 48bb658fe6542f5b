"""``pbgml.compose``: the experiment tree ``pbgml train`` builds, for notebooks and scripts.

The search path is the one the command line uses: the user's configs first (``--config-dir``
or ``conf/`` in the working directory), then the packaged presets (``pbgml/conf``),
then the registries (``pbgml://``, read on demand), then Hydra's ConfigStore.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hydra.core.config_search_path import ConfigSearchPath
    from omegaconf import DictConfig

__all__ = [
    "CONFIG_NAME",
    "PACKAGE_CONF",
    "USER_CONF",
    "compose",
    "search_path",
    "translated",
    "user_conf_dir",
]

#: The primary config's name (``pbgml/conf/train.yaml``).
CONFIG_NAME = "train"
#: The packaged presets' folder (``pbgml/conf``), a ``file://`` entry of the search path.
PACKAGE_CONF = "file://" + str(Path(__file__).resolve().parent.parent / "conf")
#: The folder of the user's own configs, in the working directory, searched first.
USER_CONF = "conf"


def user_conf_dir(config_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The user's config folder: ``config_dir`` (must exist), else ``./conf`` when present.

    Examples
    --------
    >>> from pbgml._config._compose import user_conf_dir
    >>> user_conf_dir("/no/such/dir")
    Traceback (most recent call last):
    ...
    FileNotFoundError: [Errno 2] config directory not found: '/no/such/dir'
    """
    if config_dir is not None:
        path = Path(config_dir).expanduser().resolve()
        if not path.is_dir():
            import errno

            raise FileNotFoundError(errno.ENOENT, "config directory not found", str(config_dir))
        return path
    local = Path.cwd() / USER_CONF
    return local.resolve() if local.is_dir() else None


def search_path(
    config_dir: str | os.PathLike[str] | None = None, *, user: bool = True
) -> ConfigSearchPath:
    """The search path of ``pbgml train``: Hydra's own configs, the user's, pbgml's.

    Search-path plugins installed on the machine apply as in any Hydra app.

    Examples
    --------
    >>> from pbgml._config._compose import search_path
    >>> [e.provider for e in search_path().get_path()][-3:]
    ['main', 'pbgml', 'schema']
    """
    from hydra._internal.utils import create_config_search_path

    from pbgml._config._store import register_source

    register_source()
    path = create_config_search_path(PACKAGE_CONF)
    path.append("pbgml", "pbgml://", anchor=None)
    # Hydra wants the ConfigStore ("schema") last
    entries = path.get_path()
    schema = [e for e in entries if e.provider == "schema"]
    for entry in schema:
        entries.remove(entry)
    entries.extend(schema)
    mine = user_conf_dir(config_dir) if user else None
    if mine is not None:
        path.prepend("user", f"file://{mine}", anchor=None)
        # after Hydra's own configs (hydra/launcher=...), before everything else
        entries = path.get_path()
        entries.insert(1, entries.pop(0))
    return path


def compose(
    overrides: Sequence[str] = (),
    experiment: str | None = None,
    *,
    config_dir: str | os.PathLike[str] | None = None,
) -> DictConfig:
    """Compose an experiment as ``pbgml train [experiment=...] overrides`` does.

    Parameters
    ----------
    overrides
        Hydra overrides (``["model=lenet", "optimizer.lr=0.01", "callbacks=none"]``).
    experiment
        An experiment preset (``"digits_mlp"``) or one of the user's
        (``conf/experiment/<name>.yaml``); same as ``experiment=<name>`` in overrides.
    config_dir
        The user's config folder (default: ``conf/`` in the working directory, if any).

    Returns
    -------
    omegaconf.DictConfig
        The experiment tree, typed as :class:`~pbgml.configs.ExperimentConf` (its run
        settings) with each group's typed config; :func:`pbgml.run`,
        :func:`pbgml.check` and :func:`pbgml.instantiate` take it as it is.

    Raises
    ------
    pbgml.ConfigError
        An override names an unknown option or key, or sets an invalid value.

    Examples
    --------
    >>> import pbgml
    >>> cfg = pbgml.compose(["optimizer=sgd", "optimizer.lr=0.05"], experiment="digits_mlp")
    >>> cfg.optimizer.lr, cfg.model._target_, sorted(cfg.callbacks)
    (0.05, 'pbgml.nn.MLP', ['model_checkpoint', 'model_summary', 'progress_bar'])
    >>> sorted(pbgml.compose(["callbacks=none"], experiment="digits_mlp").callbacks)
    []
    """
    args = list(overrides)
    if experiment is not None:
        args.append(f"experiment={experiment}")
    return _compose(args, search_path(config_dir))


def compose_packaged(experiment: str) -> DictConfig:
    """A packaged experiment preset composed alone (no user ``conf/``, no overrides)."""
    return _compose([f"experiment={experiment}"], search_path(user=False))


def _compose(args: list[str], path: ConfigSearchPath) -> DictConfig:
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra.types import RunMode
    from omegaconf import open_dict

    loader = ConfigLoaderImpl(config_search_path=path)
    with translated():
        cfg = loader.load_configuration(
            config_name=CONFIG_NAME, overrides=args, run_mode=RunMode.RUN, from_shell=False
        )
    with open_dict(cfg):
        del cfg["hydra"]
    return typed(cfg)


def typed(cfg: Any) -> DictConfig:
    """The composed tree under :class:`~pbgml.configs.ExperimentConf`'s schema.

    Each field is replaced (not merged), so ``callbacks: {}`` stays empty.
    """
    from omegaconf import Container, OmegaConf, open_dict

    from pbgml.configs import ExperimentConf

    out: DictConfig = OmegaConf.structured(ExperimentConf)
    with open_dict(out):  # keys of the user's own (+extra=...) stay: check reports them
        for key in cfg:
            node = cfg._get_node(key)
            out[key] = node if isinstance(node, Container) else node._value()
    return out


#: Where command-line problems are said to be.
COMMAND_LINE = "the command line"
_LIST_HINT = " (pbgml train --help lists the groups; pbgml list {group} their options)"


def _issue(key: str, message: str, kind: str, suggestion: str | None = None) -> Any:
    from pbgml._errors import ConfigIssue

    return ConfigIssue(key, message, kind, suggestion)


def _suggest(name: str, choices: Sequence[str]) -> tuple[str, str | None]:
    from pbgml._errors import closest

    hits = closest(name, choices)
    return (f"; did you mean {hits[0]!r}?" if hits else ""), (hits[0] if hits else None)


def _missing_option(exc: Any) -> Any:
    missing = str(getattr(exc, "missing_cfg_file", "") or "")
    options = [str(o) for o in (getattr(exc, "options", None) or [])]
    group, _, name = missing.rpartition("/")
    if not group:  # the primary config or a file the user named
        text = str(exc).strip().splitlines()[0]
        return _issue("", f"{text} (is the config name or --config-dir right?)", "not_found")
    hint, best = _suggest(name, options)
    if not options:
        message = f"no config group {group!r}; check the name and --config-dir{hint}"
        return _issue(group, message, "unknown_name", best)
    if not hint:
        shown = ", ".join(options[:12]) + (", ..." if len(options) > 12 else "")
        hint = f"; options: {shown}"
    message = f"no option {name!r} in group {group!r}{hint}"
    return _issue(group, message + _LIST_HINT.format(group=group), "unknown_name", best)


def _omegaconf_issue(cause: Any, override: str) -> Any:
    from omegaconf.errors import ConfigKeyError, ValidationError

    key = str(getattr(cause, "full_key", "") or "")
    short = str(getattr(cause, "key", "") or key.rpartition(".")[2])
    msg = str(getattr(cause, "msg", "") or cause).strip().splitlines()[0]
    if isinstance(cause, ValidationError):
        return _issue(key or override, f"invalid value: {msg}", "type")
    if isinstance(cause, ConfigKeyError | AttributeError) or "not in" in msg:
        parent = getattr(cause, "parent_node", None)
        choices = [str(k) for k in parent] if parent is not None else []
        hint, best = _suggest(short, choices)
        where = key.rpartition(".")[0] or "the experiment"
        return _issue(
            key or short,
            f"unknown key {short!r} in {where}{hint} (a new key needs +{key or short}=...)",
            "unknown_key",
            best,
        )
    return _issue(key or override, msg, "value")


_NO_MATCH = re.compile(r"Could not override '([^']+)'\.\s*No match in the defaults list")
_OVERRIDE = re.compile(r"Could not (?:override|append to config\. An item is already at) '([^']+)'")


def _hydra_issue(exc: BaseException) -> Any:
    from hydra.errors import MissingConfigException, OverrideParseException
    from omegaconf.errors import OmegaConfBaseException

    text = str(exc).strip()
    if isinstance(exc, MissingConfigException):
        return _missing_option(exc)
    if isinstance(exc, OverrideParseException):
        override = str(getattr(exc, "override", "") or "")
        first = text.splitlines()[0] if text else "bad syntax"
        return _issue(
            override.partition("=")[0] or override,
            f"cannot parse override {override!r}: {first} (the form is key=value, "
            "group=option, +new_key=value, ~key; quote values with spaces or brackets)",
            "syntax",
        )
    match = _NO_MATCH.search(text)
    if match:
        group = match.group(1)
        groups = sorted(_group_names())
        hint, best = _suggest(group, groups)
        if "." in group or "/" in group:
            hint = hint or f"; is {group!r} a key? Then it needs a value of its own node"
        return _issue(
            group,
            f"no config group {group!r}{hint}; groups: {', '.join(groups)}",
            "unknown_name",
            best,
        )
    cause = exc.__cause__
    if isinstance(cause, OmegaConfBaseException):
        match = _OVERRIDE.search(text)
        return _omegaconf_issue(cause, match.group(1) if match else "")
    if isinstance(exc, OmegaConfBaseException):
        return _omegaconf_issue(exc, "")
    return _issue("", text.splitlines()[0] if text else type(exc).__name__, "value")


def _group_names() -> list[str]:
    from pbgml._groups import by_key

    return [*by_key(), "experiment", "hparams_search"]


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Turn Hydra's and OmegaConf's composition errors into a :class:`pbgml.ConfigError`.

    The error names the key or group, the problem and the fix (with a did-you-mean),
    and is said to be in "the command line" (the overrides).

    Examples
    --------
    >>> import pbgml
    >>> try:
    ...     pbgml.compose(["optimizer=adamx"], experiment="digits_mlp")
    ... except pbgml.ConfigError as err:
    ...     print(err.errors[0].key, err.errors[0].suggestion)
    optimizer adamw
    """
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from pbgml._errors import ConfigError

    try:
        yield
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError([_hydra_issue(exc)], source=COMMAND_LINE) from exc
