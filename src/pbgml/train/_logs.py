"""What a stage logs: step values, batch-size-weighted epoch means and metric objects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

from pbgml.metrics import Metric

__all__ = ["StageLog"]


class StageLog:
    """The values a task logs during one stage (``train``, ``val``, ``test``).

    Tensors stay on their device: epoch means are running sums weighted by the
    batch size, turned into floats once, at the end of the epoch. A
    :class:`~pbgml.metrics.Metric` is kept and computed (after
    :meth:`~pbgml.metrics.Metric.sync`) at the end of the epoch; one with several
    values (per class) gives one scalar per value, ``{name}_{class}`` (or the
    name with ``{class}`` replaced).

    Examples
    --------
    >>> import torch
    >>> from pbgml.train._logs import StageLog
    >>> log = StageLog("val")
    >>> log.log("loss", torch.tensor(1.0), batch_size=3)
    >>> log.log("loss", torch.tensor(3.0), batch_size=1)
    >>> log.epoch_values()
    {'val/loss': 1.5}
    """

    def __init__(self, stage: str, *, on_step: bool = False) -> None:
        self.stage = stage
        self.prefix = f"{stage}/"
        self.default_on_step = on_step
        self.batch_size = 1
        self.sums: dict[str, Any] = {}
        self.weights: dict[str, float] = {}
        self.last: dict[str, Any] = {}
        self.metrics: dict[str, Metric] = {}
        self.prog_bar: set[str] = set()
        self._keys: dict[str, str] = {}

    def key(self, name: str) -> str:
        """``{stage}/{name}``, unless ``name`` already starts with the stage."""
        key = self._keys.get(name)
        if key is None:
            key = name if name.startswith(self.prefix) else self.prefix + name
            self._keys[name] = key
        return key

    def log(
        self,
        name: str,
        value: Any,
        *,
        on_step: bool | None = None,
        on_epoch: bool | None = None,
        prog_bar: bool = False,
        batch_size: int | None = None,
    ) -> None:
        """Record one value (a tensor, a number or a Metric) for the current batch."""
        key = self.key(name)
        if prog_bar:
            self.prog_bar.add(key)
        if isinstance(value, Metric):
            self.metrics[key] = value
            return
        if isinstance(value, Tensor):
            value = value.detach()
            if value.numel() != 1:
                raise ValueError(
                    f"log({name!r}): expected a scalar, got shape {tuple(value.shape)}"
                )
        if self.default_on_step if on_step is None else on_step:
            self.last[key] = value
        if on_epoch is False:
            return
        size = self.batch_size if batch_size is None else batch_size
        total = self.sums.get(key)
        if total is None:
            self.sums[key] = (
                value.float() * size if isinstance(value, Tensor) else float(value) * size
            )
            self.weights[key] = float(size)
            return
        if isinstance(total, Tensor):
            total.add_(value.reshape(total.shape), alpha=size)
        else:
            self.sums[key] = total + float(value) * size
        self.weights[key] += size

    def step_values(self) -> dict[str, float]:
        """The last step's values as floats (a host sync)."""
        return {k: float(v) for k, v in self.last.items()}

    def _reduced_sums(self) -> dict[str, tuple[float, float]]:
        keys = sorted(self.sums)
        if not keys:
            return {}
        if dist.is_available() and dist.is_initialized():
            device = next(
                (v.device for v in self.sums.values() if isinstance(v, Tensor)), torch.device("cpu")
            )
            packed = torch.tensor(
                [[float(self.sums[k]), self.weights[k]] for k in keys],
                device=device,
                dtype=torch.float64,
            )
            dist.all_reduce(packed)
            return {
                k: (float(s), float(w)) for k, (s, w) in zip(keys, packed.tolist(), strict=False)
            }
        return {k: (float(self.sums[k]), self.weights[k]) for k in keys}

    def epoch_values(self, class_names: Sequence[str] | None = None) -> dict[str, float]:
        """The epoch means and the computed metrics (then the metrics are reset)."""
        out = {k: s / w for k, (s, w) in self._reduced_sums().items() if w}
        for key, metric in self.metrics.items():
            metric.sync()
            value = metric.compute().detach().flatten()
            metric.reset()
            if value.numel() == 1:
                out[key] = float(value[0])
                continue
            for i, v in enumerate(value.tolist()):
                label = class_names[i] if class_names and i < len(class_names) else str(i)
                name = key.replace("{class}", label) if "{class}" in key else f"{key}_{label}"
                out[name] = float(v)
        return out

    def reset(self) -> None:
        """Forget everything logged (the metric objects are reset by :meth:`epoch_values`)."""
        self.sums.clear()
        self.weights.clear()
        self.last.clear()
        self.metrics.clear()

    def state_dict(self) -> dict[str, Any]:
        """The running sums as floats (for a mid-epoch checkpoint)."""
        return {"sums": {k: float(v) for k, v in self.sums.items()}, "weights": dict(self.weights)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the running sums of :meth:`state_dict` (as Python floats)."""
        self.sums = {str(k): float(v) for k, v in state.get("sums", {}).items()}
        self.weights = {str(k): float(v) for k, v in state.get("weights", {}).items()}
