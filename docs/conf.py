"""Sphinx configuration for pbgml's documentation."""

from __future__ import annotations

import pbgml

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
exclude_patterns = ["_build"]
suppress_warnings = ["ref.python"]
