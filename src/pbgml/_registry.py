"""The generic, typed :class:`Registry` and its frozen :class:`Entry` records."""

from __future__ import annotations

import fnmatch
import importlib
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, overload

from pbgml import _plugins
from pbgml._errors import RegistryError, UnknownNameError, closest, format_choices

__all__ = ["Entry", "Registry"]

R = TypeVar("R")
_C = TypeVar("_C", bound=Callable[..., Any])

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")

_BAD_NAME = (
    "Invalid {group} name {name!r}: a name starts with a letter or '_' and holds only "
    "letters, digits, '_' and '-' (it becomes a Hydra option such as '{group}=my_name')."
)
_TAKEN = (
    "{group} {name!r} is already registered (defined at {origin}).\n"
    "Choose another name, or pass overwrite=True to replace it on purpose."
)
_NOT_CALLABLE = "Cannot register {value!r} as {group} {name!r}: a target must be callable."
_PLUGIN_FAILED = (
    "The {group} {name!r} comes from the plugin {dist!r} (entry point {spec!r}), "
    "which failed to load: {error}"
)


@dataclass(frozen=True)
class Entry(Generic[R]):
    """One registered component: a frozen record.

    Attributes
    ----------
    name
        The canonical name (``"adamw"``), used as the Hydra option ``optimizer=adamw``.
    group
        The registry's group (``"optimizer"``).
    target
        The callable that builds the component (a class or a factory function).
    aliases
        Other names that resolve to this entry (``("AdamW",)``).
    config
        The explicit structured-config class given at registration, or ``None`` when
        the config is generated from the target's signature (see
        :func:`pbgml.configs.config_for`).
    doc
        The first line of the target's docstring.
    origin
        Where the target is defined, as ``module.qualname``.
    registered_at
        Where the registration happened (``file:line``), or the plugin distribution.

    Examples
    --------
    >>> import pbgml
    >>> entry = pbgml.registry.optimizer.entry("AdamW")
    >>> entry.name, entry.aliases, entry.origin
    ('adamw', ('AdamW',), 'pbgml.optim._torch.AdamW')
    """

    name: str
    group: str
    target: Callable[..., R]
    aliases: tuple[str, ...] = ()
    config: type[Any] | None = None
    doc: str = ""
    origin: str = ""
    registered_at: str = ""


@dataclass(frozen=True)
class _Pending:
    """A plugin entry found in package metadata and not imported yet."""

    name: str
    spec: str  # "module:attr"
    dist: str

    @property
    def origin(self) -> str:
        return self.spec.replace(":", ".")


def _origin(obj: object) -> str:
    module = getattr(obj, "__module__", None) or "?"
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or repr(obj)
    return f"{module}.{qualname}"


def _first_doc_line(obj: object) -> str:
    doc = getattr(obj, "__doc__", None)
    if not isinstance(doc, str):
        return ""
    for line in doc.strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


def _caller(depth: int) -> str:
    try:
        frame = sys._getframe(depth)
    except ValueError:  # pragma: no cover - shallow stack
        return "?"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


#: A loader: a function called with the registry, or its ``"module:function"`` path
#: (imported only when the registry is first used).
Loader = Callable[["Registry[Any]"], None] | str


def _load_spec(spec: str) -> Callable[[Registry[Any]], None]:
    module, _, attr = spec.partition(":")
    fn: Callable[[Registry[Any]], None] = getattr(importlib.import_module(module), attr)
    return fn


@dataclass
class _State:
    entries: dict[str, Entry[Any] | _Pending] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    loaded: bool = False
    loading: bool = False
    version: int = 0  # bumped on every change, so indexes over entries can be cached
    by_target: dict[int, str] = field(default_factory=dict)
    by_target_version: int = -1
    # objects accepted as targets of an entry whose own target extends them
    # (torch.optim.AdamW for adamw, whose target is pbgml.optim.AdamW): id -> (obj, name)
    equivalents: dict[int, tuple[object, str]] = field(default_factory=dict)


