"""Text for the terminal: docstrings without reST markup, and each parameter's doc.

Parameter docs come from the target's docstrings (the class's and its ``__init__``'s,
up its bases): numpydoc ``Parameters`` sections, and Google-style ``Args:`` sections
as torch writes them.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

__all__ = ["param_docs", "plain", "shorten"]

_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`~?([^`<]*?)(?:\s*<([^>]*)>)?`")
_LITERAL = re.compile(r"``([^`]+)``")
_SINGLE = re.compile(r"(?<![`\w])`([^`]+)`(?!`)")
_NUMPY_HEADER = re.compile(r"^(Parameters|Other Parameters)\s*$")
_DASHES = re.compile(r"^-{3,}\s*$")
_GOOGLE_HEADER = re.compile(
    r"^(\s*)(Args|Arguments|Parameters|Keyword Args|Keyword Arguments):\s*$"
)
_GOOGLE_ITEM = re.compile(r"^\*{0,2}(\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$")


def _role(match: re.Match[str]) -> str:
    whole = match.group(0)
    text = match.group(1).strip() or (match.group(2) or "")
    if "~" in whole.split("`")[1][:1]:
        return text.rpartition(".")[2]
    return text


def plain(text: str) -> str:
    """Drop reST markup and join lines: ``:class:`~torch.optim.AdamW``` becomes ``AdamW``.

    Examples
    --------
    >>> from pbgml.cli._tools_text import plain
    >>> plain(":class:`~torch.optim.AdamW` with ``param_groups``,\\n  see `x`.")
    'AdamW with param_groups, see x.'
    """
    text = _ROLE.sub(_role, text)
    text = _LITERAL.sub(r"\1", text)
    text = _SINGLE.sub(r"\1", text)
    return " ".join(text.split())


def shorten(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` characters, ending with ``...`` when cut.

    Examples
    --------
    >>> from pbgml.cli._tools_text import shorten
    >>> shorten("abcdefghij", 8)
    'abcde...'
    """
    return text if len(text) <= width else text[: max(width - 3, 0)].rstrip() + "..."


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _first_paragraph(lines: list[str]) -> str:
    out: list[str] = []
    for line in lines:
        if not line.strip():
            if out:
                break
            continue
        out.append(line.strip())
    return plain(" ".join(out))


def _numpy(lines: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    i = 0
    while i < len(lines) - 1:
        if not (_NUMPY_HEADER.match(lines[i].strip()) and _DASHES.match(lines[i + 1].strip())):
            i += 1
            continue
        base = _indent(lines[i])
        i += 2
        name_lines: list[tuple[list[str], list[str]]] = []
        while i < len(lines):
            line = lines[i]
            if i + 1 < len(lines) and line.strip() and _DASHES.match(lines[i + 1].strip()):
                break  # the next section
            if line.strip() and _indent(line) <= base:
                names = [n.strip().lstrip("*") for n in line.split(" : ")[0].split(",")]
                name_lines.append((names, []))
            elif name_lines:
                name_lines[-1][1].append(line)
            i += 1
        for names, body in name_lines:
            doc = _first_paragraph(body)
            for name in names:
                if name and doc:
                    found.setdefault(name, doc)
    return found


def _google(lines: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    i = 0
    while i < len(lines):
        header = _GOOGLE_HEADER.match(lines[i])
        i += 1
        if not header:
            continue
        base = len(header.group(1))
        item_indent: int | None = None
        current: tuple[str, list[str]] | None = None
        items: list[tuple[str, list[str]]] = []
        while i < len(lines):
            line = lines[i]
            if line.strip() and _indent(line) <= base:
                break
            if line.strip():
                if item_indent is None:
                    item_indent = _indent(line)
                match = _GOOGLE_ITEM.match(line.strip())
                if _indent(line) == item_indent and match:
                    current = (match.group(1), [match.group(3)])
                    items.append(current)
                elif current is not None:
                    current[1].append(line)
            elif current is not None:
                current[1].append(line)
            i += 1
        for name, body in items:
            doc = _first_paragraph(body)
            if doc:
                found.setdefault(name, doc)
    return found


def _docstrings(target: Callable[..., Any]) -> list[str]:
    owners: list[Any] = [target]
    if isinstance(target, type):
        owners = [
            klass
            for klass in target.__mro__
            if klass.__module__ not in ("builtins", "typing", "abc")
            and klass.__name__ not in ("Module", "Generic", "Protocol")
        ]
        owners += [klass.__dict__.get("__init__") for klass in list(owners)]
    docs = []
    for owner in owners:
        doc = (
            owner.__dict__.get("__doc__")
            if isinstance(owner, type)
            else getattr(owner, "__doc__", None)
        )
        if isinstance(doc, str) and doc.strip():
            docs.append(inspect.cleandoc(doc))
    return docs


def param_docs(target: Callable[..., Any]) -> dict[str, str]:
    """Each parameter's doc (first paragraph, plain text) from the target's docstrings.

    Examples
    --------
    >>> from pbgml.cli._tools_text import param_docs
    >>> from pbgml.nn import MLP
    >>> param_docs(MLP)["hidden"]
    'The width of each hidden layer; () makes a single linear layer.'
    >>> import torch
    >>> param_docs(torch.optim.SGD)["lr"]
    'learning rate (default: 1e-3)'
    """
    found: dict[str, str] = {}
    for doc in _docstrings(target):
        lines = doc.splitlines()
        for name, text in {**_google(lines), **_numpy(lines)}.items():
            found.setdefault(name, text)
    return found
