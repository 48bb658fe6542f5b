"""Value rules a component documents, declared once and reused by :func:`pbgml.check`.

A component checks its arguments when it is built (``DataModule(batch_size=0)`` raises
a :class:`~pbgml.ArgumentError`). :func:`validates` attaches the same rule functions to
the component, so that ``check`` can apply them to a config's literal values before
anything is built: the rule lives once, in the component.

Examples
--------
>>> from pbgml._validate import validates, validators_of
>>> def positive(value):
...     if value <= 0:
...         raise ValueError("must be > 0")
>>> @validates(width=positive)
... def layer(width=1): ...
>>> sorted(validators_of(layer))
['width']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

__all__ = ["Validator", "validates", "validators_of"]

#: A rule for one argument: raises (an :class:`~pbgml.ArgumentError`) on a bad value.
Validator = Callable[[Any], object]
_T = TypeVar("_T")


def validates(**rules: Validator) -> Callable[[_T], _T]:
    """Attach argument rules to a component (merged with any it has already)."""

    def mark(obj: _T) -> _T:
        merged = {**validators_of(obj), **rules}
        obj.__pbgml_validators__ = merged  # type: ignore[attr-defined]
        return obj

    return mark


def validators_of(obj: object) -> Mapping[str, Validator]:
    """The argument rules a component declared (none: an empty mapping)."""
    found = getattr(obj, "__pbgml_validators__", None)
    return found if isinstance(found, Mapping) else {}
