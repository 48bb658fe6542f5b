"""In-memory datasets: the :class:`ArrayDataset` base and the seeded synthetic sets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import Dataset, Subset

from pbgml.data._errors import DataError
from pbgml.data._transforms import Transform

__all__ = ["ArrayDataset", "SyntheticClassification", "SyntheticRegression"]


def check_int(name: str, value: object, *, minimum: int = 1, where: str = "") -> int:
    """Return ``value`` if it is an int >= ``minimum``, else raise a :class:`DataError`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        prefix = f"{where}: " if where else ""
        raise DataError(f"{prefix}{name}={value!r} must be an int >= {minimum}", param=name)
    return value


class ArrayDataset(Dataset[tuple[Any, Any]]):
    """Samples and targets held in two tensors of the same length.

    ``dataset[i]`` is ``(transform(data[i]), target_transform(targets[i]))``. The base
    of every in-memory dataset in :mod:`pbgml.data`.

    Parameters
    ----------
    data
        The samples, stacked along the first dimension.
    targets
        One target per sample (class indices, or regression values).
    transform, target_transform
        Optional callables applied to a sample / a target when it is read.
    classes
        The class names, index ``i`` naming class ``i``.

    Examples
    --------
    >>> import torch
    >>> from pbgml.data import ArrayDataset
    >>> ds = ArrayDataset(torch.zeros(5, 3), torch.arange(5) % 2, classes=["even", "odd"])
    >>> len(ds), ds[1][1].item(), ds.num_classes, ds.sample_shape
    (5, 1, 2, (3,))
    """

    def __init__(
        self,
        data: torch.Tensor,
        targets: torch.Tensor,
        *,
        transform: Transform | None = None,
        target_transform: Transform | None = None,
        classes: Sequence[str] | None = None,
    ) -> None:
        if len(data) != len(targets):
            raise DataError(
                f"{type(self).__name__}: {len(data)} samples but {len(targets)} targets",
                param="targets",
            )
        self.data = data
        self.targets = targets
        self.transform = transform
        self.target_transform = target_transform
        self.classes: list[str] | None = None if classes is None else list(classes)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        x: Any = self.data[index]
        y: Any = self.targets[index]
        if self.transform is not None:
            x = self.transform(x)
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y

    @property
    def num_classes(self) -> int | None:
        """The number of classes, when the targets are class indices."""
        if self.classes is not None:
            return len(self.classes)
        return None

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """One stored sample's shape (before ``transform``)."""
        return tuple(self.data.shape[1:])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(len={len(self)}, sample_shape={self.sample_shape})"


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The seed of one sample's random transforms: a function of (seed, epoch, index) only.

    Python's hash of a tuple of ints does not depend on ``PYTHONHASHSEED``, so the
    value is the same in every process and every run.

    Examples
    --------
    >>> from pbgml.data._datasets import sample_seed
    >>> sample_seed(0, 1, 2) == sample_seed(0, 1, 2), sample_seed(0, 1, 2) == sample_seed(0, 2, 2)
    (True, False)
    """
    return hash((seed, epoch, index)) & 0xFFFF_FFFF_FFFF_FFFF


class _Transformed(Dataset[Any]):
    """A view of a dataset whose samples go through one more transform.

    With a ``seed``, torch's RNG is seeded with :func:`sample_seed` of
    ``(seed, epoch, index)`` around the transform, so a random augmentation draws
    the same values for the same sample in the same epoch whichever process
    (main or worker) loads it and whatever was loaded before: a run resumed in the
    middle of an epoch replays it exactly. In the main process the global RNG is
    restored afterwards. :attr:`epoch` is set by
    :meth:`pbgml.data.DataModule.set_epoch`; it lives in shared memory, so loader
    workers see the new value even when they persist across epochs.
    """

    def __init__(
        self, dataset: Dataset[Any], transform: Transform, *, seed: int | None = None
    ) -> None:
        self.dataset = dataset
        self.transform = transform
        self.seed = seed
        self._epoch = torch.zeros((), dtype=torch.int64)
        if seed is not None:
            self._epoch.share_memory_()  # type: ignore[no-untyped-call]

    @property
    def epoch(self) -> int:
        """The epoch the per-sample seeds use (shared with the loader workers)."""
        return int(self._epoch)

    @epoch.setter
    def epoch(self, value: int) -> None:
        self._epoch.fill_(value)

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def _apply(self, x: Any, index: int) -> Any:
        if self.seed is None:
            return self.transform(x)
        seed = sample_seed(self.seed, self.epoch, int(index))
        if torch.utils.data.get_worker_info() is not None:  # a worker's RNG serves it alone
            torch.manual_seed(seed)
            return self.transform(x)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.transform(x)

    def __getitem__(self, index: int) -> Any:
        sample = self.dataset[index]
        if isinstance(sample, tuple | list) and sample:
            return (self._apply(sample[0], index), *sample[1:])
        return self._apply(sample, index)


def base_dataset(dataset: object) -> object:
    """Unwrap subsets and transformed views down to the dataset that holds the data."""
    while isinstance(dataset, Subset | _Transformed):
        dataset = dataset.dataset
    return dataset


def _check_noise(noise: float, where: str) -> float:
    if isinstance(noise, bool) or not isinstance(noise, int | float) or noise < 0:
        raise DataError(f"{where}: noise={noise!r} must be a number >= 0", param="noise")
    return float(noise)


class SyntheticClassification(ArrayDataset):
    """Seeded Gaussian blobs: one random centre per class, samples scattered by ``noise``.

    Labels are balanced (``i % num_classes``, then shuffled); ``x = centre[y] + noise *
    N(0, 1)``. The same ``seed`` always gives the same data.

    Examples
    --------
    >>> from pbgml.data import SyntheticClassification
    >>> ds = SyntheticClassification(num_samples=100, num_features=4, num_classes=3)
    >>> len(ds), ds.sample_shape, ds.num_classes, ds.targets.bincount().tolist()
    (100, (4,), 3, [34, 33, 33])
    """

    def __init__(
        self,
        num_samples: int = 1000,
        num_features: int = 20,
        num_classes: int = 2,
        noise: float = 1.0,
        seed: int = 0,
        *,
        transform: Transform | None = None,
        target_transform: Transform | None = None,
    ) -> None:
        where = "synthetic_classification"
        check_int("num_samples", num_samples, where=where)
        check_int("num_features", num_features, where=where)
        check_int("num_classes", num_classes, minimum=2, where=where)
        scale = _check_noise(noise, where)
        generator = torch.Generator().manual_seed(seed)
        centres = torch.randn(num_classes, num_features, generator=generator) * 2.0
        labels = torch.arange(num_samples) % num_classes
        labels = labels[torch.randperm(num_samples, generator=generator)]
        x = centres[labels] + scale * torch.randn(num_samples, num_features, generator=generator)
        super().__init__(
            x,
            labels,
            transform=transform,
            target_transform=target_transform,
            classes=[str(i) for i in range(num_classes)],
        )


class SyntheticRegression(ArrayDataset):
    """Seeded linear regression: ``y = x @ w + b + noise * N(0, 1)``, targets ``(N, num_targets)``.

    Examples
    --------
    >>> from pbgml.data import SyntheticRegression
    >>> ds = SyntheticRegression(num_samples=50, num_features=3)
    >>> ds.data.shape, ds.targets.shape, ds.num_classes
    (torch.Size([50, 3]), torch.Size([50, 1]), None)
    """

    def __init__(
        self,
        num_samples: int = 1000,
        num_features: int = 20,
        num_targets: int = 1,
        noise: float = 0.1,
        seed: int = 0,
        *,
        transform: Transform | None = None,
        target_transform: Transform | None = None,
    ) -> None:
        where = "synthetic_regression"
        check_int("num_samples", num_samples, where=where)
        check_int("num_features", num_features, where=where)
        check_int("num_targets", num_targets, where=where)
        scale = _check_noise(noise, where)
        generator = torch.Generator().manual_seed(seed)
        weight = torch.randn(num_features, num_targets, generator=generator) / num_features**0.5
        bias = torch.randn(num_targets, generator=generator)
        x = torch.randn(num_samples, num_features, generator=generator)
        noise_term = scale * torch.randn(num_samples, num_targets, generator=generator)
        y = x @ weight + bias + noise_term
        super().__init__(x, y, transform=transform, target_transform=target_transform)
