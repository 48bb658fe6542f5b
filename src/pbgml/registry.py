"""pbgml's registries, one per config group.

Each registry is a :class:`~pbgml.Registry` and also a Hydra config group of the same
name: ``pbgml.registry.optimizer`` holds every ``torch.optim`` optimizer (filled on
first use) and is selected on the command line as ``optimizer=adamw``.

Examples
--------
>>> from pbgml import registry
>>> "adamw" in registry.optimizer and "CrossEntropyLoss" in registry.loss
True
>>> sorted(registry.groups())[:4]
['callback', 'data', 'layer', 'logger']
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pbgml import _catalog
from pbgml._registry import Entry, Loader, Registry

if TYPE_CHECKING:
    import torch

__all__ = [
    "Entry",
    "Registry",
    "callback",
    "data",
    "groups",
    "layer",
    "logger",
    "loss",
    "metric",
    "model",
    "optimizer",
    "scheduler",
    "task",
    "transform",
]


def _modules(*names: str) -> Loader:
    """A loader that imports pbgml's own modules, which register themselves."""

    def load(reg: Registry[Any]) -> None:
        for name in names:
            importlib.import_module(name)

    load.__qualname__ = f"import {', '.join(names)}"
    return load


#: Building blocks: every ``torch.nn`` module that is not a loss, plus pbgml's layers.
layer: Registry[torch.nn.Module] = Registry(
    "layer", loaders=[_catalog.torch_layers, _modules("pbgml.nn")]
)
#: Whole networks (pbgml's models, and the user's own).
model: Registry[torch.nn.Module] = Registry("model", loaders=[_modules("pbgml.nn")])
#: Every ``torch.nn`` loss (``cross_entropy``, ``mse``, ...), plus pbgml's and the user's.
loss: Registry[torch.nn.Module] = Registry(
    "loss", loaders=[_catalog.torch_losses, _modules("pbgml.losses")]
)
#: Every ``torch.optim`` optimizer; configs are partial, ``params`` comes later.
optimizer: Registry[torch.optim.Optimizer] = Registry(
    "optimizer",
    partial=True,
    exclude=["params"],
    loaders=[_catalog.torch_optimizers, _modules("pbgml.optim")],
    # "default": the optimizer's own default groups (AdamW: no decay on biases and norms)
    meta={"param_groups": "default"},
    finalize="pbgml.optim:finalize_optimizer",
)
#: Every ``torch.optim.lr_scheduler`` scheduler; partial, ``optimizer`` comes later.
scheduler: Registry[Any] = Registry(
    "scheduler",
    partial=True,
    exclude=["optimizer"],
    loaders=[_catalog.torch_schedulers, _modules("pbgml.optim")],
    meta={"interval": "epoch", "frequency": 1, "monitor": None},
    finalize="pbgml.optim:finalize_scheduler",
)
#: Metrics computed during validation and test.
metric: Registry[Any] = Registry("metric", loaders=[_modules("pbgml.metrics")])
#: Data modules and datasets.
data: Registry[Any] = Registry("data", loaders=[_modules("pbgml.data")])
#: Sample transforms (to-tensor, normalize presets, crops, flips), composed from config.
transform: Registry[Any] = Registry("transform", loaders=[_modules("pbgml.data")])
#: Step logic (classification, regression, the user's own ``Task``).
task: Registry[Any] = Registry("task")
#: Trainer callbacks (checkpointing, early stopping, ...).
callback: Registry[Any] = Registry("callback")
#: Experiment loggers (CSV, TensorBoard, ...).
logger: Registry[Any] = Registry("logger")


def groups() -> dict[str, Registry[Any]]:
    """Return every registry by group name.

    Examples
    --------
    >>> from pbgml import registry
    >>> registry.groups()["optimizer"] is registry.optimizer
    True
    """
    return {
        reg.group: reg
        for reg in (
            layer,
            model,
            loss,
            optimizer,
            scheduler,
            metric,
            data,
            transform,
            task,
            callback,
            logger,
        )
    }
