"""What is exported: a model rebuilt from a checkpoint (or a safetensors file) with its config.

A pbgml checkpoint holds the experiment's YAML (``config``), facts about the data
(``meta``: the sample shape, the class names) and the task's weights, whose keys carry
the task's ``model.`` prefix. The model is rebuilt from the checkpoint's own config
through the allowlist (:func:`pbgml.instantiate` on the ``model`` node: a target the
registry or ``allow`` does not know is refused, no module named by a file is
imported), then the weights are loaded (``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from pbgml._config._instantiate import instantiate
from pbgml._config._tree import read_yaml_text
from pbgml._errors import ConfigError, PbgmlError
from pbgml._export._errors import ExportError, _MissingFileError

__all__ = ["Source", "build_model", "load_model", "read_source", "strip_prefix"]

#: The metadata keys of a safetensors file pbgml writes (every value is a string).
META_FORMAT, META_CONFIG, META_CLASSES, META_SHAPE, META_VERSION = (
    "format",
    "pbgml.config",
    "pbgml.classes",
    "pbgml.sample_shape",
    "pbgml.version",
)
FORMAT_TAG = "pbgml"
_WHAT = "a checkpoint (.ckpt) or a safetensors file written by pbgml.export"
_NO_CONFIG = (
    "{path}: the file holds no pbgml config, so the model cannot be rebuilt from it; "
    "use a checkpoint written by pbgml.run or the Trainer with config_text, or export "
    "the model object itself (pbgml.export(model, ...))"
)
_NOT_FIT = (
    "{path}: the weights do not fit the model its config builds ({target}): {detail}; "
    "the checkpoint's weights come from another model (or its config was edited): use "
    "the checkpoint of this run, or rebuild the model with the config it was trained with"
)


@dataclasses.dataclass
class Source:
    """A model ready to export, with what pbgml knows of it.

    Attributes
    ----------
    model
        The module, in eval mode.
    path
        The file it was read from (``None``: a model object).
    config_text
        The experiment's YAML (``None`` when unknown).
    experiment
        The experiment's tree as plain Python (``{}`` when unknown).
    classes
        The class names (``None`` when unknown).
    sample_shape
        One sample's shape, without the batch dimension (``None`` when unknown).
    """

    model: torch.nn.Module
    path: Path | None = None
    config_text: str | None = None
    experiment: dict[str, Any] = dataclasses.field(default_factory=dict)
    classes: list[str] | None = None
    sample_shape: tuple[int, ...] | None = None

    @property
    def name(self) -> str:
        """The file's name for messages (``'the model'`` for a model object)."""
        return "the model" if self.path is None else os.fspath(self.path)

    @property
    def is_regression(self) -> bool:
        """Whether the experiment's task is a regression (outputs are values, not logits)."""
        task = self.experiment.get("task")
        target = str(task.get("_target_", "")) if isinstance(task, Mapping) else ""
        return "regression" in target.lower()


def strip_prefix(state: Mapping[str, Any], prefix: str = "model.") -> dict[str, Any]:
    """The model's own weights from a task's state: keys under ``prefix``, without it.

    A state with no key under ``prefix`` is returned as is; ``torch.compile``'s
    ``_orig_mod.`` is dropped too.

    Examples
    --------
    >>> from pbgml._export import strip_prefix
    >>> sorted(strip_prefix({"model.fc.weight": 1, "model._orig_mod.fc.bias": 2, "loss.w": 3}))
    ['fc.bias', 'fc.weight']
    """
    own = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    own = own or dict(state)
    return {k.replace("_orig_mod.", ""): v for k, v in own.items()}


def _shape(value: Any) -> tuple[int, ...] | None:
    if isinstance(value, list | tuple) and all(isinstance(v, int) for v in value):
        return tuple(int(v) for v in value)
    return None


def _classes(value: Any) -> list[str] | None:
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return None


