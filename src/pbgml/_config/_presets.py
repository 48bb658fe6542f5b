"""Packaged presets: YAML experiments shipped inside pbgml (``pbgml/conf``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["presets"]


def presets(group: str = "experiment") -> dict[str, Path]:
    """Return the packaged presets of a group, by name, as paths to their YAML files.

    Each experiment preset is a complete config: :func:`pbgml.check`,
    :func:`pbgml.instantiate` and :func:`pbgml.load_yaml` take its path as it is.

    Examples
    --------
    >>> from pbgml.hydra import presets
    >>> sorted(presets())
    ['cifar10_lenet', 'digits_mlp', 'mnist_lenet']
    >>> import pbgml
    >>> pbgml.load_yaml(presets()["cifar10_lenet"]).seed
    12345
    """
    folder = Path(str(resources.files("pbgml") / "conf" / group))
    if not folder.is_dir():
        return {}
    return {path.stem: path for path in sorted(folder.glob("*.yaml"))}
