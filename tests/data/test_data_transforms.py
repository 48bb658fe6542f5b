from __future__ import annotations

import importlib.util
import types

import numpy as np
import pytest
import torch

from pbgml import Registry, registry
from pbgml.configs import (
    ComposeConf,
    NormalizeConf,
    RandomCropConf,
    RandomHorizontalFlipConf,
    ToTensorConf,
)
from pbgml.data import (
    NORMALIZE_PRESETS,
    Compose,
    DataError,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    ToTensor,
    as_transform,
)
from pbgml.data._transforms import register_torchvision

# -- to_tensor -----------------------------------------------------------------------


def test_to_tensor_hwc_uint8_tensor_and_array() -> None:
    image = torch.zeros(4, 5, 3, dtype=torch.uint8)
    image[..., 1] = 255
    for pic in (image, image.numpy()):
        x = ToTensor()(pic)
        assert x.shape == (3, 4, 5)
        assert x.dtype == torch.float32
        assert x[1].unique().tolist() == [1.0]
        assert x[0].unique().tolist() == [0.0]


def test_to_tensor_grayscale_and_float() -> None:
    assert ToTensor()(np.full((6, 7), 51, dtype=np.uint8)).unique().tolist() == [pytest.approx(0.2)]
    assert ToTensor()(torch.zeros(6, 7, dtype=torch.uint8)).shape == (1, 6, 7)
    chw = torch.rand(3, 4, 4, dtype=torch.float64)
    out = ToTensor()(chw)
    assert out.dtype == torch.float32
    assert torch.allclose(out, chw.float())  # float tensors are CHW already, unscaled
    hwc_float = np.ones((4, 5, 3), dtype=np.float32)
    assert ToTensor()(hwc_float).shape == (3, 4, 5)  # arrays are HWC


class _FakePIL:
    """Enough of PIL.Image.Image for to_tensor (Pillow is not installed here)."""

    __module__ = "PIL.Image"

    def __init__(self, mode: str, size: tuple[int, int], data: bytes) -> None:
        self.mode, self.size, self._data = mode, size, data

    def getbands(self) -> tuple[str, ...]:
        return tuple(self.mode)

    def tobytes(self) -> bytes:
        return self._data

    def convert(self, mode: str) -> _FakePIL:
        return _FakePIL(mode, self.size, bytes(len(self._data) * len(mode)))


def test_to_tensor_pil_images() -> None:
    rgb = _FakePIL("RGB", (2, 1), bytes([255, 0, 0, 0, 255, 0]))  # width 2, height 1
    x = ToTensor()(rgb)
    assert x.shape == (3, 1, 2)
    assert x[:, 0, 0].tolist() == [1.0, 0.0, 0.0]
    assert x[:, 0, 1].tolist() == [0.0, 1.0, 0.0]
    assert ToTensor()(_FakePIL("P", (2, 2), bytes(4))).shape == (3, 2, 2)


def test_to_tensor_rejects_other_inputs() -> None:
    with pytest.raises(DataError, match="got list"):
        ToTensor()([1, 2, 3])
    with pytest.raises(DataError, match="2-D or 3-D"):
        ToTensor()(torch.zeros(1, 2, 3, 4))


# -- normalize -----------------------------------------------------------------------


def test_normalize_half_maps_unit_interval_to_minus_one_one() -> None:
    half = Normalize(preset="half")
    x = torch.stack([torch.zeros(2, 2), torch.full((2, 2), 0.5), torch.ones(2, 2)])
    assert half(x)[:, 0, 0].tolist() == [-1.0, 0.0, 1.0]
    assert torch.allclose(half.undo(half(x)), x)
    assert half(torch.ones(1, 3, 3)).unique().tolist() == [1.0]  # any channel count


def test_normalize_presets_and_explicit_values() -> None:
    cifar = Normalize(preset="cifar10")
    mean, std = NORMALIZE_PRESETS["cifar10"]
    x = torch.ones(3, 1, 1)
    expected = [(1 - m) / s for m, s in zip(mean, std, strict=True)]
    assert cifar(x).flatten().tolist() == pytest.approx(expected)
    explicit = Normalize(mean=[0.1307], std=[0.3081])
    assert explicit(torch.zeros(1, 2, 2)).unique().item() == pytest.approx(-0.1307 / 0.3081)
    batch = torch.zeros(5, 3, 2, 2)
    assert Normalize(preset="imagenet")(batch).shape == (5, 3, 2, 2)


def test_normalize_errors() -> None:
    with pytest.raises(DataError, match="Did you mean 'cifar10'") as info:
        Normalize(preset="cifar")
    assert info.value.param == "preset"
    with pytest.raises(DataError, match="not both"):
        Normalize(mean=[0.5], std=[0.5], preset="half")
    with pytest.raises(DataError, match="needs mean and std"):
        Normalize()
    with pytest.raises(DataError, match="must be positive"):
        Normalize(mean=[0.5], std=[0.0])
    with pytest.raises(DataError, match="same, non-zero"):
        Normalize(mean=[0.5, 0.5], std=[0.5])
    with pytest.raises(DataError, match="apply to_tensor first"):
        Normalize(preset="cifar10")(torch.zeros(32, 32, 3))


# -- random crop and flip ------------------------------------------------------------


