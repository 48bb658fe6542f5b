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
    ConfigError,
    ConfigIssue,
    PbgmlError,
    PluginWarning,
    RegistryError,
    UnknownNameError,
)
from pbgml._registry import Entry, Registry
from pbgml._version import __version__

if TYPE_CHECKING:
    from pbgml import config, configs
    from pbgml.config import check, instantiate, load_yaml, to_yaml
    from pbgml.nn import ShapeMismatchError, check_input, summary

__all__ = [
    "ConfigError",
    "ConfigIssue",
    "Entry",
    "PbgmlError",
    "PluginWarning",
    "Registry",
    "RegistryError",
    "ShapeMismatchError",
    "UnknownNameError",
    "__version__",
    "check",
    "check_input",
    "config",
    "configs",
    "instantiate",
    "load_yaml",
    "registry",
    "summary",
    "to_yaml",
]

# name -> module that defines it; imported on first attribute access
_LAZY: dict[str, str] = {
    "config": "pbgml.config",
    "configs": "pbgml.configs",
    "check": "pbgml.config._check",
    "instantiate": "pbgml.config._instantiate",
    "load_yaml": "pbgml.config._yaml",
    "to_yaml": "pbgml.config._yaml",
    "summary": "pbgml.nn",
    "check_input": "pbgml.nn",
    "ShapeMismatchError": "pbgml.nn",
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
