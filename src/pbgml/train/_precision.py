"""Precision plugins of the :class:`~pbgml.train.Trainer`: autocast, the gradient scaler, bf16-true.

Everything here is decided once, when a stage starts: the training loop reads the
results (an autocast dtype or ``None``, a scaler or ``None``, a batch converter or
``None``) and branches on ``None`` only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from pbgml.metrics import Metric
from pbgml.train._errors import TrainerError
from pbgml.train._helpers import _move

__all__ = [
    "autocast_dtype",
    "batch_converter",
    "check_precision",
    "make_scaler",
    "set_tf32",
    "to_true_dtype",
]

#: The precisions that keep the weights and inputs in a lower dtype (no autocast).
TRUE_DTYPES: dict[str, torch.dtype] = {"bf16-true": torch.bfloat16}


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The dtype ``torch.autocast`` runs in under ``precision`` (``None``: no autocast).

    Examples
    --------
    >>> from pbgml.train._precision import autocast_dtype
    >>> autocast_dtype("bf16-mixed"), autocast_dtype("bf16-true"), autocast_dtype("32")
    (torch.bfloat16, None, None)
    """
    if precision == "bf16-mixed":
        return torch.bfloat16
    if precision == "16-mixed":
        return torch.float16
    return None


def check_precision(precision: str, device: torch.device) -> None:
    """Refuse a precision the device cannot run, with the reason and an alternative.

    ``16-mixed`` needs float16 autocast on the device (CUDA; CPU with torch >= 2.3, where
    ``torch.amp.GradScaler("cpu")`` also exists); ``bf16-true`` and ``bf16-mixed`` need
    bfloat16 (every CPU, CUDA devices that support it).
    """
    if precision == "16-mixed":
        available = torch.amp.autocast_mode.is_autocast_available(device.type)
        if not available or not _autocasts(device, torch.float16):
            raise TrainerError(
                f"precision='16-mixed': this torch ({torch.__version__}) has no float16 autocast "
                f"on {device.type}; use 'bf16-mixed' or '32'",
                param="precision",
            )
    if (
        precision.startswith("bf16")
        and device.type == "cuda"
        and not torch.cuda.is_bf16_supported()  # pragma: no cover - needs an old GPU
    ):
        raise TrainerError(
            f"precision={precision!r}: this GPU does not support bfloat16; use '16-mixed'",
            param="precision",
        )


def _autocasts(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether a matmul under ``torch.autocast(device, dtype)`` really runs in ``dtype``."""
    try:
        with torch.autocast(device.type, dtype=dtype):
            out = torch.ones(2, 2, device=device) @ torch.ones(2, 2, device=device)
    except (RuntimeError, AssertionError):  # pragma: no cover - depends on the torch build
        return False
    return out.dtype == dtype


def make_scaler(precision: str, device: torch.device) -> torch.amp.GradScaler | None:
    """A ``torch.amp.GradScaler`` on ``device`` for ``16-mixed``, else ``None``."""
    if precision != "16-mixed":
        return None
    return torch.amp.GradScaler(device.type)


def to_true_dtype(task: nn.Module, precision: str) -> None:
    """Under ``bf16-true``: the task's floating parameters and buffers in bfloat16.

    A :class:`~pbgml.metrics.Metric`'s states stay as they are (a count in bfloat16
    would stop counting exactly past 256).
    """
    dtype = TRUE_DTYPES.get(precision)
    if dtype is None:
        return

    def convert(t: torch.Tensor) -> torch.Tensor:
        return t.to(dtype) if t.is_floating_point() else t

    skip: set[int] = set()
    for module in task.modules():
        if id(module) in skip:
            continue
        if isinstance(module, Metric):
            skip.update(id(m) for m in module.modules())
            continue
        module._apply(convert, recurse=False)  # type: ignore[no-untyped-call]


def batch_converter(precision: str, device: torch.device) -> Callable[[Any], Any] | None:
    """What a batch goes through before a step: moved to ``device`` (not CPU) and, under
    ``bf16-true``, its floating tensors cast to bfloat16; ``None`` when nothing is to do."""
    dtype = TRUE_DTYPES.get(precision)
    if dtype is None and device.type == "cpu":
        return None

    def convert(batch: Any) -> Any:
        return _move(batch, device, dtype)

    return convert


def set_tf32(enabled: bool) -> None:
    """Let float32 matmuls use TF32 on GPUs that have it (Ampere and newer).

    TF32 keeps float32's range with a 10-bit mantissa: several times faster matmuls for
    a precision that training does not notice. pbgml's Trainer turns it on for a CUDA
    device unless ``tf32=False``, through ``torch.set_float32_matmul_precision``
    (``"high"``, or ``"highest"`` to keep IEEE float32); it holds for the process.
    cuDNN's convolutions keep torch's own default (TF32 on).

    Examples
    --------
    >>> import torch
    >>> from pbgml.train._precision import set_tf32
    >>> before = torch.get_float32_matmul_precision()
    >>> set_tf32(True)
    >>> torch.get_float32_matmul_precision()
    'high'
    >>> torch.set_float32_matmul_precision(before)
    """
    torch.set_float32_matmul_precision("high" if enabled else "highest")
