"""The DataLoader settings of every ready data module, defined once.

:class:`LoaderSettings` lists the settings (name, type, default) that every data
factory (``cifar10``, ``digits``, ...) passes on to :class:`~pbgml.data.DataModule`.
The factories take them as ``**loader`` and :func:`takes_loader_settings` gives each
one a full signature, so that ``inspect.signature(cifar10)`` (and therefore
``pbgml.check``, hydra-zen and Sphinx) sees every setting as a flat keyword
parameter; the typed data configs in :mod:`pbgml.configs` inherit the same fields.
:class:`LoaderKwargs` is the static view of ``**loader`` for type checkers
(PEP 692); a test keeps it equal to :class:`LoaderSettings`.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from typing_extensions import TypedDict

from pbgml._errors import did_you_mean
from pbgml._validate import validates
from pbgml.data._datasets import check_int
from pbgml.data._errors import DataError

__all__ = [
    "LOADER_RULES",
    "LOADER_SETTINGS",
    "LoaderKwargs",
    "LoaderSettings",
    "SPLIT_RULES",
    "loader_parameters",
    "takes_loader_settings",
]

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(kw_only=True)
class LoaderSettings:
    """The loader settings of a :class:`~pbgml.data.DataModule` (the single definition).

    Every data factory takes them as flat keyword arguments, and every typed
    data-module config (``CIFAR10DataConf``, ...) has them as fields, with these
    types and defaults; a test checks that they are also
    :class:`~pbgml.data.DataModule`'s keyword parameters, whose documentation says
    what each one does (``seed`` seeds the split and the shuffling, ``batch_size``
    is the training batch size, ``eval_batch_size`` defaults to it, ...).

    Examples
    --------
    >>> from pbgml.data._settings import LOADER_SETTINGS, LoaderSettings
    >>> LOADER_SETTINGS[:3]
    ('seed', 'batch_size', 'eval_batch_size')
    >>> LoaderSettings(batch_size=4).batch_size
    4
    """

    seed: int = 0
    batch_size: int = 64
    eval_batch_size: int | None = None
    num_workers: int = 0
    pin_memory: bool | None = None
    persistent_workers: bool = False
    drop_last: bool = False
    shuffle: bool = True


class LoaderKwargs(TypedDict, total=False):
    """``**loader`` of a data factory, for type checkers: :class:`LoaderSettings` as keywords.

    (A type checker cannot derive a ``TypedDict`` from a dataclass; the test suite
    checks that both name the same settings with the same types.)
    """

    seed: int
    batch_size: int
    eval_batch_size: int | None
    num_workers: int
    pin_memory: bool | None
    persistent_workers: bool
    drop_last: bool
    shuffle: bool


_FIELDS = dataclasses.fields(LoaderSettings)
_HINTS = typing.get_type_hints(LoaderSettings)
LOADER_SETTINGS: tuple[str, ...] = tuple(f.name for f in _FIELDS)
"""The names of the loader settings, in order."""
_DEFAULTS: dict[str, Any] = {f.name: f.default for f in _FIELDS}


def loader_parameters() -> list[inspect.Parameter]:
    """The loader settings as keyword-only parameters, with annotations and defaults.

    The annotations are spelled as in the source (strings, as
    ``from __future__ import annotations`` leaves every other parameter).

    Examples
    --------
    >>> from pbgml.data._settings import loader_parameters
    >>> str(loader_parameters()[1])
    "batch_size: 'int' = 64"
    """
    return [
        inspect.Parameter(
            f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=f.type
        )
        for f in _FIELDS
    ]


def _batch_size(value: object) -> None:
    check_int("batch_size", value)


def _eval_batch_size(value: object) -> None:
    if value is not None:
        check_int("eval_batch_size", value)


def _num_workers(value: object) -> None:
    check_int("num_workers", value, minimum=0)


def _split(param: str) -> Callable[[object], None]:
    def rule(value: object) -> None:
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise DataError(
                f"{param}={value!r} must be a fraction in (0, 1) or a count of samples",
                param=param,
            )
        if not (0 < value < 1 or (value >= 1 and float(value).is_integer())):
            raise DataError(
                f"{param}={value!r} must be a fraction in (0, 1) or a whole count >= 1",
                param=param,
            )

    return rule


#: The rules of the loader settings and the split, which :func:`pbgml.check` reuses.
LOADER_RULES = {
    "batch_size": _batch_size,
    "eval_batch_size": _eval_batch_size,
    "num_workers": _num_workers,
}
SPLIT_RULES = {"val_split": _split("val_split"), "test_split": _split("test_split")}


def _unexpected(name: str, keyword: str, accepted: list[str]) -> TypeError:
    return TypeError(
        f"{name}() got an unexpected keyword argument {keyword!r}."
        + did_you_mean(keyword, accepted)
    )


def takes_loader_settings(factory: Callable[P, R]) -> Callable[P, R]:
    """Give a data factory the loader settings as flat keyword parameters.

    ``factory`` ends with ``**loader: Unpack[LoaderKwargs]``. The returned function
    has the factory's own parameters followed by every loader setting (keyword-only,
    annotated, with its default) as its ``__signature__`` and ``__annotations__``;
    it rejects unknown keywords (with a did-you-mean) and calls the factory with
    every loader setting filled in, so ``loader["seed"]`` is always there.

    Examples
    --------
    >>> import inspect
    >>> from typing_extensions import Unpack
    >>> from pbgml.data._settings import LoaderKwargs, takes_loader_settings
    >>> @takes_loader_settings
    ... def make(root: str, **loader: Unpack[LoaderKwargs]) -> dict[str, object]:
    ...     return dict(loader)
    >>> list(inspect.signature(make).parameters)[:3]
    ['root', 'seed', 'batch_size']
    >>> make("data", batch_size=4)["batch_size"], make("data")["seed"]
    (4, 0)
    >>> make("data", batch_sise=4)
    Traceback (most recent call last):
    ...
    TypeError: make() got an unexpected keyword argument 'batch_sise'. Did you mean 'batch_size'?
    """
    signature = inspect.signature(factory)
    own = list(signature.parameters.values())
    if not own or own[-1].kind is not inspect.Parameter.VAR_KEYWORD:
        raise TypeError(f"{factory.__qualname__} must end with **loader: Unpack[LoaderKwargs]")
    taken = sorted(set(LOADER_SETTINGS) & {p.name for p in own})
    if taken:
        raise TypeError(f"{factory.__qualname__} declares loader settings itself: {taken}")
    own_kwargs = own.pop()
    params = own + loader_parameters()
    accepted = [p.name for p in params if p.kind is not inspect.Parameter.POSITIONAL_ONLY]
    keywords = frozenset(accepted)
    name = factory.__name__

    @functools.wraps(factory)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        for keyword in kwargs:
            if keyword not in keywords:
                raise _unexpected(name, keyword, accepted)
        return factory(*args, **{**_DEFAULTS, **kwargs})

    hints = {k: v for k, v in factory.__annotations__.items() if k != own_kwargs.name}
    hints.update(_HINTS)  # resolved: typing.get_type_hints(wrapper) sees every setting
    wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = hints
    # the rules DataModule applies to these arguments, for pbgml.check to reuse
    rules = {k: v for k, v in {**LOADER_RULES, **SPLIT_RULES}.items() if k in keywords}
    return validates(**rules)(wrapper)
