"""Argument checks shared by the layers and models: one message style for all of them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pbgml._errors import did_you_mean
from pbgml.nn._errors import InvalidArgumentError

_NOT_POSITIVE = "{owner}: {key}={value!r} is invalid; expected a positive int."
_NOT_NON_NEGATIVE = "{owner}: {key}={value!r} is invalid; expected an int >= 0."
_NOT_PROBABILITY = "{owner}: {key}={value!r} is invalid; expected a probability in [0, 1)."
_NOT_INT_SEQUENCE = "{owner}: {key}={value!r} is invalid; expected a list of positive ints."
_NOT_A_CHOICE = "{owner}: {key}={value!r} is not {what}; expected {choices}.{hint}"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def positive_int(value: Any, *, owner: str, key: str) -> int:
    """Return ``value`` if it is an int > 0, else raise naming ``owner`` and ``key``."""
    if not _is_int(value) or value <= 0:
        raise InvalidArgumentError(_NOT_POSITIVE.format(owner=owner, key=key, value=value))
    return int(value)


def non_negative_int(value: Any, *, owner: str, key: str) -> int:
    """Return ``value`` if it is an int >= 0, else raise naming ``owner`` and ``key``."""
    if not _is_int(value) or value < 0:
        raise InvalidArgumentError(_NOT_NON_NEGATIVE.format(owner=owner, key=key, value=value))
    return int(value)


def probability(value: Any, *, owner: str, key: str) -> float:
    """Return ``value`` as a float if it is in [0, 1), else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise InvalidArgumentError(_NOT_PROBABILITY.format(owner=owner, key=key, value=value))
    return float(value)


def positive_ints(value: Any, *, owner: str, key: str, allow_empty: bool = True) -> tuple[int, ...]:
    """Return a sequence of positive ints (a YAML list works too) as a tuple."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise InvalidArgumentError(_NOT_INT_SEQUENCE.format(owner=owner, key=key, value=value))
    items = tuple(value)
    if (not items and not allow_empty) or not all(_is_int(v) and v > 0 for v in items):
        shown = list(items) if not isinstance(value, (list, tuple)) else value
        raise InvalidArgumentError(_NOT_INT_SEQUENCE.format(owner=owner, key=key, value=shown))
    return tuple(int(v) for v in items)


def choice(
    value: Any,
    choices: Iterable[str],
    *,
    owner: str,
    key: str,
    what: str,
    allow_none: bool = False,
) -> str | None:
    """Return ``value`` if it is one of ``choices`` (or ``None`` when allowed), else raise."""
    options = list(choices)
    if value is None and allow_none:
        return None
    if isinstance(value, str) and value in options:
        return value
    listed = [repr(c) for c in options] + (["None"] if allow_none else [])
    wording = ", ".join(listed[:-1]) + f" or {listed[-1]}" if len(listed) > 1 else listed[0]
    hint = did_you_mean(value, options) if isinstance(value, str) else ""
    raise InvalidArgumentError(
        _NOT_A_CHOICE.format(
            owner=owner, key=key, value=value, what=what, choices=wording, hint=hint
        )
    )
