"""Check that a model takes the samples a data source yields, on the meta device."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from pbgml.nn._errors import ShapeMismatchError
from pbgml.nn._meta import (
    add_output_hooks,
    build_on_meta,
    check_shape,
    first_shape,
    run_on_meta,
)

__all__ = ["check_input"]

#: The config fields that say what input a model expects, in the order they are checked.
INPUT_FIELDS = ("in_features", "in_channels", "input_size", "vocab_size", "max_len")

_MISMATCH = (
    "{model_key} does not fit {data_key}: {problems}.\n  (the forward pass failed with {cause})"
)
_NO_FIELD = (
    "{model_key} ({model}) fails on a batch of {data_key} samples of shape {shape}; "
    "check its input size"
)


def _dims(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape) if shape else "()"


def _field(config: object, name: str) -> Any:
    """A field of a dict-like or dataclass config, or of a built module; None if absent."""
    try:
        if isinstance(config, Mapping):
            value = config.get(name)
        elif config is not None and (
            dataclasses.is_dataclass(config) or isinstance(config, nn.Module)
        ):
            value = getattr(config, name, None)
        else:
            return None
    except Exception:  # a MISSING value in a DictConfig raises on access
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _flattens(module: nn.Module, config: object) -> bool | None:
    """Whether the model flattens each sample first; None when neither config nor module says.

    Read from the config's ``flatten`` field, else the module's ``flatten`` attribute (a
    bool, or an :class:`~torch.nn.Flatten` / :class:`~torch.nn.Identity` as in
    :class:`~pbgml.nn.MLP`), else whether the module's first leaf is a Flatten.
    """
    for source in (config, module):
        if source is None:
            continue
        try:
            value = (
                source.get("flatten")
                if isinstance(source, Mapping)
                else getattr(source, "flatten", None)
            )
        except Exception:  # a MISSING value in a DictConfig raises on access
            value = None
        if isinstance(value, bool):
            return value
        if isinstance(value, nn.Flatten):
            return True
        if isinstance(value, nn.Identity):
            return False
    first = next((m for m in module.modules() if not list(m.children())), None)
    return True if isinstance(first, nn.Flatten) else None


def _in_features_problem(
    in_features: int, shape: tuple[int, ...], flatten: bool | None, model_key: str, seen: str
) -> str | None:
    """The in_features line: flattened models need every value, others the last dimension."""
    numel = math.prod(shape)
    last = shape[-1] if shape else 1
    accepted = {True: (numel,), False: (last,), None: (numel, last)}[flatten]
    if in_features in accepted:
        return None
    if flatten is False:
        what, wanted = f"{last} features in the last dimension", last
    else:
        what, wanted = f"{numel} values once flattened", numel
    detail = f" ({what})" if len(shape) > 1 else ""
    key = f"{model_key}.in_features"
    return f"{key}={in_features} but {seen}{detail}; set {key}={wanted}"


def _problems(
    values: dict[str, int],
    shape: tuple[int, ...],
    model_key: str,
    data_key: str,
    *,
    flatten: bool | None = None,
) -> list[tuple[str, str]]:
    """``(field, line)`` per input field that disagrees with the samples' shape, with the fix."""
    found: list[tuple[str, str]] = []
    dims = _dims(shape)
    seen = f"{data_key} yields samples of shape {dims}"
    in_features = values.get("in_features")
    if in_features is not None:
        line = _in_features_problem(in_features, shape, flatten, model_key, seen)
        if line is not None:
            found.append(("in_features", line))
    in_channels = values.get("in_channels")
    if in_channels is not None and len(shape) >= 2 and in_channels != shape[0]:
        plural = "s" if shape[0] != 1 else ""
        found.append(
            (
                "in_channels",
                f"{model_key}.in_channels={in_channels} but {seen} ({shape[0]} channel{plural}); "
                f"set {model_key}.in_channels={shape[0]}",
            )
        )
    input_size = values.get("input_size")
    spatial = shape[1:]
    if input_size is not None and spatial and any(d != input_size for d in spatial):
        fix = (
            f"set {model_key}.input_size={spatial[0]}"
            if len(set(spatial)) == 1
            else f"resize the samples to {input_size}x{input_size}"
        )
        found.append(
            (
                "input_size",
                f"{model_key}.input_size={input_size} but {seen} ({_dims(spatial)} pixels); {fix}",
            )
        )
    max_len = values.get("max_len")
    if max_len is not None and shape[-1] > max_len:
        found.append(
            (
                "max_len",
                f"{model_key}.max_len={max_len} but {seen} ({shape[-1]} tokens); "
                f"set {model_key}.max_len={shape[-1]} or truncate the sequences",
            )
        )
    return found


def mismatch_error(
    error: BaseException,
    module: nn.Module,
    shape: tuple[int, ...],
    config: object,
    *,
    model_key: str,
    data_key: str,
) -> ShapeMismatchError:
    """Word a failed forward pass as a :class:`ShapeMismatchError` naming keys and shapes."""
    values = {}
    for name in INPUT_FIELDS:
        value = _field(config, name) if config is not None else None
        if value is None:
            value = _field(module, name)
        if value is not None:
            values[name] = value
    pairs = _problems(values, shape, model_key, data_key, flatten=_flattens(module, config))
    found = [line for _, line in pairs]
    text = "; ".join(found) or _NO_FIELD.format(
        model_key=model_key, model=type(module).__name__, data_key=data_key, shape=_dims(shape)
    )
    cause = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error) else ''}"
    message = _MISMATCH.format(
        model_key=model_key, data_key=data_key, problems=text, cause=cause.rstrip(": ")
    )
    return ShapeMismatchError(
        message,
        sample_shape=shape,
        problems=tuple(found),
        fields=tuple(name for name, _ in pairs),
        model_key=model_key,
        data_key=data_key,
    )


