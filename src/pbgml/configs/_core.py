"""Bases, the flagship optimizer/loss/scheduler configs, trainer and experiment."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

__all__ = [
    "AdamConf",
    "AdamWConf",
    "CallbackConf",
    "ComponentConf",
    "CosineAnnealingLRConf",
    "CrossEntropyLossConf",
    "DataConf",
    "LayerConf",
    "LoggerConf",
    "LossConf",
    "MSELossConf",
    "MetricConf",
    "ModelConf",
    "OptimizerConf",
    "ParamGroupsConf",
    "SGDConf",
    "SchedulerConf",
    "StepLRConf",
    "TaskConf",
    "TrainerConf",
]


# -- bases: one per group, so that ExperimentConf's fields are checked by mypy ---------


@dataclass(kw_only=True)
class ComponentConf:
    """Base of every typed component config: a hidden ``_target_`` field.

    Examples
    --------
    >>> from pbgml.configs import SGDConf
    >>> SGDConf()._target_
    'pbgml.optim.SGD'
    """

    _target_: str = field(default="", init=False, repr=False)


@dataclass(kw_only=True)
class ModelConf(ComponentConf):
    """Base of model configs.

    Examples
    --------
    >>> from pbgml.configs import ModelConf
    >>> ModelConf()._target_
    ''
    """


@dataclass(kw_only=True)
class LossConf(ComponentConf):
    """Base of loss configs.

    Examples
    --------
    >>> from pbgml.configs import LossConf, MSELossConf
    >>> isinstance(MSELossConf(), LossConf)
    True
    """


@dataclass(kw_only=True)
class OptimizerConf(ComponentConf):
    """Base of optimizer configs: partial, the parameters are passed in later.

    Examples
    --------
    >>> from pbgml.configs import OptimizerConf, SGDConf
    >>> isinstance(SGDConf(), OptimizerConf), SGDConf()._partial_
    (True, True)
    """

    _partial_: bool = field(default=True, init=False, repr=False)


@dataclass(kw_only=True)
class SchedulerConf(ComponentConf):
    """Base of scheduler configs: partial, the optimizer is passed in later.

    Examples
    --------
    >>> from pbgml.configs import StepLRConf
    >>> StepLRConf(step_size=10)._partial_
    True

    Every scheduler config also says when the trainer steps the scheduler; these
    keys are not arguments of the scheduler (they are the scheduler registry's
    ``meta`` keys, handed to :func:`pbgml.optim.finalize_scheduler`):

    ``interval``
        ``"epoch"`` (default) or ``"step"``: step after every epoch or every
        optimizer step.
    ``frequency``
        Step every ``frequency`` intervals.
    ``monitor``
        The logged metric a ReduceLROnPlateau steps on (``"val/loss"``).

    >>> StepLRConf(step_size=1000, interval="step").interval
    'step'
    """

    _partial_: bool = field(default=True, init=False, repr=False)
    interval: str = "epoch"
    frequency: int = 1
    monitor: str | None = None


@dataclass(kw_only=True)
class DataConf(ComponentConf):
    """Base of data configs.

    Examples
    --------
    >>> from pbgml.configs import DataConf
    >>> DataConf()._target_
    ''
    """


@dataclass(kw_only=True)
class MetricConf(ComponentConf):
    """Base of metric configs.

    Examples
    --------
    >>> from pbgml.configs import MetricConf
    >>> MetricConf()._target_
    ''
    """


@dataclass(kw_only=True)
class CallbackConf(ComponentConf):
    """Base of callback configs.

    Examples
    --------
    >>> from pbgml.configs import CallbackConf
    >>> CallbackConf()._target_
    ''
    """


@dataclass(kw_only=True)
class LoggerConf(ComponentConf):
    """Base of logger configs.

    Examples
    --------
    >>> from pbgml.configs import LoggerConf
    >>> LoggerConf()._target_
    ''
    """


@dataclass(kw_only=True)
class TaskConf(ComponentConf):
    """Base of task configs (the step logic: classification, regression, your own).

    Partial: :func:`pbgml.run` calls the task with the experiment's built ``model``,
    ``loss``, ``optimizer``, ``scheduler`` and ``metrics``.

    Examples
    --------
    >>> from pbgml.configs import TaskConf
    >>> TaskConf()._target_, TaskConf()._partial_
    ('', True)
    """

    _partial_: bool = field(default=True, init=False, repr=False)


@dataclass(kw_only=True)
class LayerConf(ComponentConf):
    """Base of layer configs (building blocks used inside models).

    Examples
    --------
    >>> from pbgml.configs import ConvBlockConf, LayerConf
    >>> isinstance(ConvBlockConf(in_channels=3, out_channels=8), LayerConf)
    True
    """


# -- optimizers --------------------------------------------------------------------


@dataclass(kw_only=True)
class ParamGroupsConf:
    """How an optimizer splits the model's parameters: :class:`pbgml.optim.ParamGroups`.

    Not a component of its own (no ``_target_``): the ``param_groups`` key of an
    optimizer config, read by :func:`pbgml.optim.finalize_optimizer`. In YAML::

        optimizer:
          param_groups: {no_decay: [bias, norm], lr_mult: {"backbone.*": 0.1}}

    Parameters
    ----------
    no_decay
        Kinds (``bias``, ``norm``, ``embedding``) and name patterns trained
        without weight decay.
    lr_mult
        Learning-rate multipliers by module or parameter name pattern; the first
        match wins.
    freeze
        Name patterns of parameters to freeze and leave out. This stops their
        gradients only: a frozen BatchNorm still updates its running statistics
        in training mode (see :func:`pbgml.optim.freeze_norm_stats`).

    Examples
    --------
    >>> from pbgml.configs import AdamWConf, ParamGroupsConf
    >>> AdamWConf().param_groups
    ParamGroupsConf(no_decay=('bias', 'norm'), lr_mult={}, freeze=())
    >>> AdamWConf(param_groups=ParamGroupsConf(freeze=("encoder.*",))).param_groups.freeze
    ('encoder.*',)
    """

    no_decay: tuple[str, ...] = ()
    lr_mult: dict[str, float] = field(default_factory=dict)
    freeze: tuple[str, ...] = ()


def _no_decay_on_bias_and_norm() -> ParamGroupsConf:
    return ParamGroupsConf(no_decay=("bias", "norm"))


@dataclass(kw_only=True)
class AdamWConf(OptimizerConf):
    """:class:`torch.optim.AdamW` (through :class:`pbgml.optim.AdamW`): Adam with decoupled weight decay.

    ``param_groups`` (the optimizer registry's ``meta`` key, also an argument of
    :class:`pbgml.optim.AdamW`, so plain Hydra builds this config too) defaults to
    no weight decay on biases and normalization weights, as an AdamW config without
    that key does; set it to ``None`` for a single group.

    Examples
    --------
    >>> from pbgml.configs import AdamWConf
    >>> AdamWConf(lr=3e-3, weight_decay=0.05).betas
    (0.9, 0.999)
    >>> AdamWConf(param_groups=None).param_groups is None
    True
    """

    _target_: str = field(default="pbgml.optim.AdamW", init=False, repr=False)
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 1e-2
    amsgrad: bool = False
    maximize: bool = False
    foreach: bool | None = None
    fused: bool | None = None
    param_groups: ParamGroupsConf | None = field(default_factory=_no_decay_on_bias_and_norm)


@dataclass(kw_only=True)
class AdamConf(OptimizerConf):
    """:class:`torch.optim.Adam`; ``param_groups`` defaults to one group.

    Examples
    --------
    >>> from pbgml.configs import AdamConf
    >>> AdamConf().lr
    0.001
    """

    _target_: str = field(default="pbgml.optim.Adam", init=False, repr=False)
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    amsgrad: bool = False
    maximize: bool = False
    foreach: bool | None = None
    fused: bool | None = None
    param_groups: ParamGroupsConf | None = None


@dataclass(kw_only=True)
class SGDConf(OptimizerConf):
    """:class:`torch.optim.SGD`, with momentum and Nesterov.

    The course's optimizer is ``SGDConf(lr=0.001, momentum=0.9)``. ``param_groups``
    (see :class:`ParamGroupsConf`) defaults to one group.

    Examples
    --------
    >>> from pbgml.configs import SGDConf
    >>> SGDConf(lr=0.001, momentum=0.9).momentum
    0.9
    """

    _target_: str = field(default="pbgml.optim.SGD", init=False, repr=False)
    lr: float = 1e-3
    momentum: float = 0.0
    dampening: float = 0.0
    weight_decay: float = 0.0
    nesterov: bool = False
    maximize: bool = False
    foreach: bool | None = None
    fused: bool | None = None
    param_groups: ParamGroupsConf | None = None


# -- losses ------------------------------------------------------------------------


@dataclass(kw_only=True)
class CrossEntropyLossConf(LossConf):
    """:class:`pbgml.losses.CrossEntropyLoss`, with class weights and label smoothing.

    torch's cross-entropy, taking the class ``weight`` as a list of floats (YAML).

    Examples
    --------
    >>> from pbgml.configs import CrossEntropyLossConf
    >>> CrossEntropyLossConf(weight=[1.0, 2.0], label_smoothing=0.1).label_smoothing
    0.1
    """

    _target_: str = field(default="pbgml.losses.CrossEntropyLoss", init=False, repr=False)
    weight: list[float] | None = None
    ignore_index: int = -100
    reduction: str = "mean"
    label_smoothing: float = 0.0


@dataclass(kw_only=True)
class MSELossConf(LossConf):
    """:class:`torch.nn.MSELoss`.

    Examples
    --------
    >>> from pbgml.configs import MSELossConf
    >>> MSELossConf().reduction
    'mean'
    """

    _target_: str = field(default="torch.nn.MSELoss", init=False, repr=False)
    reduction: str = "mean"


# -- schedulers --------------------------------------------------------------------


@dataclass(kw_only=True)
class CosineAnnealingLRConf(SchedulerConf):
    """:class:`torch.optim.lr_scheduler.CosineAnnealingLR`.

    ``T_max=None`` (the default) asks the trainer to size it from the run: the number
    of epochs (``interval: epoch``) or of optimizer steps (``interval: step``).

    Examples
    --------
    >>> from pbgml.configs import CosineAnnealingLRConf
    >>> CosineAnnealingLRConf(T_max=100).eta_min
    0.0
    >>> CosineAnnealingLRConf().T_max is None
    True
    """

    _target_: str = field(default="pbgml.optim.CosineAnnealingLR", init=False, repr=False)
    T_max: int | None = None
    eta_min: float = 0.0


@dataclass(kw_only=True)
class StepLRConf(SchedulerConf):
    """:class:`torch.optim.lr_scheduler.StepLR`: multiply the rate by ``gamma`` every ``step_size``.

    Examples
    --------
    >>> from pbgml.configs import StepLRConf
    >>> StepLRConf(step_size=30).gamma
    0.1
    """

    _target_: str = field(default="pbgml.optim.StepLR", init=False, repr=False)
    step_size: int
    gamma: float = 0.1


# -- trainer and experiment --------------------------------------------------------


if TYPE_CHECKING:  # what the config system cannot express: mypy sees the union
    _IntOrFloat = int | float
    _Devices = int | str | list[int]
    _IntOrBool = int | bool
    _Precision = str | int
else:  # OmegaConf has no unions: Any keeps an int an int (check enforces the union)
    _IntOrFloat = _Devices = _IntOrBool = _Precision = Any


@dataclass(kw_only=True)
class TrainerConf(ComponentConf):
    """:class:`pbgml.train.Trainer`: epochs, device, precision, clipping, validation cadence.

    Partial: the callbacks, the loggers and the run's config are handed to the Trainer
    by :func:`pbgml.run`, from the experiment's ``callbacks`` and ``logger``.
    ``val_check_interval`` and ``limit_*_batches`` take a float (a fraction of an
    epoch, such as the course's ``0.3``) or an int (a count of batches); ``devices`` a
    count, a list of indices or ``"auto"``; ``precision`` one of ``"32"``,
    ``"16-mixed"``, ``"bf16-mixed"``, ``"bf16-true"``; ``strategy`` ``"auto"`` or
    ``"ddp"`` (under torchrun); ``compile`` wraps the model's forward in
    ``torch.compile``. OmegaConf cannot express these unions, so
    they are ``Any`` to it and :func:`pbgml.check` enforces them.

    Examples
    --------
    >>> from pbgml.configs import TrainerConf
    >>> TrainerConf(max_epochs=2, gradient_clip_val=0.5).max_epochs
    2
    >>> TrainerConf(val_check_interval=100).val_check_interval  # an int stays an int
    100
    """

    _target_: str = field(default="pbgml.train.Trainer", init=False, repr=False)
    _partial_: bool = field(default=True, init=False, repr=False)
    max_epochs: int | None = 10
    min_epochs: int = 0
    max_steps: int | None = None
    accelerator: str = "auto"
    devices: _Devices = 1
    precision: _Precision = "32"
    gradient_clip_val: float | None = None
    gradient_clip_algorithm: str = "norm"
    accumulate_grad_batches: int = 1
    val_check_interval: _IntOrFloat = 1.0
    check_val_every_n_epoch: int | None = 1
    limit_train_batches: _IntOrFloat = 1.0
    limit_val_batches: _IntOrFloat = 1.0
    limit_test_batches: _IntOrFloat = 1.0
    num_sanity_val_steps: int = 2
    fast_dev_run: _IntOrBool = False
    log_every_n_steps: int = 50
    deterministic: bool = False
    default_root_dir: str = "outputs"
    enable_progress_bar: bool = True
    enable_model_summary: bool = True
    compile: bool = False
    compile_mode: str | None = None
    compile_backend: str | None = None
    strategy: str = "auto"
    sync_batchnorm: bool = False
    tf32: bool = True
