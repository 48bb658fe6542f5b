"""Model checks from a config: :func:`pbgml.summary` and :func:`pbgml.check_input`.

The component functions (:func:`pbgml.nn.summary`, :func:`pbgml.nn.check_input`)
work on modules; these build a model config on the meta device first (through the
allowlist of :func:`pbgml.instantiate`), so nothing is allocated.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from pbgml import nn as _nn
from pbgml._config._instantiate import instantiate
from pbgml.nn._meta import is_config

__all__ = ["check_input", "summary"]


def _on_meta(model: object, key: str, allow: Iterable[str]) -> tuple[object, object | None]:
    if not is_config(model):
        return model, None
    with torch.device("meta"):
        return instantiate(model, allow=allow), model


def summary(
    model: object,
    input_shape: tuple[int, ...],
    *,
    dtype: torch.dtype = torch.float32,
    batch_size: int = 1,
    allow: Iterable[str] = (),
) -> _nn.ModelSummary:
    """Describe a model or a model config without allocating its weights.

    A config (``LeNetConf()``, a dict, a DictConfig) is built on the meta device with
    :func:`pbgml.instantiate`; anything else goes to :func:`pbgml.nn.summary` as it is.

    Parameters
    ----------
    model
        A model config, a :class:`torch.nn.Module`, a zero-argument callable
        returning one, or a registered model name.
    input_shape
        One sample's shape, without the batch dimension.
    dtype
        The input's dtype: ``torch.long`` for token ids.
    batch_size
        The batch the shapes are reported for.
    allow
        Extra allowed target prefixes, as for :func:`pbgml.instantiate`.

    Examples
    --------
    >>> import pbgml
    >>> from pbgml.configs import LeNetConf
    >>> pbgml.summary(LeNetConf(), (3, 32, 32)).num_parameters
    62006
    """
    built, cfg = _on_meta(model, "model", allow)
    return _nn.summary(built, input_shape, dtype=dtype, batch_size=batch_size, model_cfg=cfg)


def check_input(
    model: object,
    sample_shape: tuple[int, ...],
    *,
    model_key: str = "model",
    data_key: str = "data",
    model_cfg: object = None,
    dtype: torch.dtype | None = None,
    allow: Iterable[str] = (),
) -> tuple[int, ...]:
    """Check that a model or a model config takes samples of ``sample_shape``.

    Builds a config on the meta device, then runs :func:`pbgml.nn.check_input`; a
    mismatch names the config fields that disagree with the data and the value each
    should have.

    Parameters
    ----------
    model
        A model config, a :class:`torch.nn.Module`, a zero-argument callable
        returning one, or a registered model name.
    sample_shape
        One sample's shape, without the batch dimension.
    model_key, data_key
        The config keys of the model and the data, used in the message.
    model_cfg
        The model's config read for the input-size fields (default: ``model`` when it
        is a config).
    dtype
        The input's dtype (default: ``torch.long`` for token models, else float32).
    allow
        Extra allowed target prefixes, as for :func:`pbgml.instantiate`.

    Examples
    --------
    >>> import pbgml
    >>> from pbgml.configs import MLPConf
    >>> try:
    ...     pbgml.check_input(MLPConf(in_features=64, out_features=10), (3, 32, 32))
    ... except pbgml.ShapeMismatchError as err:
    ...     print(err.problems[0])
    model.in_features=64 but data yields samples of shape 3x32x32 (3072 values once flattened); set model.in_features=3072
    """
    built, cfg = _on_meta(model, model_key, allow)
    config: Any = model_cfg if model_cfg is not None else cfg
    return _nn.check_input(
        built, sample_shape, model_key=model_key, data_key=data_key, model_cfg=config, dtype=dtype
    )
