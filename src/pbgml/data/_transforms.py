"""Sample transforms on tensors: to-tensor, normalize presets, random crop and flip, compose.

Plain callables (no torchvision needed); randomness comes from torch's global RNG, so
seeding torch seeds them. Registered in :data:`pbgml.registry.transform`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812

from pbgml._errors import did_you_mean
from pbgml._optional import probe
from pbgml.data._errors import DataError

__all__ = [
    "NORMALIZE_PRESETS",
    "Compose",
    "Normalize",
    "RandomCrop",
    "RandomHorizontalFlip",
    "ToTensor",
    "Transform",
    "as_transform",
]

#: A transform: any callable from one sample (or target) to another.
Transform = Callable[[Any], Any]

#: ``Normalize(preset=...)``: per-channel (mean, std); one value applies to every channel.
NORMALIZE_PRESETS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "fashion_mnist": ((0.2860,), (0.3530,)),
    "half": ((0.5,), (0.5,)),
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "mnist": ((0.1307,), (0.3081,)),
}
_PADDING_MODES = ("constant", "reflect", "replicate", "circular")
_CHANNELS = (1, 3, 4)  # grayscale, RGB, RGBA
_TORCHVISION_BROKEN = (
    "torchvision is installed but torchvision.transforms.v2 could not be imported, so no "
    "tv_* transform is registered: {error}"
)


def _is_pil(obj: object) -> bool:
    return type(obj).__module__.startswith("PIL.") and hasattr(obj, "getbands")


def _pil_to_tensor(pic: Any) -> torch.Tensor:
    if pic.mode not in ("L", "LA", "RGB", "RGBA"):
        pic = pic.convert("L" if pic.mode in ("1", "I", "I;16", "F") else "RGB")
    data = torch.frombuffer(bytearray(pic.tobytes()), dtype=torch.uint8)
    width, height = pic.size
    return data.view(height, width, len(pic.getbands()))


def _is_chw(tensor: torch.Tensor) -> bool:
    """Whether a 3-D torch tensor is ``CHW`` (else ``HWC``); see :class:`ToTensor`."""
    first, last = tensor.shape[0] in _CHANNELS, tensor.shape[-1] in _CHANNELS
    if first != last:
        return first
    return tensor.dtype != torch.uint8


class ToTensor:
    """Turn an image into a ``CHW`` float32 tensor, scaled to [0, 1] when it was uint8.

    The layout rule:

    * a PIL image or a numpy array is ``HWC`` (or ``HW``), the layout images are
      stored in, and is permuted to ``CHW``;
    * a 3-D torch tensor is ``CHW`` (left as it is) when its first dimension is 1,
      3 or 4 and its last is not, e.g. ``(3, 32, 32)``; ``HWC`` (permuted) when its
      last dimension is 1, 3 or 4 and its first is not, e.g. ``(32, 32, 3)``; when
      the shape does not tell (``(3, 5, 3)``, ``(2, 8, 8)``), a uint8 tensor is
      taken as ``HWC`` and a floating one as ``CHW``;
    * a 2-D input (``HW``) gains a channel dimension.

    uint8 values are divided by 255; other dtypes are only cast to float32.

    Examples
    --------
    >>> import torch
    >>> from pbgml.data import ToTensor
    >>> image = torch.full((32, 32, 3), 255, dtype=torch.uint8)
    >>> x = ToTensor()(image)
    >>> x.shape, x.dtype, float(x.max())
    (torch.Size([3, 32, 32]), torch.float32, 1.0)
    >>> ToTensor()(torch.zeros(28, 28, dtype=torch.uint8)).shape
    torch.Size([1, 28, 28])
    >>> ToTensor()(torch.zeros(3, 32, 32, dtype=torch.uint8)).shape  # already CHW
    torch.Size([3, 32, 32])
    """

    def __call__(self, pic: Any) -> torch.Tensor:
        from_array = False
        if _is_pil(pic):
            tensor, from_array = _pil_to_tensor(pic), True
        elif isinstance(pic, torch.Tensor):
            tensor = pic
        elif hasattr(pic, "__array_interface__"):  # a numpy array, without importing numpy
            tensor, from_array = torch.as_tensor(pic), True
        else:
            raise DataError(
                f"to_tensor: pic must be a PIL image, an array or a tensor, got "
                f"{type(pic).__name__}",
                param="pic",
            )
        if tensor.ndim == 2:
            tensor = tensor.unsqueeze(0)
        elif tensor.ndim == 3 and (from_array or not _is_chw(tensor)):
            tensor = tensor.permute(2, 0, 1)
        elif tensor.ndim != 3:
            raise DataError(
                f"to_tensor: pic must be a 2-D (HW) or 3-D (HWC or CHW) image, got shape "
                f"{tuple(tensor.shape)}",
                param="pic",
            )
        if tensor.dtype == torch.uint8:
            return tensor.contiguous().to(torch.float32).div_(255)
        return tensor.contiguous().to(torch.float32)

    def __repr__(self) -> str:
        return "ToTensor()"


class Normalize:
    """Subtract a per-channel mean and divide by a per-channel std (``CHW`` tensors).

    Expects float tensors in [0, 1], as :class:`ToTensor` makes them: an integer
    (uint8) tensor raises :class:`~pbgml.data.DataError` (put ``to_tensor`` first).

    Parameters
    ----------
    mean, std
        One value per channel, or a single value for every channel.
    preset
        Instead of ``mean``/``std``: ``"cifar10"``, ``"cifar100"``, ``"mnist"``,
        ``"fashion_mnist"``, ``"imagenet"``, or ``"half"`` (mean 0.5, std 0.5 for every
        channel: the course's choice, mapping [0, 1] to [-1, 1]).

    Examples
    --------
    >>> import torch
    >>> from pbgml.data import Normalize
    >>> half = Normalize(preset="half")
    >>> half(torch.ones(3, 2, 2)).unique()
    tensor([1.])
    >>> half.undo(half(torch.zeros(3, 2, 2))).unique()
    tensor([0.])
    >>> Normalize(mean=[0.1307], std=[0.3081])
    Normalize(mean=(0.1307,), std=(0.3081,))
    """

    def __init__(
        self,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        preset: str | None = None,
    ) -> None:
        if preset is not None:
            if mean is not None or std is not None:
                raise DataError(
                    f"normalize: pass either preset={preset!r} or mean/std, not both",
                    param="preset",
                )
            if preset not in NORMALIZE_PRESETS:
                raise DataError(
                    f"normalize: unknown preset {preset!r}.{did_you_mean(preset, NORMALIZE_PRESETS)}"
                    f" Choices: {', '.join(repr(p) for p in sorted(NORMALIZE_PRESETS))}.",
                    param="preset",
                )
            mean, std = NORMALIZE_PRESETS[preset]
        if mean is None or std is None:
            raise DataError(
                "normalize needs mean and std (one value per channel), or a preset such as "
                "preset='half'",
                param="mean" if mean is None else "std",
            )
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        self.preset = preset
        if not self.mean or len(self.mean) != len(self.std):
            raise DataError(
                f"normalize: mean={self.mean!r} and std={self.std!r} need the same, non-zero "
                "number of values",
                param="std",
            )
        if any(s <= 0 for s in self.std):
            raise DataError(f"normalize: std={self.std!r} must be positive", param="std")

    def _stats(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            got = f"a {x.dtype} tensor" if isinstance(x, torch.Tensor) else type(x).__name__
            raise DataError(
                f"normalize expects float tensors in [0, 1]; put to_tensor before it (got {got})"
            )
        channels = x.shape[-3] if x.ndim >= 3 else None
        if len(self.mean) > 1 and channels != len(self.mean):
            raise DataError(
                f"normalize: mean={self.mean!r} and std={self.std!r} hold {len(self.mean)} "
                f"channel values, but the tensor of shape {tuple(x.shape)} has "
                f"{'no channel dimension' if channels is None else f'{channels} channels'} "
                f"(expected (..., {len(self.mean)}, H, W): put to_tensor first, or give one "
                "mean/std value per channel)",
                param="mean",
            )
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device)
        if x.ndim >= 3:
            mean, std = mean[:, None, None], std[:, None, None]
        return mean, std

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = self._stats(x)
        return (x - mean) / std

    def undo(self, x: torch.Tensor) -> torch.Tensor:
        """Invert the normalization (to show images as they were).

        Examples
        --------
        >>> import torch
        >>> from pbgml.data import Normalize
        >>> Normalize(preset="half").undo(torch.full((1, 2, 2), -1.0)).unique()
        tensor([0.])
        """
        mean, std = self._stats(x)
        return x * std + mean

    def __repr__(self) -> str:
        if self.preset is not None:
            return f"Normalize(preset={self.preset!r})"
        return f"Normalize(mean={self.mean!r}, std={self.std!r})"


def _pair(value: int | Sequence[int], param: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v > 0 for v in pair):
        raise DataError(
            f"random_crop: {param}={value!r} must be a positive int or (height, width)",
            param=param,
        )
    return pair[0], pair[1]


class RandomCrop:
    """Crop a random ``size`` window of a ``CHW`` tensor, after optional padding.

    Parameters
    ----------
    size
        The output's height and width, or one int for a square.
    padding
        Pixels added on every side first (the classic CIFAR augmentation is
        ``RandomCrop(32, padding=4)``).
    fill
        The value of constant padding.
    padding_mode
        ``"constant"``, ``"reflect"``, ``"replicate"`` or ``"circular"``.

    Examples
    --------
    >>> import torch
    >>> from pbgml.data import RandomCrop
    >>> RandomCrop(32, padding=4)(torch.rand(3, 32, 32)).shape
    torch.Size([3, 32, 32])
    """

    def __init__(
        self,
        size: int | Sequence[int],
        padding: int = 0,
        fill: float = 0.0,
        padding_mode: str = "constant",
    ) -> None:
        self.size = _pair(size, "size")
        if not isinstance(padding, int) or padding < 0:
            raise DataError(
                f"random_crop: padding={padding!r} must be an int >= 0", param="padding"
            )
        if padding_mode not in _PADDING_MODES:
            raise DataError(
                f"random_crop: unknown padding_mode={padding_mode!r}."
                f"{did_you_mean(padding_mode, _PADDING_MODES)} Choices: {', '.join(_PADDING_MODES)}.",
                param="padding_mode",
            )
        self.padding = padding
        self.fill = fill
        self.padding_mode = padding_mode

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        shape = tuple(x.shape)
        if self.padding:
            pad = (self.padding,) * 4
            if self.padding_mode == "constant":
                x = F.pad(x, pad, value=self.fill)
            else:
                x = (
                    F.pad(x.float().unsqueeze(0), pad, mode=self.padding_mode)
                    .squeeze(0)
                    .to(x.dtype)
                )
        height, width = x.shape[-2], x.shape[-1]
        th, tw = self.size
        if height < th or width < tw:
            raise DataError(
                f"random_crop: size={self.size!r} is larger than the image, {height}x{width} "
                f"after padding={self.padding} (input shape {shape}, expected CHW): "
                "lower size or raise padding",
                param="size",
            )
        top = int(torch.randint(0, height - th + 1, ()).item())
        left = int(torch.randint(0, width - tw + 1, ()).item())
        return x[..., top : top + th, left : left + tw]

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size!r}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror a tensor left-right (its last dimension) with probability ``p``.

    Examples
    --------
    >>> import torch
    >>> from pbgml.data import RandomHorizontalFlip
    >>> RandomHorizontalFlip(p=1.0)(torch.tensor([[[1, 2, 3]]]))
    tensor([[[3, 2, 1]]])
    """

    def __init__(self, p: float = 0.5) -> None:
        if not 0.0 <= p <= 1.0:
            raise DataError(
                f"random_horizontal_flip: p={p!r} must be a probability in [0, 1]", param="p"
            )
        self.p = p

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.p > 0 and float(torch.rand(())) < self.p:
            return x.flip(-1)
        return x

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class Compose:
    """Apply transforms one after another.

    Parameters
    ----------
    transforms
        Callables, or names registered in :data:`pbgml.registry.transform` (built
        with their defaults), applied in order. An empty list is the identity.

    Examples
    --------
    >>> import torch
    >>> from pbgml.data import Compose, Normalize
    >>> t = Compose(["to_tensor", Normalize(preset="half")])
    >>> t
    Compose([ToTensor(), Normalize(preset='half')])
    >>> t(torch.zeros(4, 4, 3, dtype=torch.uint8)).unique()
    tensor([-1.])
    """

    def __init__(self, transforms: Sequence[Transform | str]) -> None:
        if isinstance(transforms, str) or not isinstance(transforms, Sequence):
            raise DataError(
                f"compose: transforms={transforms!r} must be a list of transforms",
                param="transforms",
            )
        self.transforms: list[Transform] = [_one(t) for t in transforms]

    def __call__(self, x: Any) -> Any:
        for transform in self.transforms:
            x = transform(x)
        return x

    def __repr__(self) -> str:
        return f"Compose([{', '.join(repr(t) for t in self.transforms)}])"


def _one(spec: Transform | str) -> Transform:
    if isinstance(spec, str):
        from pbgml import registry

        built: Transform = registry.transform.build(spec)
        return built
    if not callable(spec):
        raise DataError(
            f"a transform must be callable or a registered name, got {spec!r}", param="transforms"
        )
    return spec


def as_transform(spec: Transform | str | Sequence[Transform | str] | None) -> Transform | None:
    """Turn ``None``, a name, a callable or a list of them into one transform (or ``None``).

    Examples
    --------
    >>> from pbgml.data import as_transform
    >>> as_transform(["to_tensor", "random_horizontal_flip"])
    Compose([ToTensor(), RandomHorizontalFlip(p=0.5)])
    >>> as_transform(None) is None
    True
    """
    if spec is None:
        return None
    if isinstance(spec, str) or callable(spec):
        return _one(spec)
    return Compose(spec)


def register_torchvision(reg: Any, module: ModuleType | None = None) -> list[str]:
    """Register the ``torchvision.transforms.v2`` classes as ``tv_<snake_name>``.

    Does nothing (and returns ``[]``) when torchvision is not installed; when it is
    installed but broken (built for another torch, say), warns with a
    :class:`~pbgml.PluginWarning` naming the error and registers nothing, so
    ``pbgml.data`` still imports.
    """
    from pbgml._names import snake_case

    if module is None:
        module = probe("torchvision.transforms.v2", extra="torchvision")
        if module is None:
            return []
    base = getattr(module, "Transform", None)
    added: list[str] = []
    for attr, obj in sorted(vars(module).items()):
        if attr.startswith("_") or not isinstance(obj, type) or base is None:
            continue
        if issubclass(obj, base) and obj is not base:
            name = f"tv_{snake_case(attr)}"
            if name not in reg:
                reg.register(obj, name=name)
                added.append(name)
    return added
