"""Classification metrics: accuracy (top-k, per class), precision, recall, F1, confusion."""

from __future__ import annotations

import torch
from torch import Tensor

from pbgml._errors import did_you_mean
from pbgml.metrics._base import Metric, MetricError

__all__ = [
    "AVERAGES",
    "Accuracy",
    "ConfusionMatrix",
    "F1Score",
    "PerClassAccuracy",
    "Precision",
    "Recall",
]

#: How per-class precision, recall and F1 are combined.
AVERAGES = ("macro", "micro", "weighted", "none")

_SHAPES = (
    "{name}: preds of shape {preds} do not fit target of shape {target}; expected scores "
    "(N, C, ...) with target (N, ...), or labels of the target's shape."
)


def _shape(t: Tensor) -> str:
    return str(tuple(t.shape))


def _check_num_classes(name: str, num_classes: int) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise MetricError(f"{name}: num_classes must be an integer >= 1, got {num_classes!r}.")
    return num_classes


def _check_range(name: str, what: str, labels: Tensor, num_classes: int) -> None:
    if labels.numel() == 0:
        return
    low, high = int(labels.min()), int(labels.max())
    bad = low if low < 0 else high if high >= num_classes else None
    if bad is not None:
        raise MetricError(
            f"{name}: {what} holds the class {bad!r}, outside [0, {num_classes - 1}] "
            f"(num_classes={num_classes})."
        )


def _inputs(
    name: str, preds: Tensor, target: Tensor, device: torch.device
) -> tuple[Tensor, Tensor, bool]:
    """Check shapes and types; return (preds, target) on ``device`` and whether preds are scores."""
    preds, target = preds.detach().to(device), target.detach().to(device)
    if target.is_floating_point() or target.is_complex():
        raise MetricError(f"{name}: target must hold class indices (integers), got {target.dtype}.")
    if preds.ndim == target.ndim + 1 and preds.shape[:1] + preds.shape[2:] == target.shape:
        return preds, target, True
    if preds.shape == target.shape and not preds.is_floating_point():
        return preds, target, False
    raise MetricError(_SHAPES.format(name=name, preds=_shape(preds), target=_shape(target)))


def _as_labels(
    name: str, preds: Tensor, target: Tensor, num_classes: int | None, device: torch.device
) -> tuple[Tensor, Tensor]:
    """Flatten (scores or labels, target) into (predicted labels, target labels)."""
    preds, target, scores = _inputs(name, preds, target, device)
    if scores:
        if num_classes is not None and preds.shape[1] != num_classes:
            raise MetricError(
                f"{name}: preds hold scores for {preds.shape[1]} classes, "
                f"but num_classes={num_classes}."
            )
        preds = preds.argmax(dim=1)
    labels, target = preds.reshape(-1), target.reshape(-1)
    if num_classes is not None:
        _check_range(name, "target", target, num_classes)
        _check_range(name, "preds", labels, num_classes)
    return labels, target


