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
nitpicky = False
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}
html_theme = "furo"
html_title = f"pbgml {release}"
exclude_patterns = ["_build", "_generated", "_ext"]
suppress_warnings = ["ref.python"]
