"""An ImageFolder-style dataset: ``root/<class>/<image>``, read lazily."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from pbgml._errors import did_you_mean
from pbgml._optional import needs
from pbgml.data._errors import DataError, malformed, missing, require
from pbgml.data._transforms import Transform

__all__ = ["IMAGE_EXTENSIONS", "ImageFolder"]

#: Read with Pillow (the ``vision`` extra).
PIL_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".pgm", ".png", ".ppm", ".tif", ".tiff", ".webp")
#: Read without Pillow: a saved tensor (``torch.save``) or a numpy array (``numpy.save``).
ARRAY_EXTENSIONS = (".npy", ".pt")
#: Every extension :class:`ImageFolder` reads.
IMAGE_EXTENSIONS = PIL_EXTENSIONS + ARRAY_EXTENSIONS


@needs("PIL", extra="vision")
class ImageFolder(Dataset[tuple[Any, Any]]):
    """Images sorted in one sub-folder per class: ``root/<class>/<image>``.

    Classes are the sub-folders' names, sorted (index ``i`` is ``classes[i]``);
    each class folder is searched recursively. Images are read when indexed: PNG,
    JPEG and the other Pillow formats as RGB PIL images (needs Pillow: ``pip install
    pbgml[vision]``), ``.pt`` files as the saved tensor (loaded with
    ``weights_only=True``) and ``.npy`` files as the saved array (no pickles).

    Parameters
    ----------
    root
        The folder of class folders.
    extensions
        The file extensions to keep (default: every one in ``IMAGE_EXTENSIONS``).
    transform, target_transform
        Applied to an image / a label when it is read.

    Examples
    --------
    >>> import pathlib, tempfile, torch
    >>> from pbgml.data import ImageFolder
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for cls in ("cat", "dog"):
    ...     (root / cls).mkdir()
    ...     torch.save(torch.zeros(8, 8, 3, dtype=torch.uint8), root / cls / "0.pt")
    >>> ds = ImageFolder(root)
    >>> ds.classes, len(ds), ds[1][1]
    (['cat', 'dog'], 2, 1)
    """

    def __init__(
        self,
        root: str,
        extensions: Sequence[str] | None = None,
        *,
        transform: Transform | None = None,
        target_transform: Transform | None = None,
    ) -> None:
        self.root = os.fspath(root)
        base = Path(root)
        keep = self._extensions(extensions)
        if not base.is_dir():
            raise missing(
                "root",
                self.root,
                "one sub-folder per class (root/<class>/<image>)",
                self.root,
                problem="that folder does not exist",
            )
        self.classes = sorted(
            entry.name
            for entry in base.iterdir()
            if entry.is_dir() and not entry.name.startswith(".")
        )
        if not self.classes:
            raise DataError(
                f"root={self.root!r}: expected one sub-folder per class (root/<class>/<image>), "
                "found none",
                path=self.root,
                param="root",
            )
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}
        self.samples: list[tuple[str, int]] = []
        for name in self.classes:
            for folder, dirs, files in sorted(os.walk(base / name)):
                dirs.sort()
                for file in sorted(files):
                    if file.lower().endswith(keep):
                        self.samples.append((os.path.join(folder, file), self.class_to_idx[name]))
        if not self.samples:
            raise DataError(
                f"root={self.root!r}: found no images ({', '.join(keep)}) in its class folders",
                path=self.root,
                param="root",
            )
        if any(path.lower().endswith(PIL_EXTENSIONS) for path, _ in self.samples):
            require("PIL", extra="vision", purpose=f"reading the images in {self.root}")
        self.targets = [label for _, label in self.samples]
        self.transform = transform
        self.target_transform = target_transform

    @staticmethod
    def _extensions(extensions: Sequence[str] | None) -> tuple[str, ...]:
        if extensions is None:
            return IMAGE_EXTENSIONS
        if isinstance(extensions, str):
            extensions = [extensions]
        chosen = []
        for ext in extensions:
            dotted = ext.lower() if ext.startswith(".") else f".{ext.lower()}"
            if dotted not in IMAGE_EXTENSIONS:
                raise DataError(
                    f"extensions: {ext!r} is not a format ImageFolder reads."
                    f"{did_you_mean(dotted, IMAGE_EXTENSIONS)} Choices: {', '.join(IMAGE_EXTENSIONS)}.",
                    param="extensions",
                )
            chosen.append(dotted)
        return tuple(chosen)

    @property
    def num_classes(self) -> int:
        """The number of class folders."""
        return len(self.classes)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        path, label = self.samples[index]
        image = load_image(path)
        target: Any = label
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def __repr__(self) -> str:
        return f"ImageFolder(root={self.root!r}, classes={len(self.classes)}, len={len(self)})"


def load_image(path: str) -> Any:
    """Read one image file: a PIL RGB image, or the tensor stored in a ``.pt``/``.npy`` file."""
    lower = path.lower()
    if lower.endswith(".pt"):
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            raise malformed("root", path, path, f"not a saved tensor ({err})") from err
        if not isinstance(obj, torch.Tensor):
            raise malformed("root", path, path, f"expected a tensor, got {type(obj).__name__}")
        return obj
    if lower.endswith(".npy"):
        numpy = require("numpy", extra=None, purpose="reading .npy images")
        try:
            array = numpy.load(path, allow_pickle=False)
        except ValueError as err:
            raise malformed("root", path, path, f"not a numpy array file ({err})") from err
        return torch.from_numpy(array)
    image_module = require("PIL.Image", extra="vision", purpose=f"reading {path}")
    try:
        with image_module.open(path) as image:
            return image.convert("RGB")
    except OSError as err:
        raise malformed("root", path, path, f"not a readable image ({err})") from err
