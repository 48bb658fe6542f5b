"""The generated catalogue (``pbgml.sphinxext``) says exactly what the registries hold.

Every name, alias and config field of every group is rendered; the YAML snippets load
and build the entry's config; the command-line forms compose with Hydra; a component
registered in a test shows up (so the pages cannot drift from the code); and the
directive works in a real, tiny Sphinx project.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from pbgml import registry
from pbgml._groups import GROUPS
from pbgml.configs import config_for
from pbgml.sphinxext import _escape, _inline, command_line, field_rows, label, render_group

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    """Every group's catalogue, rendered once for the module."""
    return {group: render_group(group) for group in registry.groups()}


def _yaml_blocks(text: str) -> list[str]:
    blocks = re.findall(r"\.\. code-block:: yaml\n\n((?:   .*\n|\n)+)", text)
    return [re.sub(r"^   ", "", block, flags=re.MULTILINE) for block in blocks]


@pytest.mark.parametrize("group", list(GROUPS))
def test_every_name_alias_doc_and_field_is_rendered(group: str, rendered: dict[str, str]) -> None:
    text = rendered[group]
    reg = registry.groups()[group]
    assert len(reg) > 0
    for entry in reg.entries():
        ref = label(group, entry.name)
        assert f".. _{ref}:\n\n.. rubric:: {_escape(entry.name)}\n" in text, entry.name
        assert f":ref:`{_escape(entry.name)} <{ref}>`" in text  # in the summary table
        for alias in entry.aliases:
            assert f"``{alias}``" in text, (entry.name, alias)
        assert _inline(entry.doc) in text
        assert f":Origin: ``{entry.origin}``" in text
        section = text.split(f".. _{ref}:\n", 1)[1].split("\n.. _pbgml-", 1)[0]
        public = [
            f.name
            for f in dataclasses.fields(config_for(group, entry.name))
            if f.init and not f.name.startswith("_")
        ]
        assert [row[0] for row in field_rows(group, entry.name)] == public, entry.name
        if public:  # the table, built by the fields directive from field_rows
            assert f".. pbgml-catalogue-fields:: {group} {entry.name}\n" in section
        command = command_line(group, entry.name)
        if command is not None:
            assert f"   $ {command}\n" in section


def test_labels_are_unique_per_group() -> None:
    for group, reg in registry.groups().items():
        labels = [label(group, name) for name in reg.names()]
        assert len(set(labels)) == len(labels), group


@pytest.mark.parametrize("group", list(GROUPS))
def test_yaml_snippets_load_and_name_the_config_target(
    group: str, rendered: dict[str, str]
) -> None:
    blocks = _yaml_blocks(rendered[group])
    entries = list(registry.groups()[group].entries())
    assert len(blocks) == len(entries)
    key = GROUPS[group].key
    for entry, block in zip(entries, blocks, strict=True):
        node: Any = yaml.safe_load(block)
        if key is not None:
            node = node[key][entry.name] if GROUPS[group].collection else node[key]
        assert node["_target_"] == config_for(group, entry.name)._target_, entry.name


_SELECTABLE = [group for group, spec in GROUPS.items() if spec.key is not None]


@pytest.mark.parametrize("group", _SELECTABLE)
def test_command_lines_compose_with_hydra(group: str) -> None:
    from hydra import compose, initialize

    from pbgml.hydra import store_registries

    store_registries()
    spec = GROUPS[group]
    assert spec.key is not None
    commands = [(name, command_line(group, name)) for name in registry.groups()[group].names()]
    runnable = [(name, c) for name, c in commands if c is not None and "<" not in c]
    assert runnable, group
    with initialize(version_base=None):
        for name, command in {*runnable[:2], runnable[-1]}:
            cfg = compose("pbgml", overrides=command.split()[2:])
            node = cfg[spec.key][name] if spec.collection else cfg[spec.key]
            assert node._target_ == config_for(group, name)._target_, command


def test_command_line_shows_a_placeholder_for_a_required_field() -> None:
    assert command_line("model", "mlp") == "pbgml train model=mlp model.in_features=<int>"
    assert command_line("transform", "to_tensor") is None


def test_doc_lines_keep_pbgml_references_and_make_others_literal() -> None:
    assert _inline(":class:`torch.nn.Linear` and :math:`x_1`") == "``torch.nn.Linear`` and ``x_1``"
    assert _inline("See :class:`~pbgml.nn.MLP`.") == "See :class:`~pbgml.nn.MLP`."
    assert _inline("a *b* `c`_ d_") == r"a \*b\* ``c`` d\_"


