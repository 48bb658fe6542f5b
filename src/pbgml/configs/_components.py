"""Typed configs for losses, schedulers and metrics beyond the flagship ones in ``_core``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pbgml.configs._core import LossConf, MetricConf, SchedulerConf

__all__ = [
    "AccuracyConf",
    "BCEWithLogitsLossConf",
    "ConfusionMatrixConf",
    "F1ScoreConf",
    "FocalLossConf",
    "MeanAbsoluteErrorConf",
    "MeanSquaredErrorConf",
    "NLLLossConf",
    "PerClassAccuracyConf",
    "PrecisionConf",
    "RecallConf",
    "ReduceLROnPlateauConf",
    "WarmupCosineLRConf",
    "WeightedSumLossConf",
]


# -- losses ------------------------------------------------------------------------


@dataclass(kw_only=True)
class NLLLossConf(LossConf):
    """:class:`pbgml.losses.NLLLoss`: negative log-likelihood of log-probabilities.

    Examples
    --------
    >>> from pbgml.configs import NLLLossConf
    >>> NLLLossConf(weight=[1.0, 2.0]).weight
    [1.0, 2.0]
    """

    _target_: str = field(default="pbgml.losses.NLLLoss", init=False, repr=False)
    weight: list[float] | None = None
    ignore_index: int = -100
    reduction: str = "mean"


@dataclass(kw_only=True)
class BCEWithLogitsLossConf(LossConf):
    """:class:`pbgml.losses.BCEWithLogitsLoss`: binary cross-entropy on logits.

    Examples
    --------
    >>> from pbgml.configs import BCEWithLogitsLossConf
    >>> BCEWithLogitsLossConf(pos_weight=[3.0]).pos_weight
    [3.0]
    """

    _target_: str = field(default="pbgml.losses.BCEWithLogitsLoss", init=False, repr=False)
    weight: list[float] | None = None
    reduction: str = "mean"
    pos_weight: list[float] | None = None


@dataclass(kw_only=True)
class FocalLossConf(LossConf):
    """:class:`pbgml.losses.FocalLoss`: cross-entropy that down-weights easy examples.

    ``alpha`` is a number, a list of one weight per class, or ``None``; targets
    equal to ``ignore_index`` are left out.

    Examples
    --------
    >>> from pbgml.configs import FocalLossConf
    >>> FocalLossConf(gamma=1.0, alpha=[0.25, 0.75]).alpha
    [0.25, 0.75]
    """

    _target_: str = field(default="pbgml.losses.FocalLoss", init=False, repr=False)
    gamma: float = 2.0
    alpha: Any = None
    reduction: str = "mean"
    ignore_index: int = -100


@dataclass(kw_only=True)
class WeightedSumLossConf(LossConf):
    """:class:`pbgml.losses.WeightedSumLoss`: a weighted sum of named losses.

    Examples
    --------
    >>> from pbgml.configs import CrossEntropyLossConf, FocalLossConf, WeightedSumLossConf
    >>> conf = WeightedSumLossConf(
    ...     losses={"ce": CrossEntropyLossConf(), "focal": FocalLossConf()}, weights={"focal": 0.5}
    ... )
    >>> sorted(conf.losses)
    ['ce', 'focal']
    """

    _target_: str = field(default="pbgml.losses.WeightedSumLoss", init=False, repr=False)
    losses: dict[str, Any]
    weights: dict[str, float] | None = None


# -- schedulers --------------------------------------------------------------------


@dataclass(kw_only=True)
class WarmupCosineLRConf(SchedulerConf):
    """:class:`pbgml.optim.WarmupCosineLR`: linear warm-up, then cosine annealing.

    Counted in optimizer steps: ``interval`` defaults to ``"step"``.

    Examples
    --------
    >>> from pbgml.configs import WarmupCosineLRConf
    >>> conf = WarmupCosineLRConf(warmup_steps=500, total_steps=10_000)
    >>> conf.interval, conf.eta_min
    ('step', 0.0)
    """

    _target_: str = field(default="pbgml.optim.WarmupCosineLR", init=False, repr=False)
    interval: str = "step"
    warmup_steps: int
    total_steps: int | None = None
    warmup_start_factor: float = 0.0
    eta_min: float = 0.0


@dataclass(kw_only=True)
class ReduceLROnPlateauConf(SchedulerConf):
    """:class:`torch.optim.lr_scheduler.ReduceLROnPlateau`: lower the rate when a metric stalls.

    It steps on a logged metric: ``monitor`` must be set (``"val/loss"``).

    Examples
    --------
    >>> from pbgml.configs import ReduceLROnPlateauConf
    >>> conf = ReduceLROnPlateauConf(monitor="val/loss", patience=3)
    >>> conf.mode, conf.patience
    ('min', 3)
    """

    _target_: str = field(default="pbgml.optim.ReduceLROnPlateau", init=False, repr=False)
    mode: str = "min"
    factor: float = 0.1
    patience: int = 10
    threshold: float = 1e-4
    threshold_mode: str = "rel"
    cooldown: int = 0
    min_lr: float = 0.0
    eps: float = 1e-8


# -- metrics -----------------------------------------------------------------------


@dataclass(kw_only=True)
class AccuracyConf(MetricConf):
    """:class:`pbgml.metrics.Accuracy`: the fraction of samples classified right (top-k).

    Examples
    --------
    >>> from pbgml.configs import AccuracyConf
    >>> AccuracyConf(top_k=5).top_k
    5
    """

    _target_: str = field(default="pbgml.metrics.Accuracy", init=False, repr=False)
    top_k: int = 1


@dataclass(kw_only=True)
class PerClassAccuracyConf(MetricConf):
    """:class:`pbgml.metrics.PerClassAccuracy`: the accuracy of every class.

    Examples
    --------
    >>> from pbgml.configs import PerClassAccuracyConf
    >>> PerClassAccuracyConf(num_classes=10).num_classes
    10
    """

    _target_: str = field(default="pbgml.metrics.PerClassAccuracy", init=False, repr=False)
    num_classes: int


@dataclass(kw_only=True)
class PrecisionConf(MetricConf):
    """:class:`pbgml.metrics.Precision`, averaged ``macro``, ``micro``, ``weighted`` or ``none``.

    Examples
    --------
    >>> from pbgml.configs import PrecisionConf
    >>> PrecisionConf(num_classes=10).average
    'macro'
    """

    _target_: str = field(default="pbgml.metrics.Precision", init=False, repr=False)
    num_classes: int
    average: str = "macro"


@dataclass(kw_only=True)
class RecallConf(MetricConf):
    """:class:`pbgml.metrics.Recall`, averaged ``macro``, ``micro``, ``weighted`` or ``none``.

    Examples
    --------
    >>> from pbgml.configs import RecallConf
    >>> RecallConf(num_classes=10, average="weighted").average
    'weighted'
    """

    _target_: str = field(default="pbgml.metrics.Recall", init=False, repr=False)
    num_classes: int
    average: str = "macro"


@dataclass(kw_only=True)
class F1ScoreConf(MetricConf):
    """:class:`pbgml.metrics.F1Score`, averaged ``macro``, ``micro``, ``weighted`` or ``none``.

    Examples
    --------
    >>> from pbgml.configs import F1ScoreConf
    >>> F1ScoreConf(num_classes=3).num_classes
    3
    """

    _target_: str = field(default="pbgml.metrics.F1Score", init=False, repr=False)
    num_classes: int
    average: str = "macro"


@dataclass(kw_only=True)
class ConfusionMatrixConf(MetricConf):
    """:class:`pbgml.metrics.ConfusionMatrix`: counts of (true, predicted) class pairs.

    Examples
    --------
    >>> from pbgml.configs import ConfusionMatrixConf
    >>> ConfusionMatrixConf(num_classes=10).num_classes
    10
    """

    _target_: str = field(default="pbgml.metrics.ConfusionMatrix", init=False, repr=False)
    num_classes: int


@dataclass(kw_only=True)
class MeanSquaredErrorConf(MetricConf):
    """:class:`pbgml.metrics.MeanSquaredError`.

    Examples
    --------
    >>> from pbgml.configs import MeanSquaredErrorConf
    >>> MeanSquaredErrorConf()._target_
    'pbgml.metrics.MeanSquaredError'
    """

    _target_: str = field(default="pbgml.metrics.MeanSquaredError", init=False, repr=False)


@dataclass(kw_only=True)
class MeanAbsoluteErrorConf(MetricConf):
    """:class:`pbgml.metrics.MeanAbsoluteError`.

    Examples
    --------
    >>> from pbgml.configs import MeanAbsoluteErrorConf
    >>> MeanAbsoluteErrorConf()._target_
    'pbgml.metrics.MeanAbsoluteError'
    """

    _target_: str = field(default="pbgml.metrics.MeanAbsoluteError", init=False, repr=False)
