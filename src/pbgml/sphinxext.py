"""A Sphinx extension: catalogue pages generated from pbgml's registries.

Add ``"pbgml.sphinxext"`` to the ``extensions`` of a Sphinx ``conf.py`` and write,
in any page::

    .. pbgml-catalogue:: optimizer

The directive renders every component of the group, straight from the registry
(:mod:`pbgml.registry`: name, aliases, one-line doc, origin) and the config classes
(:func:`pbgml.configs.config_for`: the fields with their types and defaults): a
summary table, then one section per component with its fields, a YAML snippet (the
component's config written by :func:`pbgml.to_yaml`, placed where it goes in an
experiment) and the command-line form (``pbgml train optimizer=adamw
optimizer.lr=0.001``). Each section has the label ``pbgml-<group>-<name>``
(lowercase), so other pages link to it with ``:ref:`pbgml-optimizer-adamw```.

A plugin package documents its own components with the same directive, keeping
only the entries defined in its modules:

.. code-block:: rst

   .. pbgml-catalogue:: loss
      :module: my_pkg

Options: ``:module:`` (a module prefix of the entries' origin, repeatable as a
space-separated list), ``:match:`` (an fnmatch pattern of names, ``adam*``) and
``:no-summary:`` (leave out the summary table).

Sphinx is imported only here, when Sphinx loads the extension: ``import pbgml``
never imports it. The functions that render reST (:func:`render_group`,
:func:`render_entry`) need no Sphinx application, so tests compare their output
with the registry.

Examples
--------
>>> from pbgml.sphinxext import render_group
>>> text = render_group("optimizer", match="adamw")
>>> "pbgml train optimizer=adamw optimizer.lr=0.001" in text
True
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from pbgml import registry
from pbgml._config._yaml import to_yaml
from pbgml._errors import UnknownNameError, closest
from pbgml._groups import GROUPS, GroupSpec

if TYPE_CHECKING:
    from pbgml._registry import Entry

__all__ = [
    "CatalogueDirective",
    "FieldsDirective",
    "command_line",
    "field_rows",
    "label",
    "render_entry",
    "render_group",
    "setup",
    "yaml_snippet",
]

#: The name of the directive: ``.. pbgml-catalogue:: <group>``.
DIRECTIVE = "pbgml-catalogue"
#: The directive of one component's field table (written by :func:`render_entry`).
FIELDS_DIRECTIVE = "pbgml-catalogue-fields"

_NONE = "\\-"  # an empty cell in a list-table
_MISSING_TEXT = "???"  # OmegaConf's MISSING: a required value
_UNKNOWN_GROUP = "Unknown pbgml group {group!r} in '.. {directive}::'.{hint} Groups are {groups}."

# inline markup of a docstring's first line: a role, a literal, a default-role text or link
_INLINE = re.compile(
    r"(?P<role>:[a-z]+(?::[a-z]+)?:`(?P<target>[^`]+)`)"
    r"|(?P<literal>``[^`]+``)"
    r"|(?P<plain>`(?P<inner>[^`]+)`_{0,2})"
)
_ESCAPE = re.compile(r"([\\*`|_\[\]<>])")
_PBGML_ROLE = re.compile(r"^~?pbgml(\.[A-Za-z_][A-Za-z0-9_]*)+$")


def _escape(text: str) -> str:
    return _ESCAPE.sub(r"\\\1", text)


def _literal(text: str) -> str:
    text = text.strip()
    return f"``{text}``" if text else ""


def _inline(doc: str) -> str:
    """A docstring's first line as safe reST.

    pbgml's own references are kept (they resolve in pbgml's API pages); any other
    role (``:class:`torch.nn.Linear```, ``:math:`x```) becomes a literal, since no
    inventory of torch is available; stray markup is escaped.

    Examples
    --------
    >>> _inline(":class:`torch.nn.Conv2d` with lazy ``in_channels`` and x_")
    '``torch.nn.Conv2d`` with lazy ``in_channels`` and x\\\\_'
    >>> _inline("One :class:`~pbgml.nn.ConvBlock` per width, `Accuracy`_.")
    'One :class:`~pbgml.nn.ConvBlock` per width, ``Accuracy``.'
    """
    out: list[str] = []
    last = 0
    for match in _INLINE.finditer(doc):
        out.append(_escape(doc[last : match.start()]))
        if match.group("role"):
            target = match.group("target")
            role = match.group("role")
            is_ref = role.startswith((":class:", ":func:", ":meth:", ":mod:", ":data:"))
            if is_ref and _PBGML_ROLE.match(target):
                out.append(role)
            else:
                out.append(_literal(target.lstrip("~")))
        elif match.group("literal"):
            out.append(match.group("literal"))
        else:
            out.append(_literal(match.group("inner")))
        last = match.end()
    out.append(_escape(doc[last:]))
    return "".join(out).strip()


def label(group: str, name: str, names: Iterable[str] | None = None) -> str:
    """The reference label of a component's entry in the catalogue.

    Sphinx labels are lowercase: when another name of the group differs only by case
    (``AdamW`` beside ``adamw``), the name that is not all lowercase gets a
    ``-cased`` suffix (then a number, should that clash too).

    Parameters
    ----------
    group
        The registry group.
    name
        A canonical name of that group.
    names
        Every canonical name of the group (read from the registry when not given).

    Examples
    --------
    >>> label("optimizer", "sgd")
    'pbgml-optimizer-sgd'
    >>> label("loss", "MSELoss", names=["mse", "MSELoss"])
    'pbgml-loss-mseloss'
    >>> label("optimizer", "AdamW", names=["adamw", "AdamW"])
    'pbgml-optimizer-adamw-cased'
    """
    if names is None:
        names = registry.groups()[group].names() if group in registry.groups() else [name]
    return _labels(group, names).get(name, f"pbgml-{group}-{name}".lower())


def _labels(group: str, names: Iterable[str]) -> dict[str, str]:
    by_base: dict[str, list[str]] = {}
    for name in sorted(set(names)):
        by_base.setdefault(f"pbgml-{group}-{name}".lower(), []).append(name)
    out: dict[str, str] = {}
    for base, same in by_base.items():
        # the all-lowercase name (the snake_case one) keeps the plain label
        same.sort(key=lambda n: (n != n.lower(), n))
        for i, name in enumerate(same):
            out[name] = base if i == 0 else f"{base}-cased" + ("" if i == 1 else f"-{i}")
    return out


# -- fields --------------------------------------------------------------------------
def _public_fields(cls: type[Any]) -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(cls) if f.init and not f.name.startswith("_")]


def _type_text(tp: object) -> str:
    if isinstance(tp, str):
        return tp
    if isinstance(tp, type) and not getattr(tp, "__args__", None):
        return tp.__name__ if tp.__module__ == "builtins" else tp.__qualname__
    return re.sub(r"\b(typing|builtins|collections\.abc)\.", "", repr(tp))


def _default(field: dataclasses.Field[Any]) -> object:
    """The field's default value, or ``dataclasses.MISSING`` when it is required."""
    if field.default is not dataclasses.MISSING:
        value: object = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        return dataclasses.MISSING
    return dataclasses.MISSING if value == _MISSING_TEXT else value