class Registry(Generic[R]):
    """A named collection of components that build objects of type ``R``.

    A registry maps names (and aliases) to targets: classes or factory functions.
    Every entry can be listed, looked up and built; the config layer turns an entry
    into a structured config (:func:`pbgml.configs.config_for`) and each of pbgml's
    registries into a Hydra config group (:func:`pbgml.hydra.store_registries`).
    It is the allowlist :func:`pbgml.instantiate` checks targets against, so it never
    falls back to importing an arbitrary dotted path.

    Parameters
    ----------
    group
        The group's name, also the Hydra config group (``"optimizer"``).
    partial
        Whether configs of this group are partial (``_partial_: true``): the
        component is built later with arguments only the pipeline has (an
        optimizer's ``params``, a scheduler's ``optimizer``).
    exclude
        Parameters left out of generated configs because they are supplied later.
    loaders
        Functions run once, on first use, that fill the registry (lazy catalogues),
        or their ``"module:function"`` paths, imported only then.
    meta
        Config keys of this group, with their defaults, that are not arguments of the
        target but settings for pbgml (an optimizer's ``param_groups``, a scheduler's
        ``interval``); generated configs carry them as fields.
        :func:`pbgml.instantiate` takes them out before building the target and
        hands them, with the built object, to ``finalize``.
    finalize
        ``"module:function"`` called as ``function(obj, **meta)`` after a config of
        this group is built; its result is what instantiation returns.
    homes
        Module prefixes of the objects the loaders register (``"torch.optim"``): a
        dotted ``_target_`` under one of them is looked up in this registry.
    plugins
        Whether third-party ``pbgml.plugins`` entry points of this group are added
        (pbgml's own registries; not a registry of the user's own).

    Examples
    --------
    >>> from pbgml import Registry
    >>> activations: Registry[object] = Registry("activation")
    >>> @activations.register("square", aliases=["sq"])
    ... def square(x: float) -> float:
    ...     return x * x
    >>> activations.build("sq", x=3.0)
    9.0
    >>> activations.names()
    ['square']
    """

    def __init__(
        self,
        group: str,
        *,
        partial: bool = False,
        exclude: Sequence[str] = (),
        loaders: Sequence[Loader] = (),
        meta: Mapping[str, Any] | None = None,
        finalize: str | None = None,
        homes: Sequence[str] = (),
        plugins: bool = False,
    ) -> None:
        self.group = group
        self.partial = partial
        self.exclude: tuple[str, ...] = tuple(exclude)
        self.meta: dict[str, Any] = dict(meta or {})
        self.finalize = finalize
        self.homes: tuple[str, ...] = tuple(homes)
        self._loaders: tuple[Loader, ...] = tuple(loaders)
        self._plugins = plugins
        self._state = _State()

    def __repr__(self) -> str:
        return f"Registry({self.group!r})"

    # -- loading ---------------------------------------------------------------
    def _ensure_loaded(self) -> None:
        state = self._state
        if state.loaded:
            return
        state.loaded = True
        state.loading = True
        try:
            for loader in self._loaders:
                (_load_spec(loader) if isinstance(loader, str) else loader)(self)
        finally:
            state.loading = False
        if self._plugins:
            for name, spec, dist in _plugins.lazy_entries(self.group):
                problem = self._add_pending(name, spec, dist)
                if problem:
                    _plugins.warn(dist, f"{self.group}.{name} = {spec}", problem)
            _plugins.run_eager_hooks()

    @property
    def loaded(self) -> bool:
        """Whether the loaders have run (the registry was used).

        Examples
        --------
        >>> from pbgml import Registry
        >>> reg: Registry[object] = Registry("demo", loaders=["pbgml._torch_catalog:torch_optimizers"])
        >>> reg.loaded
        False
        >>> "sgd" in reg, reg.loaded
        (True, True)
        """
        return self._state.loaded

    # -- registration ----------------------------------------------------------
    @overload
    def register(
        self,
        target: _C,
        /,
        *,
        name: str | None = None,
        aliases: Iterable[str] = (),
        config: type[Any] | None = None,
        overwrite: bool = False,
        doc: str | None = None,
    ) -> _C: ...

    @overload
    def register(
        self,
        name: str | None = None,
        /,
        *,
        aliases: Iterable[str] = (),
        config: type[Any] | None = None,
        overwrite: bool = False,
        doc: str | None = None,
    ) -> Callable[[_C], _C]: ...

    @overload
    def register(
        self,
        *,
        name: str,
        aliases: Iterable[str] = (),
        config: type[Any] | None = None,
        overwrite: bool = False,
        doc: str | None = None,
    ) -> Callable[[_C], _C]: ...

    def register(
        self,
        *args: Any,
        name: str | None = None,
        aliases: Iterable[str] = (),
        config: type[Any] | None = None,
        overwrite: bool = False,
        doc: str | None = None,
    ) -> Any:
        """Register a component, as a decorator or as a plain call.

        The decorator returns the decorated object unchanged, so its type is kept
        for mypy. A name that is taken raises :class:`~pbgml.RegistryError` naming
        where the existing entry was defined, unless ``overwrite=True``.

        Parameters
        ----------
        *args
            The class or function to register, or the name to register it under
            (``register("focal")``); omit both to get a decorator.
        name
            The name to register under; defaults to the target's ``__name__``.
        aliases
            Other names that resolve to the same entry.
        config
            An explicit structured-config class for the entry (its fields typed for
            mypy); by default one is generated from the target's signature.
        overwrite
            Replace an existing entry of the same name instead of raising.
        doc
            A one-line description; defaults to the first line of the docstring.

        Returns
        -------
        object
            The target itself, or a decorator that registers and returns it.

        Examples
        --------
        >>> import torch
        >>> from pbgml import Registry
        >>> losses: Registry[torch.nn.Module] = Registry("loss")
        >>> @losses.register("focal")
        ... class FocalLoss(torch.nn.Module):
        ...     '''Focal loss for imbalanced classes.'''
        ...     def __init__(self, gamma: float = 2.0) -> None:
        ...         super().__init__()
        ...         self.gamma = gamma
        >>> losses.entry("focal").doc
        'Focal loss for imbalanced classes.'
        >>> _ = losses.register(torch.nn.L1Loss, name="l1", aliases=["L1Loss"])
        >>> losses.names()
        ['focal', 'l1']
        """
        if len(args) > 1:
            raise TypeError(f"register() takes one positional argument, got {len(args)}")
        target = args[0] if args else None
        if isinstance(target, str):  # register("name") / register("name", aliases=...)
            if name is not None:
                raise TypeError("register() got the name twice (positionally and as name=)")
            name, target = target, None
        where = _caller(2)
        options = (name, tuple(aliases), config, overwrite, doc)
        if target is None:

            def decorator(obj: _C) -> _C:
                self._add(obj, *options, registered_at=where)
                return obj

            return decorator
        self._add(target, *options, registered_at=where)
        return target

    def _add(
        self,
        target: object,
        name: str | None,
        aliases: tuple[str, ...],
        config: type[Any] | None,
        overwrite: bool,
        doc: str | None,
        *,
        registered_at: str,
    ) -> None:
        if name is None:
            name = getattr(target, "__name__", None)
            if not isinstance(name, str):
                raise RegistryError(
                    f"Cannot register {target!r} in {self.group!r} without a name: pass name='...'."
                )
        if not callable(target):
            raise RegistryError(_NOT_CALLABLE.format(value=target, group=self.group, name=name))
        for candidate in (name, *aliases):
            if not _NAME_RE.match(candidate):
                raise RegistryError(_BAD_NAME.format(group=self.group, name=candidate))
        self._ensure_loaded()
        state = self._state
        entry: Entry[Any] = Entry(
            name=name,
            group=self.group,
            target=target,
            aliases=aliases,
            config=config,
            doc=doc if doc is not None else _first_doc_line(target),
            origin=_origin(target),
            registered_at=registered_at,
        )
        clashes = {c for c in (name, *aliases) if self._taken_by(c) not in (None, name)}
        existing = state.entries.get(name)
        if isinstance(existing, Entry) and existing.target is target:
            return  # the same object under the same name again (a re-run loader): a no-op
        replacing_pending = isinstance(existing, _Pending) and existing.origin == entry.origin
        if (existing is not None and not replacing_pending) or clashes:
            if not overwrite:
                other = existing
                if clashes:
                    owner = self._taken_by(next(iter(clashes)))
                    assert owner is not None
                    other = state.entries[owner]
                assert other is not None
                where = other.origin
                if isinstance(other, Entry) and other.registered_at:
                    where += f", registered at {other.registered_at}"
                elif isinstance(other, _Pending):
                    where += f", from the plugin {other.dist!r}"
                taken = name if existing is not None else next(iter(clashes))
                raise RegistryError(_TAKEN.format(group=self.group, name=taken, origin=where))
            for clash in clashes:  # an alias of another entry: remove it from that one
                state.aliases.pop(clash, None)
            if existing is not None:
                self._drop(name)
        state.entries[name] = entry
        for alias in aliases:
            state.aliases[alias] = name
        state.version += 1

    def _add_pending(self, name: str, spec: str, dist: str) -> str | None:
        """Record a plugin entry without importing it; return a problem, if any."""
        self._ensure_loaded()
        if not _NAME_RE.match(name):
            return _BAD_NAME.format(group=self.group, name=name)
        taken = self._taken_by(name)
        if taken is not None:
            other = self._state.entries[taken]
            return f"{self.group} {name!r} is already registered (defined at {other.origin})"
        self._state.entries[name] = _Pending(name=name, spec=spec, dist=dist)
        self._state.version += 1
        return None

    def _taken_by(self, name: str) -> str | None:
        state = self._state
        if name in state.entries:
            return name
        return state.aliases.get(name)

    def _drop(self, name: str) -> None:
        state = self._state
        state.entries.pop(name, None)
        state.version += 1
        for alias in [a for a, n in state.aliases.items() if n == name]:
            del state.aliases[alias]

    def unregister(self, name: str) -> None:
        """Remove an entry (and its aliases); mostly useful in tests.

        Examples
        --------
        >>> from pbgml import Registry
        >>> reg: Registry[int] = Registry("demo")
        >>> _ = reg.register(int, name="integer")
        >>> reg.unregister("integer")
        >>> "integer" in reg
        False
        """
        self._drop(self.resolve(name))

    # -- lookup ----------------------------------------------------------------
    def resolve(self, name: str) -> str:
        """Return the canonical name for a name or an alias.

        Raises
        ------
        UnknownNameError
            The name is not registered; the message lists the choices and the
            closest name when one is close enough.

        Examples
        --------
        >>> import pbgml
        >>> pbgml.registry.loss.resolve("MSELoss")
        'mse'
        """
        self._ensure_loaded()
        if not isinstance(name, str):
            raise UnknownNameError(
                f"A {self.group} name must be a string, got {name!r}.",
                name=repr(name),
                group=self.group,
                suggestion=None,
            )
        canonical = self._taken_by(name)
        if canonical is not None:
            return canonical
        known = [*self._state.entries, *self._state.aliases]
        hits = closest(name, known)
        # suggest the canonical name, not an alias
        suggestion = self._taken_by(hits[0]) if hits else None
        hint = f" Did you mean {suggestion!r}?" if suggestion else ""
        message = (
            f"Unknown {self.group} {name!r}.{hint} {format_choices(name, self._state.entries)}"
        )
        raise UnknownNameError(message, name=name, group=self.group, suggestion=suggestion)

    def entry(self, name: str) -> Entry[R]:
        """Return the frozen :class:`Entry` record of a name or alias.

        Examples
        --------
        >>> import pbgml
        >>> pbgml.registry.scheduler.entry("cosine_annealing_lr").aliases
        ('CosineAnnealingLR',)
        """
        canonical = self.resolve(name)
        found = self._state.entries[canonical]
        if isinstance(found, _Pending):
            return self._load_pending(found)
        return found

    def _load_pending(self, pending: _Pending) -> Entry[R]:
        module_name, _, attr = pending.spec.partition(":")
        try:
            obj: Any = importlib.import_module(module_name.strip())
            for part in attr.strip().split(".") if attr.strip() else ():
                obj = getattr(obj, part)
        except Exception as err:
            message = _PLUGIN_FAILED.format(
                group=self.group,
                name=pending.name,
                dist=pending.dist,
                spec=pending.spec,
                error=f"{type(err).__name__}: {err}",
            )
            raise RegistryError(message) from err
        current = self._state.entries.get(pending.name)
        if isinstance(current, Entry):  # the import registered it itself
            return current
        self._add(
            obj,
            pending.name,
            (),
            None,
            True,
            None,
            registered_at=f"plugin {pending.dist}",
        )
        found = self._state.entries[pending.name]
        assert isinstance(found, Entry)
        return found

    def get(self, name: str) -> Callable[..., R]:
        """Return the target (class or factory) registered under a name or alias.

        Examples
        --------
        >>> import torch, pbgml
        >>> pbgml.registry.optimizer.get("sgd") is pbgml.optim.SGD
        True
        """
        return self.entry(name).target

    def find(self, target: object) -> Entry[R] | None:
        """Return the entry whose target *is* ``target`` (by identity), or ``None``.

        A class the entry accepts as well (see :meth:`accept`) finds that entry too.
        Plugin entries that were not imported yet are not searched.

        Examples
        --------
        >>> import torch, pbgml
        >>> pbgml.registry.optimizer.find(pbgml.optim.SGD).name
        'sgd'
        >>> pbgml.registry.optimizer.find(torch.optim.SGD).name  # accepted: SGD extends it
        'sgd'
        >>> pbgml.registry.optimizer.find(print) is None
        True
        """
        self._ensure_loaded()
        state = self._state
        if state.by_target_version != state.version:
            state.by_target = {}
            for item in state.entries.values():
                if isinstance(item, Entry):
                    state.by_target.setdefault(id(item.target), item.name)
            state.by_target_version = state.version
        name = state.by_target.get(id(target))
        if name is None:
            accepted = state.equivalents.get(id(target))
            if accepted is None or accepted[0] is not target:
                return None
            held = state.entries.get(accepted[1])
            return held if isinstance(held, Entry) else None
        found = state.entries[name]
        return found if isinstance(found, Entry) and found.target is target else None

    def accept(self, target: object, name: str) -> None:
        """Accept ``target`` as a target of the entry ``name``, whose own target extends it.

        A config naming ``target`` by its path (``_target_: torch.optim.AdamW``, as files
        written before pbgml's subclasses say) is then allowed and checked as that entry,
        and builds ``target`` itself. ``target`` is not listed and gets no name.

        Raises
        ------
        pbgml.RegistryError
            The entry's target is not a subclass of ``target``.

        Examples
        --------
        >>> import torch, pbgml
        >>> entry = pbgml.registry.optimizer.find(torch.optim.AdamW)
        >>> entry.name, entry.target is pbgml.optim.AdamW
        ('adamw', True)
        """
        self._ensure_loaded()
        entry = self.entry(name)
        if not (isinstance(target, type) and isinstance(entry.target, type)) or not issubclass(
            entry.target, target
        ):
            raise RegistryError(
                f"{self.group} {name!r} builds {entry.origin}, which does not extend {target!r}"
            )
        self._state.equivalents[id(target)] = (target, entry.name)

    def pending_origins(self) -> dict[str, str]:
        """Plugin entries not imported yet: their dotted origin path -> name.

        Examples
        --------
        >>> import pbgml
        >>> pbgml.registry.loss.pending_origins()
        {}
        """
        self._ensure_loaded()
        return {
            item.origin: item.name
            for item in self._state.entries.values()
            if isinstance(item, _Pending)
        }

    def build(self, name: str, /, *args: Any, **kwargs: Any) -> R:
        """Build the component registered under ``name`` with the given arguments.

        Examples
        --------
        >>> import pbgml
        >>> pbgml.registry.layer.build("linear", in_features=4, out_features=2)
        Linear(in_features=4, out_features=2, bias=True)
        """
        return self.get(name)(*args, **kwargs)

    def names(self, pattern: str | None = None) -> list[str]:
        """Return the canonical names, sorted, optionally filtered by an fnmatch pattern.

        Plugin entries are listed without being imported.

        Examples
        --------
        >>> import pbgml
        >>> pbgml.registry.optimizer.names("adam*")
        ['adam', 'adamax', 'adamw']
        """
        self._ensure_loaded()
        names = sorted(self._state.entries)
        if pattern is None:
            return names
        return [n for n in names if fnmatch.fnmatchcase(n, pattern)]

    def entries(self) -> Iterator[Entry[R]]:
        """Iterate over the entries, sorted by name (this imports plugin entries).

        Examples
        --------
        >>> import pbgml
        >>> next(pbgml.registry.optimizer.entries()).name
        'adadelta'
        """
        for name in self.names():
            yield self.entry(name)

    def __contains__(self, name: object) -> bool:
        self._ensure_loaded()
        return isinstance(name, str) and self._taken_by(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._ensure_loaded()
        return len(self._state.entries)
