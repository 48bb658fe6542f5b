"""Sample batches for export and verification, and the data config's eval transforms."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from pbgml._config._instantiate import instantiate
from pbgml._export._errors import ExportError
from pbgml._export._source import Source

__all__ = ["EXPORT_BATCH", "eval_transform", "sample_batch", "verify_batch"]

#: The batch size an export traces with; verification uses another one.
EXPORT_BATCH = 2
#: The image data modules and the normalize preset each applies by default.
_IMAGE_PRESETS: dict[str, str | None] = {
    "cifar10": "cifar10",
    "cifar100": "cifar100",
    "mnist": "mnist",
    "fashion_mnist": "fashion_mnist",
    "image_folder": None,
}
_NO_SAMPLE = (
    "{name}: no sample shape is known (a model object, or a checkpoint whose data recorded "
    "none); pass sample= "
    "a batch of inputs, e.g. pbgml.export(model, 'onnx', 'model.onnx', "
    "sample=torch.randn(2, 3, 32, 32))"
)


def _dtype(source: Source) -> torch.dtype:
    from pbgml.nn._shapes import _wants_tokens

    return (
        torch.long if _wants_tokens(source.model, source.experiment.get("model")) else torch.float32
    )


def sample_batch(source: Source, sample: torch.Tensor | None = None) -> torch.Tensor:
    """The batch an export traces: ``sample``, or ``EXPORT_BATCH`` samples of the data's shape.

    Examples
    --------
    >>> import torch
    >>> from pbgml._export import Source, sample_batch
    >>> sample_batch(Source(torch.nn.Linear(4, 2), sample_shape=(4,))).shape
    torch.Size([2, 4])
    """
    if sample is not None:
        if not isinstance(sample, torch.Tensor) or sample.dim() < 1:
            raise ExportError(
                f"{source.name}: sample= must be a tensor with a batch dimension, got "
                f"{type(sample).__name__}",
                path=None if source.path is None else str(source.path),
            )
        return sample
    if source.sample_shape is None:
        raise ExportError(_NO_SAMPLE.format(name=source.name))
    generator = torch.Generator().manual_seed(0)
    shape = (EXPORT_BATCH, *source.sample_shape)
    if math.prod(shape) > _MAX_SAMPLE_ELEMENTS:  # a file's metadata must not allocate at will
        raise ExportError(
            f"{source.name}: its sample shape {list(source.sample_shape)} is too large to "
            f"trace (over {_MAX_SAMPLE_ELEMENTS:,} elements in a batch of {EXPORT_BATCH}); "
            "pass sample= with a real input",
            path=None if source.path is None else str(source.path),
        )
    if _dtype(source) == torch.long:
        return torch.randint(0, 2, shape, generator=generator)
    return torch.randn(shape, generator=generator)


#: The most elements a sample batch built from a file's sample shape may hold.
_MAX_SAMPLE_ELEMENTS = 50_000_000


def verify_batch(sample: torch.Tensor) -> torch.Tensor:
    """A batch of another size than ``sample``'s (one sample more), for verification.

    Examples
    --------
    >>> import torch
    >>> from pbgml._export import verify_batch
    >>> verify_batch(torch.zeros(2, 4)).shape
    torch.Size([3, 4])
    """
    generator = torch.Generator().manual_seed(1)
    extra = sample[:1].clone()
    if extra.is_floating_point():
        extra = torch.randn(extra.shape, generator=generator, dtype=extra.dtype)
    return torch.cat([sample, extra])


def _build_list(items: Any, key: str) -> list[Any] | None:
    if items is None:
        return None
    built: list[Any] = []
    for i, item in enumerate(items):
        built.append(instantiate(item, key=f"{key}.{i}") if isinstance(item, Mapping) else item)
    return built


def eval_transform(experiment: Mapping[str, Any]) -> Any:
    """The transform the data config applies to evaluation samples (``None``: none).

    Built from the data config alone (no data file is read): its ``eval_transforms``,
    else its ``train_transforms`` without the random ones, else the module's default
    (``to_tensor`` and the dataset's normalize preset). Tabular data has none.

    Examples
    --------
    >>> from pbgml._export import eval_transform
    >>> eval_transform({"data": {"_target_": "pbgml.data.cifar10"}})
    Compose([ToTensor(), Normalize(preset='cifar10')])
    >>> eval_transform({"data": {"_target_": "pbgml.data.digits"}}) is None
    True
    """
    from pbgml.data._factories import _transforms

    data = experiment.get("data")
    if not isinstance(data, Mapping):
        return None
    name = str(data.get("_target_", "")).rpartition(".")[2]
    train = _build_list(data.get("train_transforms"), "data.train_transforms")
    evaluation = _build_list(data.get("eval_transforms"), "data.eval_transforms")
    if name not in _IMAGE_PRESETS and train is None and evaluation is None:
        return None
    return _transforms(train, evaluation, _IMAGE_PRESETS.get(name))[1]
