"""Exceptions, warnings and the helpers that word their messages.

Every error pbgml raises for bad user input derives from :class:`PbgmlError`, so a
caller can catch them all; the concrete classes also derive from the builtin a
Python user would expect (``KeyError`` for an unknown registry name, ``ValueError``
for a bad config), so existing ``except`` clauses keep working.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from types import ModuleType

__all__ = [
    "ArgumentError",
    "ConfigError",
    "ConfigIssue",
    "MissingExtraError",
    "PbgmlError",
    "PluginWarning",
    "RegistryError",
    "UnknownNameError",
    "closest",
    "did_you_mean",
    "require",
]

#: How similar (difflib ratio) a candidate must be before it is suggested.
SIMILARITY_CUTOFF = 0.6
#: How many choices an error lists at most when there are many.
MAX_CHOICES_SHOWN = 10


class PbgmlError(Exception):
    """Base class of every error pbgml raises on purpose.

    Examples
    --------
    >>> import pbgml
    >>> try:
    ...     pbgml.registry.optimizer.get("adamx")
    ... except pbgml.PbgmlError as err:
    ...     print(type(err).__name__)
    UnknownNameError
    """


class ArgumentError(PbgmlError, ValueError):
    """A component was given an argument it cannot use; ``param`` names the argument.

    The base of the errors pbgml's components raise for bad arguments
    (:class:`pbgml.data.DataError`, :class:`pbgml.nn.InvalidArgumentError`,
    :class:`pbgml.optim.OptimConfigError`, :class:`pbgml.metrics.MetricError`). A
    component knows its own arguments, not where they sit in a config: the config
    layer reads ``param`` (a dotted path below the component, such as
    ``"param_groups.freeze"``) and reports the error at the full key path
    (``optimizer.param_groups.freeze``). No code parses the message.

    Examples
    --------
    >>> from pbgml import ArgumentError
    >>> err = ArgumentError("lr=-1 must be >= 0", param="lr")
    >>> err.param, str(err)
    ('lr', 'lr=-1 must be >= 0')
    """

    def __init__(
        self, message: str, *, param: str | None = None, reason: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        #: What is wrong, without the argument's name (the config layer puts the full
        #: key path in front); the whole message by default.
        self.reason = message if reason is None else reason

    def __str__(self) -> str:
        return self.message


class MissingExtraError(PbgmlError, ImportError):
    """An optional dependency is missing or broken; the message names the extra to install.

    Examples
    --------
    >>> from pbgml import MissingExtraError
    >>> try:
    ...     require("no_such_pkg_xyz", extra="demo", purpose="The demo")
    ... except MissingExtraError as err:
    ...     print(err)
    The demo requires no_such_pkg_xyz: pip install pbgml[demo]
    """


_PACKAGES = {"sklearn": "scikit-learn", "PIL": "Pillow"}


def require(module: str, *, extra: str | None, purpose: str) -> ModuleType:
    """Import an optional module, or raise :class:`MissingExtraError` naming the extra.

    A module that is installed but fails to import with any exception (a torchvision
    built for another torch raises ``RuntimeError``) is reported the same way, with
    the error it raised.

    Examples
    --------
    >>> require("json", extra=None, purpose="Reading JSON").__name__
    'json'
    """
    top = module.partition(".")[0]
    package = _PACKAGES.get(top, top)
    install = f"pbgml[{extra}]" if extra else package
    try:
        return importlib.import_module(module)
    except ImportError as err:
        if isinstance(err, MissingExtraError):
            raise
        raise MissingExtraError(f"{purpose} requires {package}: pip install {install}") from err
    except Exception as err:
        raise MissingExtraError(
            f"{purpose} requires {package}, which is installed but failed to import "
            f"({type(err).__name__}: {err}); reinstall it to match torch: "
            f"pip install --force-reinstall {install}"
        ) from err


class RegistryError(PbgmlError, ValueError):
    """A registration was refused (a taken name, a bad alias, a bad target).

    Examples
    --------
    >>> from pbgml import Registry, RegistryError
    >>> reg = Registry("demo")
    >>> _ = reg.register("f")(len)
    >>> try:
    ...     reg.register("f")(abs)
    ... except RegistryError as err:
    ...     print(str(err).splitlines()[0])  # doctest: +ELLIPSIS
    demo 'f' is already registered (defined at builtins.len, registered at ...).
    """


class UnknownNameError(PbgmlError, KeyError):
    """A registry was asked for a name it does not hold.

    The message lists the choices and, when one is close enough, a did-you-mean.

    Examples
    --------
    >>> import pbgml
    >>> try:
    ...     pbgml.registry.optimizer.get("adamx")
    ... except pbgml.UnknownNameError as err:
    ...     print(err.suggestion)
    adamw
    """

    def __init__(self, message: str, *, name: str, group: str, suggestion: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.name = name
        self.group = group
        self.suggestion = suggestion

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.message


class PluginWarning(UserWarning):
    """A third-party plugin could not be loaded; the rest of pbgml keeps working.

    Examples
    --------
    >>> import warnings
    >>> from pbgml import PluginWarning
    >>> issubclass(PluginWarning, UserWarning)
    True
    """


def closest(
    name: str, choices: Iterable[str], n: int = 1, cutoff: float = SIMILARITY_CUTOFF
) -> list[str]:
    """Return the ``n`` choices closest to ``name`` above the similarity cut-off.

    The comparison ignores case, so ``AdamW`` finds ``adamw``.

    Examples
    --------
    >>> closest("adamx", ["adam", "adamax", "adamw", "sgd"], n=2)
    ['adamw', 'adamax']
    >>> closest("zzz", ["adam", "sgd"])
    []
    """
    lowered: dict[str, str] = {}
    for choice in choices:
        # a short name ('adamw') wins over a class name that differs in case ('AdamW')
        if choice == choice.lower() or choice.lower() not in lowered:
            lowered[choice.lower()] = choice
    key = name.lower()
    hits = difflib.get_close_matches(key, list(lowered), n=max(n, 5), cutoff=cutoff)
    # rank by edit distance, then by length difference (a typo replaces more often
    # than it drops a letter): 'adamx' -> 'adamw' before 'adamax'
    hits.sort(key=lambda h: (_edit_distance(key, h), abs(len(h) - len(key))))
    return [lowered[h] for h in hits[:n]]


def _edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choice, or ``""`` if none is close.

    Examples
    --------
    >>> did_you_mean("lrr", ["lr", "momentum"])
    " Did you mean 'lr'?"
    >>> did_you_mean("banana", ["lr", "momentum"])
    ''
    """
    hits = closest(name, choices)
    return f" Did you mean {hits[0]!r}?" if hits else ""