class _ProbeLoss(torch.nn.Module):
    """A loss registered by the catalogue test only."""

    def __init__(self, sharpness: float = 1.5, classes: int = 3) -> None:
        super().__init__()
        self.sharpness = sharpness
        self.classes = classes


def test_a_registered_component_shows_up(scratch_registry_names: list[tuple[str, str]]) -> None:
    registry.loss.register(_ProbeLoss, name="probe_loss_for_docs", aliases=["ProbeLossDocs"])
    scratch_registry_names.append(("loss", "probe_loss_for_docs"))

    text = render_group("loss")
    assert ".. rubric:: probe\\_loss\\_for\\_docs" in text
    assert "``ProbeLossDocs``" in text
    assert "A loss registered by the catalogue test only." in text
    assert ".. pbgml-catalogue-fields:: loss probe_loss_for_docs" in text
    assert field_rows("loss", "probe_loss_for_docs") == [
        ("sharpness", "float", "1.5"),
        ("classes", "int", "3"),
    ]
    assert "pbgml train loss=probe_loss_for_docs loss.sharpness=1.5" in text

    # a plugin's own page: only the entries defined in its modules
    own = render_group("loss", module=__name__)
    assert own.count(".. rubric::") == 1
    assert "1 component" in own


def test_the_component_is_gone_once_unregistered() -> None:
    # runs after the test above, whose fixture unregistered the probe
    assert "probe_loss_for_docs" not in render_group("loss")


def test_an_unknown_group_suggests_the_closest() -> None:
    from pbgml import UnknownNameError

    with pytest.raises(UnknownNameError, match="Did you mean 'optimizer'"):
        render_group("optimiser")


def test_every_group_has_a_catalogue_page() -> None:
    index = (DOCS / "catalogue" / "index.rst").read_text(encoding="utf-8")
    for group in GROUPS:
        page = (DOCS / "catalogue" / f"{group}.rst").read_text(encoding="utf-8")
        assert f".. pbgml-catalogue:: {group}\n" in page
        assert f"\n   {group}\n" in index


def test_importing_pbgml_does_not_import_sphinx() -> None:
    code = "import sys, pbgml, pbgml.configs, pbgml.hydra; print('sphinx' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "False"


def test_the_directive_in_a_sphinx_project(tmp_path: Path) -> None:
    from sphinx.application import Sphinx

    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text('extensions = ["pbgml.sphinxext"]\n')
    (src / "index.rst").write_text(
        "Tasks\n=====\n\n.. pbgml-catalogue:: task\n\n"
        "Link: :ref:`pbgml-task-regression`.\n\n"
        "Optimizers\n==========\n\n.. pbgml-catalogue:: optimizer\n   :match: sgd\n   :no-summary:\n"
    )
    (src / "bad.rst").write_text(":orphan:\n\nBad\n===\n\n.. pbgml-catalogue:: taks\n")
    app = Sphinx(
        str(src),
        str(src),
        str(tmp_path / "html"),
        str(tmp_path / "doctrees"),
        "html",
        status=None,
        warning=(warnings := _Collect()),
        freshenv=True,
    )
    app.build()
    html = (tmp_path / "html" / "index.html").read_text(encoding="utf-8")
    words = re.sub(r"<[^>]+>", "", html)  # without the highlighter's spans
    assert 'id="pbgml-task-classification"' in html
    assert 'href="#pbgml-task-regression"' in html  # the label resolves
    assert "pbgml train optimizer=sgd optimizer.lr=0.001" in words
    assert html.count('class="pbgml-fields') == 3  # each entry's field table
    assert "nesterov" in words  # an SGD field, in the table (and the YAML)
    assert "in_features" not in words
    assert "optimizer=adamw" not in words  # :match: keeps sgd only
    assert html.count('class="rubric"') == 3  # classification, regression, sgd
    problems = warnings.text()
    assert "bad.rst" in problems
    assert "Did you mean 'task'" in problems
    assert "index.rst" not in problems, problems


class _Collect:
    """A writable stream that keeps Sphinx's warnings."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def flush(self) -> None:
        pass

    def text(self) -> str:
        return "".join(self.parts)
