"""What an interpolation may do before it is resolved: which resolvers, how much expansion.

OmegaConf resolves ``${...}`` when a config is read. Two things are checked first, on
the unresolved tree, so a hostile file is refused fast with a :class:`~pbgml.ConfigError`:

- **the resolvers it calls**: only :data:`SAFE_RESOLVERS`, plus those the caller
  enables in code (``resolvers=["oc.env"]``). A resolver that another library
  registered in the same process (an ``eval``, say) is refused, never called;
- **how far it expands**: an interpolation that copies a node copies all of it, so a
  few hundred bytes of nested ``${...}`` lists can expand to billions of values (the
  "billion laughs" of interpolation). The expanded size is estimated, memoized per
  node, and bounded by :data:`MAX_EXPANDED`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["MAX_EXPANDED", "SAFE_RESOLVERS", "escape", "guard", "restricted"]

#: Resolvers any config may call: pure functions of the config itself.
SAFE_RESOLVERS = frozenset(
    {
        "oc.select",
        "oc.dict.keys",
        "oc.dict.values",
        "oc.create",
        "oc.decode",
        "oc.deprecated",
        "hydra",
        "now",
    }
)
#: How many values (and characters of interpolated strings) a config may expand to.
MAX_EXPANDED = 1_000_000

_RESOLVER = re.compile(r"(?<!\\)\$\{\s*([A-Za-z_][\w.\-]*)\s*:")
_REFERENCE = re.compile(r"(?<!\\)\$\{\s*([A-Za-z_.][\w.\-\[\]]*)\s*\}")


def _strings(value: Any, path: str = "") -> Iterable[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}.{i}" if path else str(i))


def _lookup(root: Any, dotted: str) -> Any:
    node = root
    for part in dotted.strip(".").split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _expanded(root: Any, limit: int) -> int:
    """The number of values plus interpolated characters ``root`` resolves to (capped)."""
    sizes: dict[int, int] = {}

    def size(node: Any) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        sizes[id(node)] = 1  # a reference cycle counts once (OmegaConf refuses it)
        if isinstance(node, dict):
            total = 1 + sum(size(v) for v in node.values())
        elif isinstance(node, list):
            total = 1 + sum(size(v) for v in node)
        elif isinstance(node, str) and "${" in node:
            total = len(node)
            for ref in _REFERENCE.findall(node):
                target = _lookup(root, ref)
                if target is not None and target is not node:
                    total += size(target)
                if total > limit:
                    break
        else:
            total = 1
        total = min(total, limit + 1)
        if not isinstance(node, str | int | float | bool) and node is not None:
            sizes[id(node)] = total
        else:
            sizes.pop(id(node), None)
        return total

    return size(root)


def guard(plain: Any, resolvers: Iterable[str] = ()) -> list[tuple[str, str]]:
    """The problems of an unresolved tree's interpolations, as ``(key, message)`` pairs.

    Examples
    --------
    >>> from pbgml._config._interpolation import guard
    >>> guard({"a": 1, "b": "${a}"})
    []
    >>> guard({"home": "${oc.env:HOME}"})[0][1][:52]
    "the resolver 'oc.env' is not allowed here (resolvers"
    >>> guard({"home": "${oc.env:HOME}"}, resolvers=["oc.env"])
    []
    """
    allowed = SAFE_RESOLVERS | frozenset(resolvers)
    problems: list[tuple[str, str]] = []
    any_interpolation = False
    for key, text in _strings(plain):
        if "${" not in text:
            continue
        any_interpolation = True
        for name in _RESOLVER.findall(text):
            if name not in allowed:
                hint = (
                    " Reading the environment is off unless enabled in code: "
                    "pbgml.check(cfg, resolvers=['oc.env'])."
                    if name == "oc.env"
                    else ""
                )
                problems.append(
                    (
                        key,
                        f"the resolver {name!r} is not allowed here (resolvers a config may "
                        f"call: {', '.join(sorted(allowed))}).{hint}",
                    )
                )
    if any_interpolation and not problems:
        size = _expanded(plain, MAX_EXPANDED)
        if size > MAX_EXPANDED:
            problems.append(
                (
                    "",
                    f"interpolations expand to more than {MAX_EXPANDED} values; refusing to "
                    "resolve them",
                )
            )
    return problems


def _no_nested(wrapped: Any, name: str) -> Any:
    """``oc.decode`` / ``oc.create`` read their argument as a config of its own: one that
    holds interpolations could call any resolver, or expand without bound. Refused."""

    def resolver(*args: Any, **kwargs: Any) -> Any:
        call_args = args[3] if len(args) > 3 else kwargs.get("args", ())
        if any(_holds_interpolation(a) for a in call_args):
            raise ValueError(
                f"{name}: an argument that holds an interpolation is refused (it would be "
                "resolved without pbgml's checks)"
            )
        return wrapped(*args, **kwargs)

    return resolver


def _holds_interpolation(value: Any) -> bool:
    if isinstance(value, str):
        return "${" in value
    if isinstance(value, dict):
        return any(_holds_interpolation(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_holds_interpolation(v) for v in value)
    return False


@contextmanager
def restricted(resolvers: Iterable[str] = ()) -> Iterator[None]:
    """Resolve with only the allowed resolvers registered (the enforcement).

    :func:`guard` words a clear error for what it can see in the text; this is what
    makes the policy hold whatever the text hides (a resolver name built from another
    interpolation, an escape, a string ``oc.decode`` resolves itself): while a config
    is resolved, OmegaConf's table of resolvers holds the allowed ones only.
    """
    from omegaconf.basecontainer import BaseContainer

    allowed = SAFE_RESOLVERS | frozenset(resolvers)
    saved = BaseContainer._resolvers
    table = {name: fn for name, fn in saved.items() if name in allowed}
    for name in ("oc.decode", "oc.create"):
        if name in table:
            table[name] = _no_nested(table[name], name)
    BaseContainer._resolvers = table
    try:
        yield
    finally:
        BaseContainer._resolvers = saved


def escape(value: Any) -> Any:
    """A resolved tree with every ``${`` escaped, so that an OmegaConf node made of it
    holds text, never a live interpolation that would resolve later, unchecked."""
    if isinstance(value, str):
        return value.replace("${", "\\${") if "${" in value else value
    if isinstance(value, dict):
        return {k: escape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escape(v) for v in value]
    return value
