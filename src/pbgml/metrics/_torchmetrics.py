"""torchmetrics' metrics as registry entries, when torchmetrics is installed."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from pbgml._errors import MissingExtraError
from pbgml._names import snake_case
from pbgml._optional import probe
from pbgml._registry import Registry

__all__ = ["TORCHMETRICS_CLASSES", "register_torchmetrics"]

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


def register_torchmetrics(reg: Registry[Any] | None = None) -> list[str]:
    """Register torchmetrics' classification and regression metrics; return their names.

    Each class is registered as ``torchmetrics_<name>`` (``torchmetrics_accuracy``,
    ``torchmetrics_r2_score``); names already taken are skipped. The ``metric``
    registry calls it on first use when torchmetrics is installed.

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
    >>> sorted(names) == metrics.names("torchmetrics_*")
    True
    """
    if importlib.util.find_spec("torchmetrics") is None:
        raise MissingExtraError(_MISSING)
    if reg is None:
        from pbgml import registry

        reg = registry.metric
    try:
        module = importlib.import_module("torchmetrics")
    except Exception as err:  # installed but broken (built for another torch, say)
        raise MissingExtraError(
            f"torchmetrics is installed but failed to import ({type(err).__name__}: {err}); "
            "reinstall it to match torch: pip install --force-reinstall pbgml[torchmetrics]"
        ) from err
    names: list[str] = []
    for attr in TORCHMETRICS_CLASSES:
        cls = getattr(module, attr, None)
        name = f"torchmetrics_{snake_case(attr)}"
        if cls is None or name in reg:
            continue
        reg.register(cls, name=name)
        names.append(name)
    return names


def _load_torchmetrics(reg: Registry[Any]) -> list[str]:
    """Loader of the ``metric`` group: torchmetrics' metrics, when it is installed.

    A torchmetrics that is installed but fails to import (any exception) becomes one
    :class:`~pbgml.PluginWarning` naming the package and the fix; pbgml's own
    metrics keep working.
    """
    if probe("torchmetrics", extra="torchmetrics") is None:
        return []  # not installed, or broken (then probe warned once)
    return register_torchmetrics(reg)
