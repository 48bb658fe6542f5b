"""Activations by name: torch's argument-free activations and identity, nothing else."""

from __future__ import annotations

import copy
import inspect
from typing import TypeAlias

from torch import nn

from pbgml import registry
from pbgml._errors import UnknownNameError, closest
from pbgml._names import public_path, snake_case
from pbgml.nn._errors import InvalidArgumentError

__all__ = ["ActivationLike", "get_activation"]

#: What an ``activation`` argument accepts: a registry name, a module, a module class or None.
ActivationLike: TypeAlias = str | nn.Module | type[nn.Module] | None

#: The module whose argument-free classes (and :class:`torch.nn.Identity`) are activations.
_ACTIVATION_MODULE = "torch.nn.modules.activation"

_UNKNOWN_ACTIVATION = "Unknown {key}={name!r}.{hint} Activations: {choices}."
_ACTIVATION_NEEDS_ARGS = (
    "{key}={name!r} is the layer {path}, which cannot be built without arguments ({error}); "
    "an activation must be. Pass a built module instead, e.g. torch.nn.LeakyReLU(0.2)."
)
_LAYER_NOT_AN_ACTIVATION = (
    "{key}={name!r} is the layer {path}, not an activation.{hint} Activations: {choices}. "
    "A custom activation can be given as a torch.nn.Module or a torch.nn.Module class."
)
_NOT_AN_ACTIVATION = (
    "{key}={value!r} is not an activation; expected a name such as 'relu', "
    "a torch.nn.Module, a torch.nn.Module class or None."
)


def _is_activation(target: object) -> bool:
    """Whether ``target`` is :class:`torch.nn.Identity` or an argument-free torch activation."""
    if target is nn.Identity:
        return True
    return (
        isinstance(target, type)
        and issubclass(target, nn.Module)
        and target.__module__ == _ACTIVATION_MODULE
        and _builds_without_arguments(target)
    )


def _activation_choices() -> list[str]:
    """Registered layers from torch's activation module that build without arguments."""
    from torch.nn.modules import activation as module

    names = ["identity"]
    for attr, cls in vars(module).items():
        if attr.startswith("_") or not _is_activation(cls):
            continue
        name = snake_case(attr)
        if name in registry.layer:
            names.append(name)
    return sorted(set(names))


def _activation_hint(name: str) -> tuple[str | None, str, str]:
    """The closest activation (or None), its did-you-mean sentence, and the listed choices."""
    choices = _activation_choices()
    hits = closest(name, choices)
    hint = f" Did you mean {hits[0]!r}?" if hits else ""
    return (hits[0] if hits else None), hint, ", ".join(repr(c) for c in choices)


def _builds_without_arguments(target: object) -> bool:
    try:
        params = inspect.signature(target).parameters.values()  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    required = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return all(p.default is not p.empty for p in params if p.kind in required)


def get_activation(activation: ActivationLike, *, key: str = "activation") -> nn.Module:
    """Return an activation module from a registry name, a module, a class or ``None``.

    Names are looked up in :data:`pbgml.registry.layer` and must name an activation:
    :class:`torch.nn.Identity` or one of torch's activations that builds without
    arguments (``"relu"``, ``"gelu"``, ``"leaky_relu"``, ``"silu"``, ``"tanh"``,
    ``"mish"``, ``"identity"``..., or the class names ``"ReLU"``, ``"GELU"``...). Any
    other layer (``"dropout"``, ``"linear"``) is refused rather than silently used.
    ``None`` means no activation (:class:`torch.nn.Identity`). A module is returned as
    it is; a module class is built without arguments: that is how a custom activation
    is given.

    Parameters
    ----------
    activation
        The name, module, class or ``None``.
    key
        The argument's name, used in error messages (``"activation"``).

    Returns
    -------
    torch.nn.Module
        A new module for a name or a class; the given one for a module.

    Raises
    ------
    pbgml.UnknownNameError
        The name is not registered; the message lists the activations and the closest.
    InvalidArgumentError
        The name is a registered layer that is not an activation (or an activation
        that needs arguments), or the value is of the wrong type.

    Examples
    --------
    >>> from pbgml.nn import get_activation
    >>> get_activation("gelu"), get_activation("LeakyReLU"), get_activation(None)
    (GELU(approximate='none'), LeakyReLU(negative_slope=0.01), Identity())
    >>> try:
    ...     get_activation("rellu")
    ... except KeyError as err:
    ...     print(str(err).split(" Activations")[0])
    Unknown activation='rellu'. Did you mean 'relu'?
    >>> try:
    ...     get_activation("dropout")
    ... except ValueError as err:
    ...     print(str(err).split(" Activations")[0])
    activation='dropout' is the layer torch.nn.Dropout, not an activation.
    """
    if activation is None:
        return nn.Identity()
    if isinstance(activation, nn.Module):
        return activation
    if isinstance(activation, type) and issubclass(activation, nn.Module):
        return activation()
    if not isinstance(activation, str):
        raise InvalidArgumentError(_NOT_AN_ACTIVATION.format(key=key, value=activation))
    if activation not in registry.layer:
        suggestion, hint, listed = _activation_hint(activation)
        message = _UNKNOWN_ACTIVATION.format(key=key, name=activation, hint=hint, choices=listed)
        raise UnknownNameError(message, name=activation, group="activation", suggestion=suggestion)
    target = registry.layer.get(activation)
    if _is_activation(target):
        return target()
    path = public_path(target)
    if getattr(target, "__module__", None) == _ACTIVATION_MODULE:  # Threshold, MultiheadAttention
        try:
            inspect.signature(target).bind()
        except TypeError as err:
            message = _ACTIVATION_NEEDS_ARGS.format(key=key, name=activation, path=path, error=err)
            raise InvalidArgumentError(message) from err
    _, hint, listed = _activation_hint(activation)
    raise InvalidArgumentError(
        _LAYER_NOT_AN_ACTIVATION.format(
            key=key, name=activation, path=path, hint=hint, choices=listed
        )
    )


def _fresh_activation(activation: ActivationLike, *, key: str = "activation") -> nn.Module:
    """A new activation per use, so a module given once is not shared between layers."""
    if isinstance(activation, nn.Module):
        return copy.deepcopy(activation)
    return get_activation(activation, key=key)
