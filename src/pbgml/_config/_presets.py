"""Packaged presets: the Hydra options shipped inside pbgml (``pbgml/conf``)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path

__all__ = ["PRESET_GROUPS", "presets"]

#: The groups with packaged YAML presets (the other options come from the registries).
PRESET_GROUPS = ("experiment", "trainer", "callbacks", "logger", "hparams_search")


def _folder(group: str) -> Path:
    return Path(str(resources.files("pbgml") / "conf" / group))


class _Experiments(Mapping[str, Path]):
    """Experiment presets by name; each value is the composed, complete tree's YAML file.

    The packaged experiment files are Hydra experiments (``# @package _global_``, a
    defaults list of overrides): looking a name up composes it as ``pbgml train
    experiment=<name>`` does (without the user's ``conf/``) and writes the complete
    tree once to a cache folder named after its content.
    """

    def __init__(self, files: Mapping[str, Path]) -> None:
        self._files = dict(files)
        self._composed: dict[str, Path] = {}

    def __getitem__(self, name: str) -> Path:
        if name not in self._files:
            raise KeyError(name)
        if name not in self._composed:
            self._composed[name] = _compose_to_file(name, self._files[name])
        return self._composed[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)

    def __repr__(self) -> str:
        return f"presets({sorted(self._files)})"


def _compose_to_file(name: str, source: Path) -> Path:
    from pbgml._config._compose import compose_packaged
    from pbgml._config._yaml import to_yaml

    text = f"# pbgml experiment preset {name!r}, composed from {source.name}\n"
    text += to_yaml(compose_packaged(name))
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    uid = os.getuid() if hasattr(os, "getuid") else 0
    folder = Path(tempfile.gettempdir()) / f"pbgml-presets-{uid}" / digest
    path = folder / f"{name}.yaml"
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{name}.{os.getpid()}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    return path


def presets(group: str = "experiment") -> Mapping[str, Path]:
    """Return the packaged presets of a group, by name, as paths to YAML files.

    For ``experiment`` each path is the preset's complete tree (composed on first use,
    as ``pbgml train experiment=<name>`` builds it): :func:`pbgml.check`,
    :func:`pbgml.instantiate` and :func:`pbgml.load_yaml` take it as it is. For the
    other groups (``trainer``, ``callbacks``, ``logger``, ``hparams_search``) each path
    is the packaged Hydra option file itself; the registries' entries
    (``trainer=default``, ``logger=csv``) are options too, listed by ``pbgml list``.

    Examples
    --------
    >>> from pbgml.hydra import presets
    >>> sorted(presets())
    ['cifar10_lenet', 'digits_mlp', 'mnist_lenet']
    >>> import pbgml
    >>> pbgml.load_yaml(presets()["cifar10_lenet"]).seed
    12345
    >>> sorted(presets("trainer"))
    ['cpu', 'ddp', 'gpu']
    """
    folder = _folder(group)
    if not folder.is_dir():
        return {}
    files = {path.stem: path for path in sorted(folder.glob("*.yaml"))}
    if group == "experiment":
        return _Experiments(files)
    return files
