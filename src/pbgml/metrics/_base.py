"""The :class:`Metric` base: state in buffers, computed on the device, summed across ranks."""

from __future__ import annotations

import torch.distributed as dist
from torch import Tensor, nn

from pbgml._errors import ArgumentError

__all__ = ["Metric", "MetricError"]

_ALREADY_SYNCED = (
    "{name}: the state was already summed across ranks by sync(); call reset() before "
    "{action} (summing it again would count every rank's samples twice)."
)


class MetricError(ArgumentError):
    """A metric got inputs of the wrong shape, type or range, or a bad argument.

    Examples
    --------
    >>> import torch
    >>> from pbgml.metrics import Accuracy, MetricError
    >>> try:
    ...     Accuracy().update(torch.zeros(4, 3), torch.zeros(5, dtype=torch.long))
    ... except MetricError as err:
    ...     print(err)
    Accuracy: preds of shape (4, 3) do not fit target of shape (5,); expected scores (N, C, ...) with target (N, ...), or labels of the target's shape.
    """


class Metric(nn.Module):
    """Base class of pbgml's metrics: accumulate with :meth:`update`, read with :meth:`compute`.

    The state lives in non-persistent buffers declared with :meth:`add_state`, so
    ``metric.to(device)`` moves it and updates run on the device of the model's
    outputs. Every state is a sum over samples, so in distributed training
    :meth:`sync` adds the states of all ranks (``all_reduce(SUM)``) and
    :meth:`compute` then gives the metric over the whole data set. Calling the
    metric is the same as :meth:`update`.

    Examples
    --------
    >>> import torch
    >>> from pbgml.metrics import Metric
    >>> class Total(Metric):
    ...     def __init__(self) -> None:
    ...         super().__init__()
    ...         self.add_state("total", torch.zeros(()))
    ...     def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
    ...         self._check_not_synced("update()")
    ...         self.total += preds.sum()
    ...     def compute(self) -> torch.Tensor:
    ...         return self.total.clone()
    >>> metric = Total()
    >>> metric(torch.ones(3), torch.ones(3))
    >>> metric.compute()
    tensor(3.)
    >>> metric.reset()
    >>> metric.compute()
    tensor(0.)
    """

    def __init__(self) -> None:
        super().__init__()
        self._defaults: dict[str, Tensor] = {}
        self._synced = False

    def add_state(self, name: str, default: Tensor) -> None:
        """Declare a state tensor (a sum over samples) and its value after :meth:`reset`.

        Examples
        --------
        >>> import torch
        >>> from pbgml.metrics import Metric
        >>> metric = Metric()
        >>> metric.add_state("count", torch.zeros((), dtype=torch.long))
        >>> metric.states()
        {'count': tensor(0)}
        """
        self.register_buffer(name, default.clone(), persistent=False)
        self._defaults[name] = default.detach().clone()

    def states(self) -> dict[str, Tensor]:
        """Return the state tensors by name (the tensors themselves, not copies).

        Examples
        --------
        >>> import torch
        >>> from pbgml.metrics import Accuracy
        >>> metric = Accuracy()
        >>> metric.update(torch.tensor([1, 0]), torch.tensor([1, 1]))
        >>> metric.states()
        {'correct': tensor(1), 'total': tensor(2)}
        """
        return {name: getattr(self, name) for name in self._defaults}

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Add a batch of predictions and targets to the state.

        Examples
        --------
        >>> import torch
        >>> from pbgml.metrics import MeanAbsoluteError
        >>> metric = MeanAbsoluteError()
        >>> metric.update(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 4.0]))
        >>> metric.compute()
        tensor(1.)
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement update()")

    def compute(self) -> Tensor:
        """Return the metric over everything seen since the last :meth:`reset`.

        Examples
        --------
        >>> import torch
        >>> from pbgml.metrics import MeanSquaredError
        >>> metric = MeanSquaredError()
        >>> metric.update(torch.tensor([0.0, 0.0]), torch.tensor([1.0, 3.0]))
        >>> metric.compute()
        tensor(5.)
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement compute()")

    def forward(self, preds: Tensor, target: Tensor) -> None:
        """Same as :meth:`update`, so a metric can be called like a module.

        Examples
        --------
        >>> import torch
        >>> from pbgml.metrics import Accuracy
        >>> metric = Accuracy()
        >>> metric(torch.tensor([0, 1]), torch.tensor([0, 0]))
        >>> metric.compute()
        tensor(0.5000)
        """
        self.update(preds, target)

    def reset(self) -> None:
        """Put every state back to its initial value (on the state's device).

        Examples
        --------
        >>> import torch
        >>> from pbgml.metrics import Accuracy
        >>> metric = Accuracy()
        >>> metric.update(torch.tensor([1]), torch.tensor([1]))
        >>> metric.reset()
        >>> metric.states()["total"]
        tensor(0)
        """
        for name, default in self._defaults.items():
            getattr(self, name).copy_(default)
        self._synced = False

    def sync(self) -> None:
        """Sum every state across the processes of the default group, in place.

        Does nothing unless :mod:`torch.distributed` is initialized. Call it once,
        at the end of an epoch, before :meth:`compute`; then :meth:`reset`.

        Examples
        --------
        >>> import torch
        >>> from pbgml.metrics import Accuracy
        >>> metric = Accuracy()
        >>> metric.update(torch.tensor([1, 0]), torch.tensor([1, 1]))
        >>> metric.sync()  # a single process: nothing to add
        >>> metric.compute()
        tensor(0.5000)
        """
        if not (dist.is_available() and dist.is_initialized()):
            return
        self._check_not_synced("sync() again")
        for name in self._defaults:
            dist.all_reduce(getattr(self, name), op=dist.ReduceOp.SUM)
        self._synced = True

    def _check_not_synced(self, action: str) -> None:
        if self._synced:
            raise MetricError(_ALREADY_SYNCED.format(name=type(self).__name__, action=action))
