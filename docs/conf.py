"""Sphinx configuration for pbgml's documentation."""

from __future__ import annotations

import sys
from pathlib import Path

import pbgml

sys.path.insert(0, str(Path(__file__).parent / "_ext"))  # the docs' own extension

project = "pbgml"
author = "pbgml developers"
copyright = "2026, pbgml developers"
release = pbgml.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "pbgml.sphinxext",
    "pbgml_figures",  # docs/_ext: figures drawn by the build (data flow, pbgml plot)
]
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_default_options = {"members": True, "show-inheritance": True}
# Strict references: a reference to anything that does not exist fails the build.
nitpicky = True
# Other projects' objects: no inventory can be fetched on the team's (offline) machines,
# so references to them are kept as they are written (autodoc's type annotations name
# them) instead of linking. pbgml's private names (a private base class shown by
# show-inheritance, type variables, type aliases) are not documented on purpose.
# Everything else, every pbgml.* name in particular, must resolve.
_OTHER_PROJECTS = (
    "torch|collections|os|pathlib|typing|types|dataclasses|functools|fnmatch|ast|csv|json"
    "|numpy|sklearn|omegaconf|hydra|hydra_zen|sphinx|tensorboard|mlflow|torchmetrics"
    "|torchvision|onnx|onnxruntime|safetensors|str|int|float|dict|list"
)
nitpick_ignore_regex = [
    (r"py:.*", rf"({_OTHER_PROJECTS})(\..+)?"),
    (r"py:class", r"Tensor|nn\..+|Dataset|DataLoader|Optimizer|ZenStore|DictConfig|ListConfig"),
    (r"py:class", r"pbgml(\.\w+)*\._\w+(\.\w+)*"),  # private modules and bases
    (r"py:class", r"R|_C|Loader|Transform|ActivationLike|WeightLike"),  # type vars, aliases
]
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}
html_theme = "furo"
html_title = f"pbgml {release}"
exclude_patterns = ["_build", "_generated", "_ext"]
suppress_warnings: list[str] = []
