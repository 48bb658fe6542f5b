"""The one declarative table of pbgml's groups: everything else that knows a group derives from it.

Plain data in the registry layer: it imports nothing. The registries
(:mod:`pbgml.registry`), the checker's group handling, the Hydra store and the
experiment config (:class:`pbgml.configs.ExperimentConf`) are built from it or
tested against it. Adding a group is one row here, its components, and (in the
config layer) its base config class in ``pbgml.configs._groups.BASES``.

Examples
--------
>>> from pbgml._groups import GROUPS, by_key
>>> GROUPS["optimizer"].partial, GROUPS["optimizer"].later
(True, ('params',))
>>> by_key()["metrics"].name, by_key()["metrics"].collection
('metric', True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["GROUPS", "GroupSpec", "by_key"]


@dataclass(frozen=True)
class GroupSpec:
    """One group: its registry, its place in an experiment, and how its configs behave.

    Attributes
    ----------
    name
        The registry's name (``pbgml.registry.<name>``): ``"optimizer"``.
    key
        The experiment field it fills (``"optimizer"``, ``"metrics"``), also the Hydra
        config group's name; ``None`` for groups used only inside other configs
        (``layer``, ``transform``).
    collection
        Whether the experiment field holds a named collection of nodes
        (``metrics: {acc: {...}}``) rather than a single node.
    partial
        Whether configs are partial (``_partial_: true``): built later with arguments
        only the pipeline has.
    later
        The arguments supplied later, left out of generated configs (an optimizer's
        ``params``, a scheduler's ``optimizer``).
    meta
        Keys of this group's configs that are settings for pbgml, not arguments of the
        target, with their defaults (an optimizer's ``param_groups``).
    finalize
        ``"module:function"`` called as ``function(built, **meta)`` after a node of
        this group is built; its result is what instantiation returns.
    default
        The option an experiment selects when the user names none (``"adamw"``), or
        ``None`` for no default (``model`` and ``data`` are required; ``scheduler``
        is empty).
    required
        Whether an experiment must set this field.
    loaders
        ``"module:function"`` loaders run, in order, the first time the group is used;
        each is called with the registry and registers pbgml's components.
    homes
        Module prefixes whose objects this group's loaders register: a dotted
        ``_target_`` under one of them may be imported while it is looked up, and is
        looked up in this group without loading any other.
    rules
        ``"module:attribute"`` of a mapping argument name -> rule that every target of
        the group obeys (an optimizer's ``lr >= 0``); :func:`pbgml.check` applies them
        with the rules each component declares itself.
    doc
        One line for the docs and ``--help``.
    """

    name: str
    key: str | None
    collection: bool = False
    partial: bool = False
    later: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    finalize: str | None = None
    default: str | None = None
    required: bool = False
    loaders: tuple[str, ...] = ()
    homes: tuple[str, ...] = ()
    rules: str | None = None
    doc: str = ""


_ROWS = (
    GroupSpec(
        "layer",
        None,
        loaders=("pbgml.nn._layers:_load_layers", "pbgml._torch_catalog:torch_layers"),
        homes=("torch.nn", "pbgml.nn"),
        doc="Building blocks: every torch.nn module that is not a loss, plus pbgml's layers.",
    ),
    GroupSpec(
        "model",
        "model",
        required=True,
        loaders=("pbgml.nn._models:_load_models", "pbgml.nn._models:_load_torchvision"),
        homes=("pbgml.nn", "torchvision.models"),
        doc="Whole networks (pbgml's models, torchvision's when installed, the user's own).",
    ),
    GroupSpec(
        "loss",
        "loss",
        default="cross_entropy",
        loaders=("pbgml.losses:_load", "pbgml._torch_catalog:torch_losses"),
        homes=("torch.nn", "pbgml.losses"),
        doc="Every torch.nn loss, plus pbgml's (focal, weighted sum) and the user's.",
    ),
    GroupSpec(
        "optimizer",
        "optimizer",
        partial=True,
        later=("params",),
        # "default": the optimizer's own default groups (AdamW: no decay on biases, norms)
        meta=MappingProxyType({"param_groups": "default"}),
        finalize="pbgml.optim:finalize_optimizer",
        default="adamw",
        loaders=("pbgml.optim:_load_optimizers", "pbgml._torch_catalog:torch_optimizers"),
        homes=("torch.optim", "pbgml.optim"),
        rules="pbgml.optim._rules:OPTIMIZER_RULES",
        doc="Every torch.optim optimizer; partial: the model's parameters come later.",
    ),
    GroupSpec(
        "scheduler",
        "scheduler",
        partial=True,
        later=("optimizer",),
        meta=MappingProxyType({"interval": "epoch", "frequency": 1, "monitor": None}),
        finalize="pbgml.optim:finalize_scheduler",
        loaders=("pbgml.optim:_load_schedulers", "pbgml._torch_catalog:torch_schedulers"),
        homes=("torch.optim", "pbgml.optim"),
        doc="Every torch.optim.lr_scheduler scheduler, plus warmup_cosine; partial.",
    ),
    GroupSpec(
        "metric",
        "metrics",
        collection=True,
        loaders=("pbgml.metrics:_load", "pbgml.metrics._torchmetrics:_load_torchmetrics"),
        homes=("pbgml.metrics", "torchmetrics"),
        doc="Metrics computed during validation and test, by name.",
    ),
    GroupSpec(
        "data",
        "data",
        required=True,
        loaders=("pbgml.data:_load_data",),
        homes=("pbgml.data",),
        doc="Data modules (CIFAR-10, MNIST, digits, CSV, ...) and datasets.",
    ),
    GroupSpec(
        "transform",
        None,
        loaders=("pbgml.data:_load_transforms", "pbgml.data:_load_torchvision_transforms"),
        homes=("pbgml.data", "torchvision.transforms"),
        doc="Sample transforms (to-tensor, normalize presets, crops, flips).",
    ),
    GroupSpec(
        "task",
        "task",
        partial=True,
        later=("model", "loss", "optimizer", "scheduler", "metrics"),
        default="classification",
        loaders=("pbgml.train._register:load_tasks",),
        homes=("pbgml.train",),
        doc="Step logic (classification, regression, the user's own Task).",
    ),
    GroupSpec(
        "trainer",
        "trainer",
        partial=True,
        later=("callbacks", "logger", "config_text", "hparams"),
        default="default",
        loaders=("pbgml.train._register:load_trainers",),
        homes=("pbgml.train",),
        rules="pbgml.train._rules:TRAINER_RULES",
        doc="The Trainer and its settings (epochs, device, precision, validation cadence).",
    ),
    GroupSpec(
        "callback",
        "callbacks",
        collection=True,
        loaders=("pbgml.train._register:load_callbacks",),
        homes=("pbgml.train",),
        doc="Trainer callbacks (checkpointing, early stopping, progress bar, ...).",
    ),
    GroupSpec(
        "logger",
        "logger",
        collection=True,
        loaders=("pbgml.train._register:load_loggers",),
        homes=("pbgml.train",),
        doc="Experiment loggers (CSV, TensorBoard, MLflow).",
    ),
)

#: Every group by name, in the order the docs list them.
GROUPS: Mapping[str, GroupSpec] = MappingProxyType({row.name: row for row in _ROWS})


def by_key() -> dict[str, GroupSpec]:
    """The groups that fill an experiment field, by that field's name.

    Examples
    --------
    >>> from pbgml._groups import by_key
    >>> sorted(by_key())[:3]
    ['callbacks', 'data', 'logger']
    """
    return {row.key: row for row in _ROWS if row.key is not None}
