"""pbgml: typed, safe, registry-driven configs for PyTorch training pipelines.

The public face is light: the registries and errors are plain Python, and the parts
that need Hydra, OmegaConf or hydra-zen (configs, checking, instantiation) are
imported on first use (PEP 562).

Examples
--------
>>> import pbgml
>>> pbgml.registry.optimizer.get("adamw").__name__
'AdamW'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import torch  # noqa: F401 - pbgml is a torch library; registries list torch classes

from pbgml import registry
from pbgml._errors import (
    ArgumentError,
    ConfigError,
    ConfigIssue,
    MissingExtraError,
    PbgmlError,
    PluginWarning,
    RegistryError,
    UnknownNameError,
)
from pbgml._registry import Entry, Registry
from pbgml._version import __version__

if TYPE_CHECKING:
    from pbgml import configs, hydra, train
    from pbgml._config._check import check
    from pbgml._config._compose import compose
    from pbgml._config._instantiate import instantiate
    from pbgml._config._model import check_input, summary
    from pbgml._config._yaml import load_yaml, to_yaml
    from pbgml._export import ExportError, export, load_model
    from pbgml._run import RunResult, run
    from pbgml.nn import ShapeMismatchError
    from pbgml.train import Trainer

__all__ = [
    "ArgumentError",
    "ConfigError",
    "ConfigIssue",
    "Entry",
    "ExportError",
    "MissingExtraError",
    "PbgmlError",
    "PluginWarning",
    "Registry",
    "RegistryError",
    "RunResult",
    "ShapeMismatchError",
    "Trainer",
    "UnknownNameError",
    "__version__",
    "check",
    "check_input",
    "compose",
    "configs",
    "export",
    "hydra",
    "instantiate",
    "load_model",
    "load_yaml",
    "registry",
    "run",
    "summary",
    "to_yaml",
    "train",
]

# name -> module that defines it; imported on first attribute access
_LAZY: dict[str, str] = {
    "configs": "pbgml.configs",
    "hydra": "pbgml.hydra",
    "train": "pbgml.train",
    "Trainer": "pbgml.train",
    "check": "pbgml._config._check",
    "compose": "pbgml._config._compose",
    "instantiate": "pbgml._config._instantiate",
    "load_yaml": "pbgml._config._yaml",
    "to_yaml": "pbgml._config._yaml",
    "summary": "pbgml._config._model",
    "check_input": "pbgml._config._model",
    "ShapeMismatchError": "pbgml.nn",
    "run": "pbgml._run",
    "RunResult": "pbgml._run",
    "export": "pbgml._export",
    "load_model": "pbgml._export",
    "ExportError": "pbgml._export",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pbgml' has no attribute {name!r}")
    imported = importlib.import_module(module)
    value = imported if module == f"pbgml.{name}" else getattr(imported, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
