"""A TorchServe model archive (``.mar``) built with torch-model-archiver, no server needed.

The archive holds the model's state dict (``model.pt``, read with
``torch.load(weights_only=True)``), the experiment's ``config.yaml``, ``pbgml.json``
(the class names and the sample shape) and pbgml's handler
(:mod:`pbgml._export._handler`), which rebuilds the model from the config.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch

from pbgml._errors import require
from pbgml._export import _handler
from pbgml._export._errors import ExportError
from pbgml._export._source import Source

__all__ = ["write_torchserve"]

_NEEDS_CONFIG = (
    "{name}: a TorchServe archive rebuilds the model from its config, and this model has "
    "none; export a checkpoint written by pbgml.run (pbgml export CKPT --format torchserve)"
)


@contextlib.contextmanager
def _quiet_archiver() -> Iterator[None]:
    """torch-model-archiver leaves its version file open on import (a ResourceWarning)."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"unclosed file .*version\.txt", category=ResourceWarning
        )
        yield


def write_torchserve(source: Source, path: Path) -> Path:
    """Write ``path`` (``<name>.mar``): weights, config, metadata and pbgml's handler."""
    if source.config_text is None:
        raise ExportError(_NEEDS_CONFIG.format(name=source.name))
    if path.suffix != ".mar":
        raise ExportError(f"{path}: a TorchServe archive's name ends with .mar", path=str(path))
    with _quiet_archiver():
        require("model_archiver", extra="serve", purpose="Writing a TorchServe archive")
        from model_archiver.model_archiver_config import ModelArchiverConfig  # type: ignore[import-untyped]
        from model_archiver.model_packaging import package_model  # type: ignore[import-untyped]
        from model_archiver.model_packaging_utils import ModelExportUtils  # type: ignore[import-untyped]

        with tempfile.TemporaryDirectory(prefix="pbgml-mar-") as tmp:
            folder = Path(tmp)
            torch.save(source.model.state_dict(), folder / "model.pt")
            (folder / _handler.CONFIG_FILE).write_text(source.config_text, encoding="utf-8")
            meta = {
                "classes": source.classes,
                "sample_shape": None if source.sample_shape is None else list(source.sample_shape),
            }
            (folder / _handler.META_FILE).write_text(json.dumps(meta), encoding="utf-8")
            config = ModelArchiverConfig(
                model_name=path.stem,
                handler=str(Path(_handler.__file__)),
                version="1.0",
                serialized_file=str(folder / "model.pt"),
                extra_files=",".join(
                    str(folder / name) for name in (_handler.CONFIG_FILE, _handler.META_FILE)
                ),
                export_path=str(path.parent),
                force=True,
            )
            manifest = ModelExportUtils.generate_manifest_json(config)
            try:
                package_model(config, manifest=manifest)
            except Exception as err:
                raise ExportError(
                    f"{path}: torch-model-archiver failed ({type(err).__name__}: {err})",
                    path=str(path),
                ) from err
    return path