class Accuracy(Metric):
    """The fraction of samples whose class is among the ``top_k`` highest scores.

    ``preds`` are scores ``(N, C, ...)`` (logits or probabilities) or predicted
    labels of the target's shape (then ``top_k`` must be 1); ``target`` holds class
    indices. Before any update, ``compute()`` returns ``nan``.

    Parameters
    ----------
    top_k
        A sample counts as correct when its class is among the ``top_k`` best scores.

    Examples
    --------
    >>> import torch
    >>> from pbgml.metrics import Accuracy
    >>> scores = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.1, 0.4], [0.2, 0.3, 0.5]])
    >>> target = torch.tensor([1, 2, 0])
    >>> top1, top2 = Accuracy(), Accuracy(top_k=2)
    >>> top1.update(scores, target)
    >>> top2.update(scores, target)
    >>> top1.compute().item(), round(top2.compute().item(), 4)
    (0.3333333432674408, 0.6667)
    """

    correct: Tensor
    total: Tensor

    def __init__(self, top_k: int = 1) -> None:
        super().__init__()
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise MetricError(f"Accuracy: top_k must be an integer >= 1, got {top_k!r}.")
        self.top_k = top_k
        self.add_state("correct", torch.zeros((), dtype=torch.long))
        self.add_state("total", torch.zeros((), dtype=torch.long))

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Count the correct samples of a batch."""
        self._check_not_synced("update()")
        preds, target, scores = _inputs("Accuracy", preds, target, self.correct.device)
        if self.top_k == 1:
            hits = (preds.argmax(dim=1) if scores else preds) == target
        else:
            if not scores:
                raise MetricError(
                    f"Accuracy: top_k={self.top_k} needs scores (N, C, ...), got preds of shape "
                    f"{_shape(preds)} for target of shape {_shape(target)}."
                )
            if preds.shape[1] < self.top_k:
                raise MetricError(
                    f"Accuracy: top_k={self.top_k} is more than the {preds.shape[1]} classes."
                )
            best = preds.topk(self.top_k, dim=1).indices
            hits = (best == target.unsqueeze(1)).any(dim=1)
        self.correct += hits.sum()
        self.total += hits.numel()

    def compute(self) -> Tensor:
        """Return the accuracy as a float tensor."""
        return self.correct.float() / self.total.float()

    def extra_repr(self) -> str:
        return f"top_k={self.top_k}"


class PerClassAccuracy(Metric):
    """The accuracy of each class: the fraction of its samples predicted right.

    The course's per-class evaluation ("Accuracy for class: cat is 45.2 %");
    the same as the per-class recall. A class never seen gives ``nan``.

    Parameters
    ----------
    num_classes
        The number of classes ``C``; ``compute()`` returns a tensor of ``C`` values.

    Examples
    --------
    >>> import torch
    >>> from pbgml.metrics import PerClassAccuracy
    >>> metric = PerClassAccuracy(num_classes=3)
    >>> metric.update(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2]))
    >>> metric.compute()
    tensor([1.0000, 1.0000, 0.5000])
    """

    correct: Tensor
    total: Tensor

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.num_classes = _check_num_classes("PerClassAccuracy", num_classes)
        self.add_state("correct", torch.zeros(num_classes, dtype=torch.long))
        self.add_state("total", torch.zeros(num_classes, dtype=torch.long))

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Count each class's samples and correct predictions in a batch."""
        self._check_not_synced("update()")
        name, device = "PerClassAccuracy", self.correct.device
        labels, flat = _as_labels(name, preds, target, self.num_classes, device)
        self.total += torch.bincount(flat, minlength=self.num_classes)
        self.correct += torch.bincount(flat[labels == flat], minlength=self.num_classes)

    def compute(self) -> Tensor:
        """Return the accuracy of each class, a float tensor of shape ``(C,)``."""
        return self.correct.float() / self.total.float()

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}"


class _Confusion(Metric):
    """Keeps the confusion matrix; subclasses say what to compute from it."""

    confmat: Tensor

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.num_classes = _check_num_classes(type(self).__name__, num_classes)
        self.add_state("confmat", torch.zeros(num_classes, num_classes, dtype=torch.long))

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Add a batch's (true, predicted) pairs to the confusion matrix."""
        self._check_not_synced("update()")
        name, c = type(self).__name__, self.num_classes
        labels, flat = _as_labels(name, preds, target, c, self.confmat.device)
        self.confmat += torch.bincount(flat * c + labels, minlength=c * c).reshape(c, c)

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}"


class ConfusionMatrix(_Confusion):
    """Counts of (true class, predicted class) pairs: row ``i``, column ``j``.

    The same layout as :func:`sklearn.metrics.confusion_matrix`.

    Parameters
    ----------
    num_classes
        The number of classes ``C``; the matrix is ``C x C``.

    Examples
    --------
    >>> import torch
    >>> from pbgml.metrics import ConfusionMatrix
    >>> metric = ConfusionMatrix(num_classes=2)
    >>> metric.update(torch.tensor([[2.0, 1.0], [0.0, 1.0], [3.0, 0.0]]), torch.tensor([0, 0, 1]))
    >>> metric.compute()
    tensor([[1, 1],
            [1, 0]])
    """

    def compute(self) -> Tensor:
        """Return the ``C x C`` matrix of counts (a copy)."""
        return self.confmat.clone()