def _wants_tokens(module: nn.Module, config: object) -> bool:
    if _field(config, "vocab_size") is not None or _field(module, "vocab_size") is not None:
        return True
    first = next((m for m in module.modules() if not list(m.children())), None)
    return isinstance(first, nn.Embedding)


def forward_or_explain(
    module: nn.Module,
    shape: tuple[int, ...],
    config: object,
    *,
    dtype: torch.dtype,
    batch_size: int,
    model_key: str,
    data_key: str,
    hook: Any = None,
) -> Any:
    """Run a batch of ``shape`` samples on meta; a failure becomes a ShapeMismatchError."""
    inputs = torch.empty((batch_size, *shape), dtype=dtype, device="meta")
    try:
        return run_on_meta(module, inputs, hook)
    except Exception as err:
        error = mismatch_error(err, module, shape, config, model_key=model_key, data_key=data_key)
        if error.fields or not _has_real_weights(module):
            raise error from err  # a field disagrees with the data, or nothing else to try
        # No field explains the failure: the meta device may be what failed (an operation
        # without a meta kernel, a forward that reads values). Ask the real weights, once,
        # on one zero batch; only a failure there is the model's.
        try:
            return _real_forward(module, shape, dtype, batch_size, hook)
        except Exception as real:
            raise mismatch_error(
                real, module, shape, config, model_key=model_key, data_key=data_key
            ) from real


def _has_real_weights(module: nn.Module) -> bool:
    """No meta tensor in the module (one with no tensors at all runs on the CPU)."""
    return all(t.device.type != "meta" for t in (*module.parameters(), *module.buffers()))


def _real_forward(
    module: nn.Module, shape: tuple[int, ...], dtype: torch.dtype, batch_size: int, hook: Any
) -> Any:
    """One forward of zeros on the module's own device, in eval mode, leaving no trace."""
    first = next(iter([*module.parameters(), *module.buffers()]), None)
    device = first.device if first is not None else torch.device("cpu")
    inputs = torch.zeros((batch_size, *shape), dtype=dtype, device=device)
    modes = [(m, m.training) for m in module.modules()]
    handles = add_output_hooks(module, hook)
    devices = [device] if device.type == "cuda" else []
    try:
        module.eval()
        with torch.no_grad(), torch.random.fork_rng(devices=devices):
            return module(inputs)
    finally:
        for handle in handles:
            handle.remove()
        for m, training in modes:
            m.training = training


def check_input(
    model: object,
    sample_shape: tuple[int, ...],
    *,
    model_key: str = "model",
    data_key: str = "data",
    model_cfg: object = None,
    dtype: torch.dtype | None = None,
) -> tuple[int, ...]:
    """Check that ``model`` takes samples of ``sample_shape``, without allocating weights.

    A batch of one sample runs through the model on the meta device. When the
    forward pass fails, the error names the config fields that disagree with the
    data (``in_features``, ``in_channels``, ``input_size``, ``max_len``) and the value
    each should have.

    Parameters
    ----------
    model
        A :class:`torch.nn.Module`, a zero-argument callable returning one, or a
        registered model name (for a model config, use :func:`pbgml.check_input`).
    sample_shape
        One sample's shape, without the batch dimension (``(3, 32, 32)``).
    model_key, data_key
        The config keys of the model and the data, used in the message.
    model_cfg
        The model's config (a dict, DictConfig or dataclass), read for the input-size
        fields; defaults to ``model`` when it is a config, else the built module's
        attributes of the same names.
    dtype
        The input's dtype; by default ``torch.long`` for token models (a
        ``vocab_size``, or an embedding first), else ``torch.float32``.

    Returns
    -------
    tuple of int
        The shape of the model's output for one sample (without the batch dimension).

    Raises
    ------
    ShapeMismatchError
        The model cannot take such samples.

    Examples
    --------
    >>> from pbgml.nn import MLP, check_input
    >>> check_input(MLP(in_features=3072, out_features=10), (3, 32, 32))
    (10,)
    >>> try:
    ...     check_input(MLP(in_features=64, out_features=10), (3, 32, 32))
    ... except ValueError as err:
    ...     print(str(err).splitlines()[0])
    model does not fit data: model.in_features=64 but data yields samples of shape 3x32x32 (3072 values once flattened); set model.in_features=3072.
    """
    shape = check_shape(sample_shape, key="sample_shape")
    module, built_from = build_on_meta(model, key=model_key)
    config = model_cfg if model_cfg is not None else built_from
    if dtype is None:
        dtype = torch.long if _wants_tokens(module, config) else torch.float32
    output = forward_or_explain(
        module,
        shape,
        config,
        dtype=dtype,
        batch_size=1,
        model_key=model_key,
        data_key=data_key,
    )
    out_shape = first_shape(output)
    return out_shape[1:] if out_shape else ()
