"""The TorchServe handler pbgml ships in its model archives (``pbgml export --format torchserve``).

It rebuilds the model from the archived config (``config.yaml``, through pbgml's
allowlist) and loads the archived state dict with ``torch.load(weights_only=True)``;
a request is an image (bytes, through the data config's eval transforms), a JSON list
of features, or a list of them; the answer for each request is the predicted class,
its label and every class's probability. TorchServe calls :meth:`PbgmlHandler.handle`;
the module defines one class, as TorchServe's loader requires, and does not import
TorchServe, so it runs (and is tested) in-process without a server.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import torch

__all__ = ["PbgmlHandler"]

#: The archived files besides the handler and the weights.
CONFIG_FILE, META_FILE = "config.yaml", "pbgml.json"


class PbgmlHandler:
    """TorchServe's entry point: ``initialize(context)`` once, then ``handle(data, context)``.

    Examples
    --------
    >>> from pbgml._export._handler import PbgmlHandler
    >>> PbgmlHandler().initialized
    False
    """

    def __init__(self) -> None:
        self.initialized = False
        self.model: torch.nn.Module | None = None
        self.device = torch.device("cpu")
        self.transform: Any = None
        self.classes: list[str] | None = None
        self.sample_shape: tuple[int, ...] | None = None
        self.regression = False

    def initialize(self, context: Any) -> None:
        """Rebuild the model from the archive's config and weights (``context.system_properties
        ['model_dir']``; the weights are the manifest's ``serializedFile``)."""
        from pbgml._export._samples import eval_transform
        from pbgml._export._source import Source, build_model

        properties = context.system_properties
        model_dir = Path(properties.get("model_dir") or ".")
        gpu = properties.get("gpu_id")
        if torch.cuda.is_available() and gpu is not None:
            self.device = torch.device(f"cuda:{gpu}")
        manifest = getattr(context, "manifest", None) or {}
        weights = model_dir / str(manifest.get("model", {}).get("serializedFile", "model.pt"))
        meta = json.loads((model_dir / META_FILE).read_text(encoding="utf-8"))
        config_text = (model_dir / CONFIG_FILE).read_text(encoding="utf-8")
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model, tree = build_model(weights, config_text, lambda m: m.load_state_dict(state))
        self.model = model.to(self.device).eval()
        self.transform = eval_transform(tree)
        self.classes = meta.get("classes")
        shape = meta.get("sample_shape")
        self.sample_shape = None if shape is None else tuple(int(s) for s in shape)
        self.regression = Source(model, experiment=tree).is_regression
        self.initialized = True

    def _sample(self, body: Any) -> torch.Tensor:
        from pbgml._export._inputs import to_image_tensor

        if isinstance(body, bytes | bytearray):
            try:
                from PIL import Image

                with Image.open(io.BytesIO(body)) as image:
                    image.load()
                    return to_image_tensor(image, self.transform, self.sample_shape)
            except (ImportError, OSError):
                body = json.loads(bytes(body).decode("utf-8"))
        if isinstance(body, str):
            body = json.loads(body)
        if isinstance(body, dict):
            body = body.get("inputs", body.get("data", body))
        return torch.as_tensor(body, dtype=torch.float32)

    def preprocess(self, data: list[dict[str, Any]]) -> torch.Tensor:
        """One batch of the requests: each ``data`` or ``body`` an image or a JSON list."""
        samples = []
        for request in data:
            body = (
                request.get("data", request.get("body")) if isinstance(request, dict) else request
            )
            sample = self._sample(body)
            if self.sample_shape is not None and tuple(sample.shape) != self.sample_shape:
                raise ValueError(
                    f"an input of shape {tuple(sample.shape)}, but the model takes samples of "
                    f"shape {self.sample_shape}"
                )
            samples.append(sample)
        return torch.stack(samples)

    def inference(self, batch: torch.Tensor) -> torch.Tensor:
        """The model's outputs on a batch (no gradients, on the handler's device)."""
        assert self.model is not None, "call initialize(context) first"
        with torch.no_grad():
            out: torch.Tensor = self.model(batch.to(self.device))
            return out.cpu()

    def postprocess(self, outputs: torch.Tensor) -> list[dict[str, Any]]:
        """Per request: ``class``, ``label`` and ``probabilities`` (label -> probability)."""
        from pbgml._export._predict import probabilities_row

        rows: list[dict[str, Any]] = []
        for out in outputs:
            if self.regression:
                rows.append({"prediction": out.reshape(-1).tolist()})
                continue
            labels = self.classes
            if labels is None or len(labels) != out.shape[-1]:
                labels = [str(i) for i in range(out.shape[-1])]
            rows.append(probabilities_row(out.reshape(-1), labels))
        return rows

    def handle(self, data: list[dict[str, Any]], context: Any) -> list[dict[str, Any]]:
        """TorchServe's entry point: preprocess, inference, postprocess."""
        if not self.initialized:
            self.initialize(context)
        if data is None:  # TorchServe's initialization call
            return []
        return self.postprocess(self.inference(self.preprocess(data)))