def test_random_crop_is_seeded_by_torch() -> None:
    x = torch.arange(3 * 10 * 10, dtype=torch.float32).view(3, 10, 10)
    crop = RandomCrop(8, padding=2)
    torch.manual_seed(0)
    a = crop(x)
    torch.manual_seed(0)
    b = crop(x)
    assert a.shape == (3, 8, 8)
    assert torch.equal(a, b)
    offsets = set()
    for _ in range(30):
        offsets.add(float(crop(x)[0].max()))
    assert len(offsets) > 1  # it is random


def test_random_crop_padding() -> None:
    x = torch.ones(1, 2, 2)
    padded = RandomCrop(6, padding=2, fill=-1.0)(x)
    assert padded.shape == (1, 6, 6)
    assert padded.sum().item() == 4 - 32  # four ones, 32 padding pixels of -1
    reflected = RandomCrop((4, 4), padding=1, padding_mode="reflect")(torch.rand(3, 4, 4))
    assert reflected.shape == (3, 4, 4)


def test_random_crop_errors() -> None:
    with pytest.raises(DataError, match="larger than"):
        RandomCrop(5)(torch.zeros(1, 4, 4))
    with pytest.raises(DataError, match="Did you mean 'reflect'") as info:
        RandomCrop(4, padding_mode="reflct")
    assert info.value.param == "padding_mode"
    with pytest.raises(DataError, match="size=0"):
        RandomCrop(0)
    with pytest.raises(DataError, match="padding=-1"):
        RandomCrop(4, padding=-1)


def test_random_horizontal_flip() -> None:
    x = torch.tensor([[[1.0, 2.0, 3.0]]])
    assert RandomHorizontalFlip(p=1.0)(x).flatten().tolist() == [3.0, 2.0, 1.0]
    assert RandomHorizontalFlip(p=0.0)(x) is x
    torch.manual_seed(0)
    flips = sum(RandomHorizontalFlip()(x)[0, 0, 0].item() == 3.0 for _ in range(200))
    assert 60 < flips < 140
    with pytest.raises(DataError, match=r"p=1.5 must be a probability") as info:
        RandomHorizontalFlip(p=1.5)
    assert info.value.param == "p"


# -- compose and the registry --------------------------------------------------------


def test_compose_takes_callables_and_registered_names() -> None:
    t = Compose(["to_tensor", Normalize(preset="half"), lambda x: x * 2])
    out = t(torch.full((2, 2, 3), 255, dtype=torch.uint8))
    assert out.shape == (3, 2, 2)
    assert out.unique().tolist() == [2.0]
    assert Compose([])(5) == 5
    with pytest.raises(Exception, match="Did you mean 'to_tensor'"):
        Compose(["to_tensr"])
    with pytest.raises(DataError, match="must be callable"):
        Compose([3])  # type: ignore[list-item]
    with pytest.raises(DataError, match="must be a list"):
        Compose("to_tensor")


def test_as_transform() -> None:
    assert as_transform(None) is None
    assert isinstance(as_transform("to_tensor"), ToTensor)
    composed = as_transform(["to_tensor"])
    assert isinstance(composed, Compose)
    fn = abs
    assert as_transform(fn) is fn


def test_transforms_are_registered_with_typed_configs() -> None:
    expected = {
        "to_tensor": (ToTensor, ToTensorConf),
        "normalize": (Normalize, NormalizeConf),
        "random_crop": (RandomCrop, RandomCropConf),
        "random_horizontal_flip": (RandomHorizontalFlip, RandomHorizontalFlipConf),
        "compose": (Compose, ComposeConf),
    }
    for name, (target, conf) in expected.items():
        assert registry.transform.get(name) is target
        assert registry.transform.config(name) is conf
        assert registry.transform.get(target.__name__) is target  # alias
    built = registry.transform.build("normalize", preset="half")
    assert repr(built) == "Normalize(preset='half')"


def test_typed_transform_configs_instantiate() -> None:
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    conf = ComposeConf(
        transforms=[
            ToTensorConf(),
            RandomCropConf(size=[4, 4], padding=1),
            NormalizeConf(preset="half"),
        ]
    )
    built = instantiate(OmegaConf.structured(conf))
    assert isinstance(built, Compose)
    out = built(torch.zeros(4, 4, 3, dtype=torch.uint8))
    assert out.shape == (3, 4, 4)


def test_torchvision_absent_registers_nothing() -> None:
    assert importlib.util.find_spec("torchvision") is None  # not installed here
    assert registry.transform.names("tv_*") == []
    assert register_torchvision(Registry("transform")) == []


def test_torchvision_present_registers_its_transforms() -> None:
    class Transform:
        pass

    class RandomResizedCrop(Transform):
        def __init__(self, size: int) -> None:
            self.size = size

    class ColorJitter(Transform):
        pass

    fake = types.ModuleType("torchvision.transforms.v2")
    fake.Transform = Transform  # type: ignore[attr-defined]
    fake.RandomResizedCrop = RandomResizedCrop  # type: ignore[attr-defined]
    fake.ColorJitter = ColorJitter  # type: ignore[attr-defined]
    fake._private = ColorJitter  # type: ignore[attr-defined]
    reg: Registry[object] = Registry("transform")
    assert register_torchvision(reg, fake) == ["tv_color_jitter", "tv_random_resized_crop"]
    assert reg.get("tv_random_resized_crop") is RandomResizedCrop