def _default_text(value: object) -> str:
    if value is dataclasses.MISSING:
        return "required"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        text = f"{type(value).__name__}(...)"
    elif isinstance(value, type) or callable(value):
        text = getattr(value, "__qualname__", repr(value))
    else:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def field_rows(group: str, name: str) -> list[tuple[str, str, str]]:
    """The rows of a component's field table: name, type and default of each field.

    The default is ``"required"`` for a field without one (``???`` in YAML); hidden
    fields (``_target_``, ``_partial_``) are left out.

    Examples
    --------
    >>> field_rows("loss", "mse")
    [('reduction', 'str', "'mean'")]
    >>> field_rows("model", "mlp")[0]
    ('in_features', 'int', 'required')
    """
    from pbgml.configs import config_for

    cls = config_for(group, name)
    return [(f.name, _type_text(f.type), _default_text(_default(f))) for f in _public_fields(cls)]


def _override_value(value: object) -> str:
    """A value in Hydra's override syntax (``true``, ``null``, ``[0.9,0.999]``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_override_value(v) for v in value) + "]"
    text = str(value)
    if isinstance(value, str) and (not text or re.search(r"[\s,\[\]{}()=:'\"\\$]", text)):
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return text


def _example_field(cls: type[Any], spec: GroupSpec) -> tuple[str, str] | None:
    """The field the command-line example sets: the first required one, else the first."""
    fields = [f for f in _public_fields(cls) if f.name not in spec.meta]
    for field in fields:
        if _default(field) is dataclasses.MISSING:
            tp = _type_text(field.type)
            return field.name, f"<{tp}>" if re.fullmatch(r"\w+", tp) else "<value>"
    for field in fields:
        value = _default(field)
        if value is None or isinstance(value, (bool, int, float, str, list, tuple)):
            return field.name, _override_value(value)
    return None


def command_line(group: str, name: str, cls: type[Any] | None = None) -> str | None:
    """The ``pbgml train`` form that selects a component and sets one of its fields.

    ``None`` for groups that fill no experiment field (``layer``, ``transform``): their
    components are used inside other configs. A field without a default shows a
    placeholder (``<int>``).

    Examples
    --------
    >>> command_line("optimizer", "sgd")
    'pbgml train optimizer=sgd optimizer.lr=0.001'
    >>> command_line("metric", "f1_score")
    'pbgml train +metrics@metrics.f1_score=f1_score metrics.f1_score.num_classes=<int>'
    >>> command_line("layer", "linear") is None
    True
    """
    spec = GROUPS[group]
    if spec.key is None:
        return None
    if cls is None:
        from pbgml.configs import config_for

        cls = config_for(group, name)
    if spec.collection:
        select, prefix = f"+{spec.key}@{spec.key}.{name}={name}", f"{spec.key}.{name}"
    else:
        select, prefix = f"{spec.key}={name}", spec.key
    example = _example_field(cls, spec)
    words = ["pbgml", "train", select]
    if example is not None:
        words.append(f"{prefix}.{example[0]}={example[1]}")
    return " ".join(words)


def yaml_snippet(group: str, name: str, cls: type[Any] | None = None) -> str:
    """The component's config as YAML, nested where it goes in an experiment.

    The config class itself is written (:func:`pbgml.to_yaml`): every field with its
    default, ``???`` for the required ones.

    Examples
    --------
    >>> print(yaml_snippet("loss", "mse"), end="")
    loss:
      _target_: torch.nn.MSELoss
      reduction: mean
    """
    spec = GROUPS[group]
    if cls is None:
        from pbgml.configs import config_for

        cls = config_for(group, name)
    try:
        text = to_yaml(cls)
    except Exception:  # a config that cannot be written whole: target + required fields
        target = getattr(cls, "_target_", "?")
        lines = [f"_target_: {target}"]
        lines += [
            f"{f.name}: ???" for f in _public_fields(cls) if _default(f) is dataclasses.MISSING
        ]
        text = "\n".join(lines) + "\n"
    if spec.key is None:
        return text
    nest = [spec.key, name] if spec.collection else [spec.key]
    out = [f"{'  ' * depth}{key}:" for depth, key in enumerate(nest)]
    pad = "  " * len(nest)
    out += [pad + line if line else line for line in text.splitlines()]
    return "\n".join(out) + "\n"


# -- reST ----------------------------------------------------------------------------
def _indent(text: str, pad: str = "   ") -> list[str]:
    return [pad + line if line.strip() else "" for line in text.splitlines()]


def _config_text(cls: type[Any], group: str, name: str) -> str:
    from pbgml import configs

    if getattr(configs, cls.__name__, None) is cls and cls.__name__ in configs.__all__:
        return f":class:`~pbgml.configs.{cls.__name__}`"
    return f'generated from the signature (``config_for("{group}", "{name}")``)'


def render_entry(group: str, entry: Entry[Any], *, ref: str | None = None) -> str:
    """The reST section of one component: doc, aliases, origin, fields, YAML, command.

    Examples
    --------
    >>> from pbgml import registry
    >>> text = render_entry("loss", registry.loss.entry("mse"))
    >>> print(text.splitlines()[2])
    .. rubric:: mse
    >>> ".. pbgml-catalogue-fields:: loss mse" in text
    True
    """
    from pbgml.configs import config_for

    spec = GROUPS[group]
    cls = config_for(group, entry.name)
    ref = ref or label(group, entry.name)
    # a rubric, not a section: 139 layers in every page's navigation tree would make
    # the build three times slower (furo copies the whole tree for each page)
    lines = [f".. _{ref}:", "", f".. rubric:: {_escape(entry.name)}", "   :heading-level: 2", ""]
    if entry.doc:
        lines += [_inline(entry.doc), ""]
    if entry.aliases:
        lines.append(":Aliases: " + ", ".join(_literal(a) for a in entry.aliases))
    if entry.origin:
        lines.append(f":Origin: {_literal(entry.origin)}")
    lines += [f":Config: {_config_text(cls, group, entry.name)}", ""]
    fields = _public_fields(cls)
    if fields:
        # the table is built as nodes by a directive of its own: parsing ~1500 rows
        # of list-table cells would cost the docs build several seconds
        lines += [f".. {FIELDS_DIRECTIVE}:: {group} {entry.name}", ""]
        meta = [f.name for f in fields if f.name in spec.meta]
        if meta:
            keys = ", ".join(_literal(m) for m in meta)
            lines += [f"{keys}: settings for pbgml, not arguments of the target.", ""]
    else:
        lines += ["No fields.", ""]
    lines += [".. code-block:: yaml", "", *_indent(yaml_snippet(group, entry.name, cls)), ""]
    command = command_line(group, entry.name, cls)
    if command is not None:
        lines += [".. code-block:: console", "", f"   $ {command}", ""]
    return "\n".join(lines)


def _intro(spec: GroupSpec, count: int) -> list[str]:
    lines = [_inline(spec.doc), ""] if spec.doc else []
    noun = "component" if count == 1 else "components"
    lines.append(f"{count} {noun}, generated from ``pbgml.registry.{spec.name}``.")
    if spec.key is None:
        lines.append(
            "This group fills no experiment field: its components are used inside "
            "other configs, by their ``_target_``."
        )
    elif spec.collection:
        lines.append(
            f"The experiment's ``{spec.key}`` is a named collection: add one on the "
            f"command line with ``+{spec.key}@{spec.key}.<key>=<name>``."
        )
    else:
        default = f" (default ``{spec.default}``)" if spec.default else ""
        lines.append(f"Select one with ``{spec.key}=<name>``{default}.")
    if spec.partial and spec.later:
        later = ", ".join(_literal(k) for k in spec.later)
        lines.append(f"Configs are partial: the run supplies {later}.")
    return [*lines, ""]


def _select(
    reg: Iterable[Entry[Any]], modules: tuple[str, ...], match: str | None
) -> list[Entry[Any]]:
    out = []
    for entry in reg:
        if match is not None and not fnmatch.fnmatchcase(entry.name, match):
            continue
        if modules and not any(
            entry.origin == m or entry.origin.startswith(m + ".") for m in modules
        ):
            continue
        out.append(entry)
    return out


def _check_group(group: str) -> None:
    if group not in GROUPS:
        hits = closest(group, GROUPS)
        hint = f" Did you mean {hits[0]!r}?" if hits else ""
        message = _UNKNOWN_GROUP.format(
            group=group, directive=DIRECTIVE, hint=hint, groups=sorted(GROUPS)
        )
        raise UnknownNameError(
            message, name=group, group="group", suggestion=hits[0] if hits else None
        )


def render_group(
    group: str,
    *,
    module: str | Iterable[str] = (),
    match: str | None = None,
    summary: bool = True,
) -> str:
    """The reST of a group's catalogue: an introduction, a summary table, the sections.

    Parameters
    ----------
    group
        A registry group (``"optimizer"``; see :func:`pbgml.registry.groups`).
    module
        Keep only the entries whose origin is in these modules (a plugin's package).
    match
        Keep only the names matching this fnmatch pattern (``"adam*"``).
    summary
        Start with the table of every name, its aliases and its one-line doc.

    Raises
    ------
    pbgml.UnknownNameError
        The group is unknown (with a did-you-mean).

    Examples
    --------
    >>> from pbgml.sphinxext import render_group
    >>> text = render_group("task")
    >>> ".. _pbgml-task-classification:" in text and "Select one with ``task=<name>``" in text
    True
    """
    _check_group(group)
    modules = (module,) if isinstance(module, str) else tuple(module)
    spec = GROUPS[group]
    reg = registry.groups()[group]
    refs = _labels(group, reg.names())
    entries = _select(reg.entries(), modules, match)
    lines = _intro(spec, len(entries))
    if summary and entries:
        lines += [".. list-table::", "   :header-rows: 1", "   :widths: 25 25 50", ""]
        lines += ["   * - Name", "     - Aliases", "     - Description"]
        for entry in entries:
            aliases = ", ".join(_literal(a) for a in entry.aliases) or _NONE
            lines += [
                f"   * - :ref:`{_escape(entry.name)} <{refs[entry.name]}>`",
                f"     - {aliases}",
                f"     - {_inline(entry.doc) or _NONE}",
            ]
        lines.append("")
    for entry in entries:
        lines += [render_entry(group, entry, ref=refs[entry.name]), ""]
    return "\n".join(lines)


class CatalogueDirective(SphinxDirective):
    """``.. pbgml-catalogue:: <group>``: the generated catalogue of one registry group.

    Examples
    --------
    >>> from pbgml.sphinxext import CatalogueDirective
    >>> sorted(CatalogueDirective.option_spec)
    ['match', 'module', 'no-summary']
    """

    required_arguments = 1
    optional_arguments = 0
    has_content = False
    option_spec: ClassVar[dict[str, Any]] = {
        "module": str,
        "match": str,
        "no-summary": lambda value: True,
    }

    def run(self) -> list[Any]:
        """Render the group's reST and parse it into this page."""
        group = self.arguments[0].strip()
        try:
            text = render_group(
                group,
                module=tuple(self.options.get("module", "").split()),
                match=self.options.get("match"),
                summary="no-summary" not in self.options,
            )
        except UnknownNameError as err:
            raise self.error(str(err)) from err
        return self.parse_text_to_nodes(text)


def _cell(text: str, *, literal: bool) -> Any:
    from docutils import nodes  # type: ignore[import-untyped]

    inner = nodes.literal(text, text) if literal else nodes.Text(text)
    return nodes.entry("", nodes.paragraph("", "", inner))


class FieldsDirective(SphinxDirective):
    """``.. pbgml-catalogue-fields:: <group> <name>``: one component's field table.

    Examples
    --------
    >>> from pbgml.sphinxext import FieldsDirective
    >>> FieldsDirective.required_arguments
    2
    """

    required_arguments = 2
    has_content = False

    def run(self) -> list[Any]:
        """Build the table as docutils nodes (no reST to parse)."""
        from docutils import nodes

        group, name = self.arguments
        try:
            _check_group(group)
            rows = field_rows(group, name)
        except UnknownNameError as err:
            raise self.error(str(err)) from err
        table = nodes.table(classes=["pbgml-fields"])
        tgroup = nodes.tgroup(cols=3)
        table += tgroup
        for width in (30, 40, 30):
            tgroup += nodes.colspec(colwidth=width)
        head = nodes.thead()
        head += nodes.row("", *(_cell(t, literal=False) for t in ("Field", "Type", "Default")))
        tgroup += head
        body = nodes.tbody()
        for field, tp, default in rows:
            body += nodes.row(
                "",
                _cell(field, literal=True),
                _cell(tp, literal=True),
                _cell(default, literal=default != "required"),
            )
        tgroup += body
        return [table]


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the ``pbgml-catalogue`` directive with Sphinx (needs Sphinx >= 7.4).

    Examples
    --------
    >>> from pbgml import sphinxext
    >>> callable(sphinxext.setup)
    True
    """
    from pbgml._version import __version__

    app.require_sphinx("7.4")
    app.add_directive(DIRECTIVE, CatalogueDirective)
    app.add_directive(FIELDS_DIRECTIVE, FieldsDirective)
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}