def _ratio(num: Tensor, den: Tensor) -> Tensor:
    """``num / den`` with 0 where ``den`` is 0 (sklearn's ``zero_division=0``)."""
    num, den = num.float(), den.float()
    return torch.where(den > 0, num / den.clamp(min=1), torch.zeros_like(num))


class _AveragedScore(_Confusion):
    """Precision, recall and F1: per-class scores from the confusion matrix, averaged."""

    def __init__(self, num_classes: int, average: str = "macro") -> None:
        super().__init__(num_classes)
        if average not in AVERAGES:
            choices = ", ".join(repr(a) for a in AVERAGES)
            raise MetricError(
                f"{type(self).__name__}: average={average!r} is not one of {choices}."
                + did_you_mean(str(average), AVERAGES)
            )
        self.average = average

    def _scores(self, tp: Tensor, fp: Tensor, fn: Tensor) -> Tensor:
        raise NotImplementedError

    def compute(self) -> Tensor:
        """Return the averaged score, or one per class when ``average="none"``."""
        tp = self.confmat.diagonal()
        fp = self.confmat.sum(dim=0) - tp
        fn = self.confmat.sum(dim=1) - tp
        if self.average == "micro":
            return self._scores(tp.sum(), fp.sum(), fn.sum())
        scores = self._scores(tp, fp, fn)
        if self.average == "none":
            return scores
        if self.average == "weighted":
            support = (tp + fn).float()
            return (scores * support).sum() / support.sum().clamp(min=1)
        # as scikit-learn without ``labels``: a class neither predicted nor seen is left out
        present = (tp + fp + fn) > 0
        return (scores * present).sum() / present.sum().clamp(min=1)

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, average={self.average!r}"


class Precision(_AveragedScore):
    """Precision: of the samples predicted as a class, the fraction that belong to it.

    Parameters
    ----------
    num_classes
        The number of classes.
    average
        ``"macro"`` (the mean over the classes that were predicted or seen in the
        target at least once, as scikit-learn's default: a class absent from both
        is left out, not counted as 0), ``"micro"`` (over all samples),
        ``"weighted"`` (by class support) or ``"none"`` (one value per class, 0
        for the absent ones). A class never predicted scores 0, as
        scikit-learn's ``zero_division=0``. With no sample at all the score is 0.

    Examples
    --------
    >>> import torch
    >>> from pbgml.metrics import Precision
    >>> metric = Precision(num_classes=2, average="none")
    >>> metric.update(torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 1, 1]))
    >>> metric.compute()
    tensor([0.5000, 1.0000])
    """

    def _scores(self, tp: Tensor, fp: Tensor, fn: Tensor) -> Tensor:
        return _ratio(tp, tp + fp)


class Recall(_AveragedScore):
    """Recall: of the samples of a class, the fraction predicted as that class.

    Parameters
    ----------
    num_classes
        The number of classes.
    average
        ``"macro"``, ``"micro"``, ``"weighted"`` or ``"none"``, as for :class:`Precision`.

    Examples
    --------
    >>> import torch
    >>> from pbgml.metrics import Recall
    >>> metric = Recall(num_classes=2)
    >>> metric.update(torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 1, 1]))
    >>> round(metric.compute().item(), 4)
    0.8333
    """

    def _scores(self, tp: Tensor, fp: Tensor, fn: Tensor) -> Tensor:
        return _ratio(tp, tp + fn)


class F1Score(_AveragedScore):
    """F1 score: the harmonic mean of precision and recall, per class, then averaged.

    Parameters
    ----------
    num_classes
        The number of classes.
    average
        ``"macro"``, ``"micro"``, ``"weighted"`` or ``"none"``, as for :class:`Precision`.

    Examples
    --------
    >>> import torch
    >>> from pbgml.metrics import F1Score
    >>> metric = F1Score(num_classes=2, average="none")
    >>> metric.update(torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 1, 1]))
    >>> metric.compute()
    tensor([0.6667, 0.8000])
    """

    def _scores(self, tp: Tensor, fp: Tensor, fn: Tensor) -> Tensor:
        return _ratio(2 * tp, 2 * tp + fp + fn)
