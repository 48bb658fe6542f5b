"""What ``pbgml list``, ``show`` and ``check`` call a group: registries, experiment keys, presets.

A word on the command line (``optimizer``, ``metrics``, ``callback``, ``experiment``)
names a :class:`Group`: the registry it lists (if any) and the folder of presets it
lists (if any). ``metrics`` and ``metric`` are the same group (the experiment's field
and the registry); so are ``callbacks`` and ``callback``. Presets are YAML files: the
packaged ones under ``pbgml/conf/<group>/`` and the user's under ``./conf/<group>/``
(or ``--config-dir``), read at run time. Nothing here imports Hydra or builds a config.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pbgml._errors import closest
from pbgml._groups import GROUPS
from pbgml.cli._report import UsageError

__all__ = [
    "PRESET_GROUPS",
    "Group",
    "all_words",
    "find_group",
    "preset_doc",
    "preset_folders",
    "presets",
    "user_conf",
]

#: The groups whose options are presets (YAML files), not registry entries alone.
PRESET_GROUPS = ("experiment", "trainer", "logger", "callbacks", "hparams_search")

_CONF_DIR = "conf"


@dataclass(frozen=True)
class Group:
    """One group as the commands see it.

    Attributes
    ----------
    word
        How the user named it.
    registry
        The registry's name (``"metric"``), or ``None`` for a preset-only group.
    presets
        The preset folder's name (``"callbacks"``), or ``None`` when it has no presets.
    """

    word: str
    registry: str | None
    presets: str | None

    @property
    def label(self) -> str:
        """The name to print: the registry's, else the preset folder's."""
        return self.registry or self.presets or self.word


def user_conf(config_dir: str | None) -> Path | None:
    """The user's config folder: ``config_dir`` when given, else ``./conf`` if it exists."""
    if config_dir is not None:
        path = Path(config_dir)
        if not path.is_dir():
            raise UsageError(f"--config-dir {config_dir!r}: no such directory")
        return path
    default = Path(_CONF_DIR)
    return default if default.is_dir() else None


def _packaged_root() -> Path:
    return Path(str(resources.files("pbgml") / _CONF_DIR))


def _folders(root: Path | None) -> list[str]:
    if root is None or not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.glob("*.yaml")))


def preset_folders(config_dir: str | None = None) -> list[str]:
    """Every preset group: the known ones, then the folders found (packaged and the user's).

    Examples
    --------
    >>> from pbgml.cli._tools_groups import preset_folders
    >>> preset_folders()[:2]
    ['experiment', 'trainer']
    """
    found = [*PRESET_GROUPS]
    for name in [*_folders(_packaged_root()), *_folders(user_conf(config_dir))]:
        if name not in found:
            found.append(name)
    return found


def presets(folder: str, config_dir: str | None = None) -> dict[str, Path]:
    """The preset files of a group by name, sorted: the user's (``./conf``) before the packaged.

    The packaged names are :func:`pbgml.hydra.presets`' (read without composing
    anything); each path is the preset's own YAML file.

    Examples
    --------
    >>> from pbgml.cli._tools_groups import presets
    >>> presets("experiment")["digits_mlp"].name
    'digits_mlp.yaml'
    """
    from pbgml._config._presets import presets as packaged  # not pbgml.hydra: no Hydra import

    found: dict[str, Path] = {}
    user = user_conf(config_dir)
    if user is not None and (user / folder).is_dir():
        found.update({p.stem: p for p in sorted((user / folder).glob("*.yaml"))})
    root = _packaged_root() / folder
    for name in packaged(folder):  # the names only: looking one up may compose it
        found.setdefault(name, root / f"{name}.yaml")
    return dict(sorted(found.items()))


def preset_doc(path: Path) -> str:
    """The preset's leading comment as one line (``# @package`` lines skipped).

    Examples
    --------
    >>> from pbgml.cli._tools_groups import preset_doc, presets
    >>> preset_doc(presets("experiment")["digits_mlp"]).startswith("An MLP on")
    True
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return ""
    words: list[str] = []
    for line in lines:
        stripped = line.strip()
        if not stripped.startswith("#"):
            if words or stripped:
                break
            continue
        body = stripped.lstrip("#")
        text = body.strip()
        if text.startswith("@"):
            continue
        if not text or (words and body.startswith("   ")):  # the end, or an indented example
            if words:
                break
            continue
        words.append(text)
    return " ".join(" ".join(words).split())


def _keys() -> dict[str, str]:
    """Experiment field -> registry name (``metrics`` -> ``metric``)."""
    return {spec.key: spec.name for spec in GROUPS.values() if spec.key is not None}


def all_words(config_dir: str | None = None) -> list[str]:
    """Every word that names a group, for did-you-mean."""
    return sorted({*GROUPS, *_keys(), *preset_folders(config_dir)})


def find_group(word: str, config_dir: str | None = None) -> Group:
    """The group a word names; an unknown word raises :class:`UsageError` with did-you-mean.

    Examples
    --------
    >>> from pbgml.cli._tools_groups import find_group
    >>> find_group("metrics").registry
    'metric'
    >>> find_group("callback").presets
    'callbacks'
    >>> find_group("experiment").registry is None
    True
    """
    folders = preset_folders(config_dir)
    keys = _keys()
    if word in GROUPS:
        key = GROUPS[word].key
        folder = next((f for f in (key, word) if f is not None and f in folders), None)
        return Group(word, word, folder)
    if word in keys:
        return Group(word, keys[word], word if word in folders else None)
    if word in folders:
        return Group(word, None, word)
    raise UsageError(unknown_group_message(word, config_dir))


def unknown_group_message(word: str, config_dir: str | None = None) -> str:
    """``unknown group 'optimiser'. Did you mean 'optimizer'? Groups: ...``."""
    words = all_words(config_dir)
    hits = closest(word, words)
    hint = f" Did you mean {hits[0]!r}?" if hits else ""
    return f"unknown group {word!r}.{hint} Groups: {', '.join(words)}"