def _not_fit(path: Path, node: dict[str, Any], err: RuntimeError) -> ExportError:
    """The weights (keys or shapes) do not fit the model the config builds."""
    detail = " ".join(str(err).split()).removeprefix("Error(s) in loading state_dict for ")
    return ExportError(
        _NOT_FIT.format(path=path, target=node["_target_"], detail=detail[:400]), path=str(path)
    )


def _fits_on_meta(
    path: Path, node: dict[str, Any], load: Callable[[torch.nn.Module], Any], allow: Iterable[str]
) -> None:
    """Try the weights on the model built on the meta device first: a config asking for a
    huge model the weights do not fit is refused before any memory is allocated."""
    try:
        with torch.device("meta"):
            meta = instantiate(node, allow=allow, key="model")
    except Exception:  # a model that cannot be built on meta: the real build decides
        return
    if not isinstance(meta, torch.nn.Module):
        return
    try:
        with warnings.catch_warnings():  # copying into meta parameters is a no-op, on purpose
            warnings.filterwarnings("ignore", message=".*to a meta parameter.*is a no-op")
            load(meta)
    except RuntimeError as err:
        raise _not_fit(path, node, err) from err


def build_model(
    path: Path,
    config_text: str,
    load: Callable[[torch.nn.Module], Any],
    allow: Iterable[str] = (),
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Build the ``model`` node of an experiment's YAML (through the allowlist), then call
    ``load(model)`` to put the weights in; returns the model in eval mode and the tree.

    ``path`` names the file in messages; a load that raises ``RuntimeError`` (keys or
    shapes that differ) becomes an :class:`ExportError` saying the weights come from
    another model.
    """
    tree = read_yaml_text(config_text, f"{path} (its config)").root
    node = tree.get("model") if isinstance(tree, dict) else None
    if not isinstance(node, dict) or "_target_" not in node:
        raise ExportError(_NO_CONFIG.format(path=path), path=str(path))
    _fits_on_meta(path, node, load, allow)
    try:
        model = instantiate(node, allow=allow, key="model")
    except PbgmlError as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        if isinstance(err, ConfigError) and len(lines) > 1:
            lines = lines[1:]  # the issues, without the "N problems" header
        raise ExportError(
            f"{path}: its model config cannot be built ({'; '.join(lines)}); if the "
            "model is your own, pass its module's prefix: allow=[...] "
            "(pbgml export/predict --allow PREFIX)",
            path=str(path),
        ) from err
    if not isinstance(model, torch.nn.Module):
        raise ExportError(
            f"{path}: its model config builds a {type(model).__name__}, not a torch.nn.Module",
            path=str(path),
        )
    try:
        load(model)
    except RuntimeError as err:
        raise _not_fit(path, node, err) from err
    return model.eval(), tree


def _from_checkpoint(path: Path, allow: Iterable[str]) -> Source:
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        reason = " ".join(str(err).split())[:200]
        raise ExportError(
            f"{path}: not a checkpoint torch.load(weights_only=True) can read "
            f"({type(err).__name__}: {reason}); the file is corrupted or not {_WHAT}. "
            "Use the run's checkpoints/last.ckpt or its best checkpoint",
            path=str(path),
        ) from err
    if not isinstance(loaded, dict) or not isinstance(loaded.get("model"), Mapping):
        raise ExportError(
            f"{path}: not a pbgml checkpoint (expected a dict with 'model' weights and "
            f"a 'config'); pass {_WHAT}",
            path=str(path),
        )
    config_text = loaded.get("config")
    if not isinstance(config_text, str):
        raise ExportError(_NO_CONFIG.format(path=path), path=str(path))
    state = strip_prefix(loaded["model"])
    model, tree = build_model(path, config_text, lambda m: m.load_state_dict(state), allow)
    meta_value = loaded.get("meta")
    meta: Mapping[str, Any] = meta_value if isinstance(meta_value, Mapping) else {}
    return Source(
        model,
        path,
        config_text,
        tree,
        _classes(meta.get("classes")),
        _shape(meta.get("sample_shape")),
    )


def _from_safetensors(path: Path, allow: Iterable[str]) -> Source:
    from pbgml._errors import require

    st = require("safetensors.torch", extra="safetensors", purpose="Reading a safetensors file")
    try:
        with st.safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
    except Exception as err:
        raise ExportError(
            f"{path}: not a safetensors file ({type(err).__name__}: {err}); the file is "
            f"corrupted or not {_WHAT}",
            path=str(path),
        ) from err
    config_text = metadata.get(META_CONFIG)
    if metadata.get(META_FORMAT) != FORMAT_TAG or not config_text:
        raise ExportError(_NO_CONFIG.format(path=path), path=str(path))
    model, tree = build_model(path, config_text, lambda m: st.load_model(m, str(path)), allow)
    return Source(
        model,
        path,
        config_text,
        tree,
        _classes(json.loads(metadata.get(META_CLASSES, "null"))),
        _shape(json.loads(metadata.get(META_SHAPE, "null"))),
    )


_PT2_REFUSED = (
    "{path}: pbgml does not load a .pt2 archive: loading one can run code, since "
    "torch.export.load unpickles parts of it; load the checkpoint (.ckpt) or a "
    "safetensors file instead, or torch.export.load the .pt2 yourself if you trust it"
)


def read_source(obj: Any, *, allow: Iterable[str] = ()) -> Source:
    """A :class:`Source` from a model object, a checkpoint or a safetensors file.

    Examples
    --------
    >>> import torch
    >>> from pbgml._export import read_source
    >>> read_source(torch.nn.Linear(2, 1)).name
    'the model'
    """
    if isinstance(obj, Source):
        return obj
    if isinstance(obj, torch.nn.Module):
        return Source(obj.eval())
    if not isinstance(obj, str | os.PathLike):
        raise ExportError(
            f"expected a torch.nn.Module or the path of {_WHAT}, got {type(obj).__name__}"
        )
    path = Path(obj)
    if path.suffix.lower() == ".pt2":
        raise ExportError(_PT2_REFUSED.format(path=path), path=str(path))
    if path.is_dir() and (path / "checkpoints" / "last.ckpt").is_file():
        path = path / "checkpoints" / "last.ckpt"  # a run's folder: its last checkpoint
    if not path.is_file():
        raise _MissingFileError(f"{path}: no such file; pass {_WHAT}", path=str(path))
    if path.suffix == ".safetensors":
        return _from_safetensors(path, allow)
    return _from_checkpoint(path, allow)


def load_model(path: str | os.PathLike[str], *, allow: Iterable[str] = ()) -> torch.nn.Module:
    """Rebuild a trained model from a checkpoint or a safetensors file, in eval mode.

    The model is built from the file's own config through the allowlist (as
    :func:`pbgml.instantiate` does: registered targets, or prefixes in ``allow``), then
    its weights are loaded (a checkpoint with ``torch.load(weights_only=True)``). A
    run's folder means its ``checkpoints/last.ckpt``. A ``.pt2`` file (an
    ExportedProgram) is refused: :func:`torch.export.load` unpickles parts of it, so
    loading one can run code; call :func:`torch.export.load` yourself on a file you trust.

    Parameters
    ----------
    path
        A ``.ckpt`` written by :func:`pbgml.run` (or the Trainer), a ``.safetensors``
        written by :func:`pbgml.export`, or a run folder.
    allow
        Extra allowed target prefixes (your own model's module), given in code.

    Raises
    ------
    pbgml.ExportError
        The file is missing, corrupted, a ``.pt2``, holds no config, or its weights do
        not fit the model its config builds.

    Examples
    --------
    >>> import pbgml
    >>> try:
    ...     pbgml.load_model("no/such.ckpt")
    ... except pbgml.ExportError as err:
    ...     print(err)
    no/such.ckpt: no such file; pass a checkpoint (.ckpt) or a safetensors file written by pbgml.export
    """
    return read_source(path, allow=allow).model
