"""pbgml's registries, one per group of the groups table (``pbgml._groups.GROUPS``).

Each registry is a :class:`~pbgml.Registry`; the groups that fill an experiment field
are also Hydra config groups named after that field: ``pbgml.registry.optimizer``
holds every ``torch.optim`` optimizer (filled on first use) and is selected on the
command line as ``optimizer=adamw``; ``pbgml.registry.metric`` fills ``metrics``.

A registry is filled by its group's loaders the first time it is used, and only
then: importing a component module registers nothing, and using the optimizers
never imports the metrics (nor torchmetrics).

Examples
--------
>>> from pbgml import registry
>>> "adamw" in registry.optimizer and "mse" in registry.loss
True
>>> list(registry.groups())[:4]
['layer', 'model', 'loss', 'optimizer']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pbgml._groups import GROUPS, GroupSpec
from pbgml._registry import Entry, Registry

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
    "trainer",
    "transform",
]


def _make(spec: GroupSpec) -> Registry[Any]:
    return Registry(
        spec.name,
        partial=spec.partial,
        exclude=spec.later,
        loaders=spec.loaders,
        meta=spec.meta,
        finalize=spec.finalize,
        homes=spec.homes,
        plugins=True,
    )


_ALL: dict[str, Registry[Any]] = {name: _make(spec) for name, spec in GROUPS.items()}

#: Building blocks (every ``torch.nn`` module that is not a loss, plus pbgml's layers).
layer: Registry[torch.nn.Module] = _ALL["layer"]
#: Whole networks (pbgml's models, torchvision's when installed, the user's own).
model: Registry[torch.nn.Module] = _ALL["model"]
#: Every ``torch.nn`` loss (``mse``, ...), plus pbgml's (``cross_entropy``, ``focal``).
loss: Registry[torch.nn.Module] = _ALL["loss"]
#: Every ``torch.optim`` optimizer; configs are partial, ``params`` comes later.
optimizer: Registry[torch.optim.Optimizer] = _ALL["optimizer"]
#: Every ``torch.optim.lr_scheduler`` scheduler; partial, ``optimizer`` comes later.
scheduler: Registry[Any] = _ALL["scheduler"]
#: Metrics computed during validation and test (the experiment's ``metrics``).
metric: Registry[Any] = _ALL["metric"]
#: Data modules and datasets.
data: Registry[Any] = _ALL["data"]
#: Sample transforms (to-tensor, normalize presets, crops, flips), composed from config.
transform: Registry[Any] = _ALL["transform"]
#: Step logic (classification, regression, the user's own ``Task``).
task: Registry[Any] = _ALL["task"]
#: The Trainer (``default``), whose config holds the training settings.
trainer: Registry[Any] = _ALL["trainer"]
#: Trainer callbacks (the experiment's ``callbacks``: checkpointing, early stopping, ...).
callback: Registry[Any] = _ALL["callback"]
#: Experiment loggers (CSV, TensorBoard, MLflow).
logger: Registry[Any] = _ALL["logger"]


def groups() -> dict[str, Registry[Any]]:
    """Return every registry by group name, in the table's order.

    Examples
    --------
    >>> from pbgml import registry
    >>> registry.groups()["optimizer"] is registry.optimizer
    True
    """
    return dict(_ALL)
