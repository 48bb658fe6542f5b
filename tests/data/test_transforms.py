from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from pbgml import PluginWarning, Registry, registry
from pbgml.configs import (
    ComposeConf,
    NormalizeConf,
    RandomCropConf,
    RandomHorizontalFlipConf,
    ToTensorConf,
    config_for,
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
    """Enough of PIL.Image.Image for to_tensor, without depending on Pillow."""

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


def test_to_tensor_leaves_a_chw_uint8_tensor_alone() -> None:
    chw = torch.zeros(3, 32, 32, dtype=torch.uint8)
    chw[1] = 255
    x = ToTensor()(chw)
    assert x.shape == (3, 32, 32)
    assert x[1].unique().tolist() == [1.0]
    assert x[0].unique().tolist() == [0.0]
    assert ToTensor()(torch.zeros(1, 28, 28, dtype=torch.uint8)).shape == (1, 28, 28)
    assert ToTensor()(torch.zeros(4, 9, 9, dtype=torch.uint8)).shape == (4, 9, 9)  # RGBA


def test_to_tensor_layout_rule() -> None:
    assert ToTensor()(torch.zeros(32, 32, 3, dtype=torch.uint8)).shape == (3, 32, 32)  # HWC
    assert ToTensor()(torch.rand(6, 5, 3)).shape == (3, 6, 5)  # a float HWC tensor too
    assert ToTensor()(torch.rand(3, 4, 5)).shape == (3, 4, 5)  # float CHW
    # the shape does not tell: uint8 is HWC (how images are stored), float is CHW
    assert ToTensor()(torch.zeros(3, 5, 3, dtype=torch.uint8)).shape == (3, 3, 5)
    assert ToTensor()(torch.rand(2, 8, 8)).shape == (2, 8, 8)
    # arrays are always HWC, whatever their shape
    assert ToTensor()(np.zeros((3, 32, 32), dtype=np.uint8)).shape == (32, 3, 32)


def test_to_tensor_rejects_other_inputs() -> None:
    with pytest.raises(DataError, match=r"to_tensor: pic must be .* got list") as info:
        ToTensor()([1, 2, 3])
    assert info.value.param == "pic"
    with pytest.raises(DataError, match=r"to_tensor: pic must be a 2-D .* \(1, 2, 3, 4\)") as bad:
        ToTensor()(torch.zeros(1, 2, 3, 4))
    assert bad.value.param == "pic"


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
    with pytest.raises(DataError, match="put to_tensor first") as info:
        Normalize(preset="cifar10")(torch.zeros(32, 32, 3))
    assert info.value.param == "mean"
    message = str(info.value)
    assert message.startswith("normalize: mean=(0.4914, 0.4822, 0.4465) and std=(0.247,")
    assert "has 32 channels" in message


def test_normalize_rejects_integer_tensors() -> None:
    image = torch.full((3, 4, 4), 255, dtype=torch.uint8)
    with pytest.raises(DataError, match=r"normalize expects float tensors in \[0, 1\]; put "):
        Normalize(preset="half")(image)  # uint8 arithmetic gave inf before
    with pytest.raises(DataError, match=r"to_tensor before it .*torch\.int64"):
        Normalize(mean=[0.5], std=[0.5]).undo(torch.zeros(1, 2, 2, dtype=torch.long))
    assert torch.isfinite(Normalize(preset="half")(ToTensor()(image))).all()


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
    with pytest.raises(DataError, match="larger than") as info:
        RandomCrop(7, padding=1)(torch.zeros(1, 4, 4))
    assert info.value.param == "size"
    message = str(info.value)
    assert message.startswith("random_crop: size=(7, 7) is larger than the image, 6x6")
    assert "after padding=1" in message
    assert "(1, 4, 4)" in message
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
        assert config_for("transform", name) is conf
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


FindSpec = Callable[..., "importlib.machinery.ModuleSpec | None"]


def _pretend_torchvision(monkeypatch: pytest.MonkeyPatch, installed: bool) -> None:
    """Make ``find_spec("torchvision")`` answer as if it were (not) installed."""
    real: FindSpec = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> importlib.machinery.ModuleSpec | None:
        if name == "torchvision":
            return importlib.machinery.ModuleSpec("torchvision", None) if installed else None
        return real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_torchvision_absent_registers_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    _pretend_torchvision(monkeypatch, installed=False)
    monkeypatch.setitem(sys.modules, "torchvision.transforms.v2", None)  # never imported
    reg: Registry[object] = Registry("transform")
    assert register_torchvision(reg) == []
    assert reg.names("tv_*") == []


def _fake_transforms_v2() -> types.ModuleType:
    class Transform:
        pass

    class ColorJitter(Transform):
        pass

    fake = types.ModuleType("torchvision.transforms.v2")
    fake.Transform = Transform  # type: ignore[attr-defined]
    fake.ColorJitter = ColorJitter  # type: ignore[attr-defined]
    return fake


def test_torchvision_installed_is_imported_and_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    _pretend_torchvision(monkeypatch, installed=True)
    fake = _fake_transforms_v2()
    monkeypatch.setitem(sys.modules, "torchvision.transforms.v2", fake)
    reg: Registry[object] = Registry("transform")
    assert register_torchvision(reg) == ["tv_color_jitter"]
    assert reg.get("tv_color_jitter") is fake.ColorJitter


def _write_broken_torchvision(root: Path) -> Path:
    """A torchvision whose transforms fail to import, as one built for another torch does."""
    package = root / "torchvision"
    (package / "transforms").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "transforms" / "__init__.py").write_text(
        "raise RuntimeError('operator torchvision::nms does not exist')\n"
    )
    return root


@pytest.fixture
def broken_torchvision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in [m for m in sys.modules if m.partition(".")[0] == "torchvision"]:
        monkeypatch.delitem(sys.modules, name)  # a real one, if any, is restored afterwards
    root = _write_broken_torchvision(tmp_path / "site")
    monkeypatch.syspath_prepend(str(root))
    yield root
    for name in [m for m in sys.modules if m.partition(".")[0] == "torchvision"]:
        del sys.modules[name]


def test_broken_torchvision_warns_and_registers_nothing(broken_torchvision: Path) -> None:
    reg: Registry[object] = Registry("transform")
    with pytest.warns(PluginWarning, match="torchvision is installed but") as caught:
        assert register_torchvision(reg) == []
    message = str(caught[0].message)
    assert "torchvision.transforms.v2" in message
    assert "RuntimeError: operator torchvision::nms does not exist" in message
    assert reg.names("tv_*") == []


_IMPORT_DATA = """
import json, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import pbgml.data
    from pbgml import registry
    names = registry.transform.names("tv_*")
    normalize = registry.transform.build("normalize", preset="half")
print(json.dumps({
    "names": names,
    "normalize": repr(normalize),
    "warnings": [f"{w.category.__name__}: {w.message}" for w in caught],
}))
"""


def test_broken_torchvision_keeps_pbgml_data_importable(tmp_path: Path) -> None:
    root = _write_broken_torchvision(tmp_path / "site")
    paths = [str(root), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_DATA],
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["names"] == []
    assert report["normalize"] == "Normalize(preset='half')"
    broken = [w for w in report["warnings"] if "transforms.v2" in w]
    assert len(broken) == 1
    assert broken[0].startswith("PluginWarning: torchvision is installed but")
    assert "RuntimeError: operator torchvision::nms does not exist" in broken[0]


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
