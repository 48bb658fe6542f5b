"""A TorchServe model archive (``.mar``) built with torch-model-archiver, no server needed.

The archive holds the model's state dict (``model.pt``, read with
``torch.load(weights_only=True)``), the experiment's ``config.yaml``, ``pbgml.json``
(the class names and the sample shape) and pbgml's handler
(:mod:`pbgml._export._handler`), which rebuilds the model from the config.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import torch

from pbgml._errors import require
from pbgml._export import _handler
from pbgml._export._errors import ExportError, VerificationError
from pbgml._export._source import Source

__all__ = ["verify_torchserve", "write_torchserve"]

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


def verify_torchserve(source: Source, path: Path) -> bool:
    """Run the archive's own handler in-process (as TorchServe would: extracted, imported by
    file, ``initialize`` then ``handle``) on a sample batch sent as JSON and compare its
    probabilities (or predictions) with the model's. Returns False when no sample can be
    made (no sample shape, or a model of token ids, which JSON floats cannot feed)."""
    from pbgml._export._formats import _compare
    from pbgml._export._samples import _dtype, sample_batch

    if source.sample_shape is None or _dtype(source) != torch.float32:
        return False
    batch = sample_batch(source)
    what = "TorchServe archive (its handler run in-process)"
    with tempfile.TemporaryDirectory(prefix="pbgml-mar-check-") as tmp:
        folder = Path(tmp)
        try:
            with zipfile.ZipFile(path) as archive:
                archive.extractall(folder)
            manifest = json.loads((folder / "MAR-INF" / "MANIFEST.json").read_text("utf-8"))
            handler_file = folder / str(manifest["model"]["handler"])
            spec = importlib.util.spec_from_file_location("_pbgml_mar_handler", handler_file)
            assert spec is not None
            assert spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            context = SimpleNamespace(
                system_properties={"model_dir": str(folder), "gpu_id": None, "batch_size": 1},
                manifest=manifest,
            )
            handler = module.PbgmlHandler()
            handler.initialize(context)
            rows = handler.handle([{"data": json.dumps(x.tolist())} for x in batch], context)
        except Exception as err:  # the archive's handler failing is the verification failing
            raise VerificationError(
                f"{path}: the {what} fails ({type(err).__name__}: {err}), so the file was removed",
                path=str(path),
            ) from err
    with torch.no_grad():
        out = source.model(batch).float()
    if source.is_regression:
        expected = out.reshape(len(batch), -1)
        got = torch.tensor([row["prediction"] for row in rows]).reshape(len(batch), -1)
    else:
        expected = torch.softmax(out.reshape(len(batch), -1), dim=-1)
        got = torch.tensor([list(row["probabilities"].values()) for row in rows])
    _compare(expected, [got], path, what, len(batch))
    return True