def format_choices(name: str, choices: Iterable[str]) -> str:
    """Word the list of valid choices: all of them when few, else the closest ten.

    Examples
    --------
    >>> format_choices("x", ["b", "a"])
    "Choices: 'a', 'b'."
    """
    ordered = sorted(set(choices))
    if not ordered:
        return "Nothing is registered here yet."
    if len(ordered) <= MAX_CHOICES_SHOWN:
        return "Choices: " + ", ".join(repr(c) for c in ordered) + "."
    ranked = difflib.get_close_matches(name.lower(), ordered, n=MAX_CHOICES_SHOWN, cutoff=0.0)
    shown = ", ".join(repr(c) for c in sorted(ranked))
    return f"Closest of {len(ordered)} choices: {shown} (list them all with .names())."


@dataclass(frozen=True)
class ConfigIssue:
    """One problem found in a config: a structured record for tools.

    Attributes
    ----------
    key
        The full key path (``"optimizer.lr"``); ``""`` for the root.
    message
        What is wrong and what was expected, with a did-you-mean when one fits.
    kind
        One of ``unknown_key``, ``missing``, ``type``, ``unknown_name``,
        ``not_allowed``, ``not_found``, ``import_error``, ``missing_extra``,
        ``partial``, ``interpolation``, ``syntax``, ``value`` (a value the
        component's own rules refuse: ``batch_size: 0``).
    suggestion
        The closest valid name when there is one, else ``None``.
    source
        The YAML file the config came from, when it came from one.
    line
        The line (1-based) in ``source`` where the key is set, when known.

    Examples
    --------
    >>> from pbgml import ConfigIssue
    >>> issue = ConfigIssue("optimizer.lrr", "unknown key", "unknown_key", "lr", "exp.yaml", 4)
    >>> str(issue)
    'optimizer.lrr: unknown key (exp.yaml, line 4)'
    """

    key: str
    message: str
    kind: str
    suggestion: str | None = None
    source: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = ""
        if self.source and self.line:
            where = f" ({self.source}, line {self.line})"
        elif self.line:
            where = f" (line {self.line})"
        return f"{self.key or '<root>'}: {self.message}{where}"


class ConfigError(PbgmlError, ValueError):
    """A config has problems: every one of them, each on its own line with its key path.

    ``errors`` holds them as :class:`ConfigIssue` records.

    Examples
    --------
    >>> import pbgml
    >>> try:
    ...     pbgml.check({"_target_": "torch.optim.SGD", "_partial_": True, "lrr": 0.1})
    ... except pbgml.ConfigError as err:
    ...     print(err)
    ...     print(err.errors[0].suggestion)
    1 problem in the config
      lrr: unknown key for torch.optim.SGD; did you mean 'lr'?
    lr
    """

    def __init__(self, errors: Iterable[ConfigIssue], *, source: str | None = None) -> None:
        self.errors: tuple[ConfigIssue, ...] = tuple(errors)
        self.source = source
        count = len(self.errors)
        where = source if source else "the config"
        head = f"{count} problem{'s' if count != 1 else ''} in {where}"
        lines = [head, *(f"  {issue}" for issue in self.errors)]
        super().__init__("\n".join(lines))
