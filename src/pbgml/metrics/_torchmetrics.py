"""torchmetrics' metrics as registry entries, when torchmetrics is installed."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from pbgml._catalog import snake_case
from pbgml._errors import PbgmlError
from pbgml._registry import Registry

__all__ = ["TORCHMETRICS_CLASSES", "MissingExtraError", "register_torchmetrics"]

#: The torchmetrics classes registered as ``torchmetrics_<snake_case name>``.
TORCHMETRICS_CLASSES = (
    # classification
    "Accuracy",
    "AUROC",
    "AveragePrecision",
    "CohenKappa",
    "ConfusionMatrix",
    "F1Score",
    "FBetaScore",
    "JaccardIndex",
    "MatthewsCorrCoef",
    "Precision",
    "Recall",
    "Specificity",
    # regression
    "CosineSimilarity",
    "ExplainedVariance",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "MeanSquaredLogError",
    "PearsonCorrCoef",
    "R2Score",
    "SpearmanCorrCoef",
)

_MISSING = (
    "Registering torchmetrics' metrics requires torchmetrics: pip install pbgml[torchmetrics]"
)


class MissingExtraError(PbgmlError, ImportError):
    """An optional dependency is not installed; the message names the extra to install.

    Examples
    --------
    >>> from pbgml.metrics import MissingExtraError
    >>> issubclass(MissingExtraError, ImportError)
    True
    """


def register_torchmetrics(reg: Registry[Any] | None = None) -> list[str]:
    """Register torchmetrics' classification and regression metrics; return their names.

    Each class is registered as ``torchmetrics_<name>`` (``torchmetrics_accuracy``,
    ``torchmetrics_r2_score``); names already taken are skipped. :mod:`pbgml.metrics`
    calls it on import when torchmetrics is installed.

    Parameters
    ----------
    reg
        The registry to fill; :data:`pbgml.registry.metric` by default.

    Raises
    ------
    MissingExtraError
        torchmetrics is not installed.

    Examples
    --------
    >>> from pbgml import Registry
    >>> from pbgml.metrics import MissingExtraError, register_torchmetrics
    >>> metrics = Registry("metric")
    >>> try:
    ...     names = register_torchmetrics(metrics)
    ... except MissingExtraError as err:  # torchmetrics is not installed
    ...     names = []
    ...     assert str(err).endswith("pip install pbgml[torchmetrics]")
    >>> names == metrics.names("torchmetrics_*")
    True
    """
    if importlib.util.find_spec("torchmetrics") is None:
        raise MissingExtraError(_MISSING)
    if reg is None:
        from pbgml import registry

        reg = registry.metric
    module = importlib.import_module("torchmetrics")
    names: list[str] = []
    for attr in TORCHMETRICS_CLASSES:
        cls = getattr(module, attr, None)
        name = f"torchmetrics_{snake_case(attr)}"
        if cls is None or name in reg:
            continue
        reg.register(cls, name=name)
        names.append(name)
    return names


def _register_if_installed(reg: Registry[Any]) -> list[str]:
    """What :mod:`pbgml.metrics` runs on import: register torchmetrics' metrics if installed."""
    if importlib.util.find_spec("torchmetrics") is None:
        return []
    return register_torchmetrics(reg)
