"""The :class:`DataModule`: datasets, a seeded train/val split and the data loaders."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler, Subset

from pbgml._errors import did_you_mean
from pbgml._validate import validates
from pbgml.data._datasets import _Transformed, base_dataset, check_int
from pbgml.data._errors import DataError
from pbgml.data._settings import LOADER_RULES, SPLIT_RULES
from pbgml.data._transforms import Transform

__all__ = ["DataModule", "EpochSampler", "split_indices"]

_STAGES = ("fit", "validate", "test", "predict")
_PERSISTENT = (
    "persistent_workers=True keeps worker processes alive between epochs, but num_workers=0 "
    "starts none: set num_workers > 0 or persistent_workers=False "
    "(data.num_workers / data.persistent_workers in a config)"
)


def _held_out_count(n: int, split: float, param: str) -> int:
    if isinstance(split, bool) or not isinstance(split, int | float):
        raise DataError(
            f"{param}={split!r} must be a fraction in (0, 1) or a count of samples", param=param
        )
    if 0 < split < 1:
        count = round(n * split)
    elif split >= 1 and float(split).is_integer():
        count = int(split)
    else:
        raise DataError(
            f"{param}={split!r} must be a fraction in (0, 1) or a whole count >= 1", param=param
        )
    if not 0 < count < n:
        raise DataError(
            f"{param}={split!r} holds out {count} of {n} samples; both parts must be non-empty",
            param=param,
        )
    return count


def split_indices(
    n: int, split: float, seed: int = 0, *, param: str = "val_split"
) -> tuple[list[int], list[int]]:
    """Shuffle ``range(n)`` with a seeded generator and hold out ``split`` of it.

    Parameters
    ----------
    n
        The number of samples.
    split
        A fraction in (0, 1), or a whole count (``5000`` or ``5000.0``).
    seed
        Seeds the :class:`torch.Generator`: the same seed always gives the same split.
    param
        The argument named in error messages.

    Returns
    -------
    tuple of list of int
        The kept indices and the held-out indices.

    Examples
    --------
    >>> from pbgml.data import split_indices
    >>> kept, held = split_indices(10, 0.2, seed=0)
    >>> len(kept), len(held), sorted(kept + held) == list(range(10))
    (8, 2, True)
    """
    count = _held_out_count(n, split, param)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    return order[count:], order[:count]


class EpochSampler(Sampler[int]):
    """Indices in an order that depends only on (seed, epoch), and can skip a prefix.

    The training sampler of a :class:`DataModule` outside :mod:`torch.distributed`:
    with ``shuffle`` a permutation drawn from a generator seeded with
    ``(seed, epoch)``, else ``range(length)``. :meth:`skip` makes the next iteration
    start after the samples already seen, so a run resumed in the middle of an
    epoch gets exactly the batches it had not trained on (the trainer calls it
    with ``batches_seen * batch_size``). No state beyond (seed, epoch, start).

    Parameters
    ----------
    length
        The number of samples.
    shuffle
        Shuffle every epoch.
    seed
        Seeds the shuffling.

    Examples
    --------
    >>> from pbgml.data._module import EpochSampler
    >>> sampler = EpochSampler(6, shuffle=True, seed=0)
    >>> sampler.set_epoch(2)
    >>> order = list(sampler)
    >>> sampler.skip(4)
    >>> len(sampler), list(sampler) == order[4:], list(sampler) == order
    (2, True, True)
    """

    def __init__(self, length: int, *, shuffle: bool = True, seed: int = 0) -> None:
        self.length = length
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int) -> None:
        """Use the order of ``epoch`` from the next iteration on (and forget any skip)."""
        self.epoch = epoch
        self.start = 0

    def skip(self, num_samples: int) -> None:
        """Start the next iteration (only that one) after ``num_samples`` samples."""
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 0:
            raise DataError(
                f"EpochSampler.skip: num_samples={num_samples!r} must be an int >= 0",
                param="num_samples",
            )
        self.start = min(num_samples, self.length)

    def order(self) -> list[int]:
        """Every index of the current epoch, in order (ignoring any skip)."""
        if not self.shuffle:
            return list(range(self.length))
        generator = torch.Generator().manual_seed(hash((self.seed, self.epoch)) & (2**63 - 1))
        return torch.randperm(self.length, generator=generator).tolist()

    def __iter__(self) -> Iterator[int]:
        start, self.start = self.start, 0
        return iter(self.order()[start:])

    def __len__(self) -> int:
        return self.length - self.start

    def state_dict(self) -> dict[str, int]:
        """``{"seed", "epoch", "start"}``: plain ints, for a checkpoint."""
        return {"seed": self.seed, "epoch": self.epoch, "start": self.start}

    def load_state_dict(self, state: Mapping[str, int]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.seed, self.epoch, self.start = state["seed"], state["epoch"], state["start"]


class _EvalShard(Sampler[int]):
    """This rank's share of an evaluation set: ``indices[rank::world_size]``, in order.

    Unlike :class:`~torch.utils.data.DistributedSampler` it neither pads nor shuffles,
    so the ranks together see every sample exactly once (ranks may differ by one).
    """

    def __init__(self, length: int, rank: int, world_size: int) -> None:
        self.indices = range(rank, length, world_size)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def _length(dataset: object, param: str) -> int:
    try:
        return len(dataset)  # type: ignore[arg-type]
    except TypeError:
        raise DataError(
            f"{param}: a {type(dataset).__name__} has no len(); a map-style Dataset is needed",
            param=param,
        ) from None


@validates(**LOADER_RULES, **SPLIT_RULES)
class DataModule:
    """Datasets and the loaders that batch them: plain PyTorch, no Lightning.

    Holds a train set (optionally split into train and validation with a seeded
    generator), a test set and a predict set, and makes one
    :class:`~torch.utils.data.DataLoader` per stage. Under
    :mod:`torch.distributed` the train loader gets a
    :class:`~torch.utils.data.DistributedSampler` (seeded, with ``drop_last``), and
    the validation, test and predict loaders an unpadded, unshuffled shard
    (``indices[rank::world_size]``): the ranks together see every sample exactly
    once, and may differ by one sample.

    Parameters
    ----------
    train
        The training set (``dataset`` is accepted as another name for it).
    val, test, predict
        The validation, test and prediction sets, if any.
    dataset
        Alternative spelling of ``train``.
    val_split
        Hold out part of ``train`` for validation: a fraction in (0, 1) or a count
        (``5000`` turns CIFAR-10's 50000 images into 45000 / 5000). ``None``: no split.
    seed
        Seeds the split and the shuffling, so both are reproducible.
    batch_size
        The training batch size.
    eval_batch_size
        The validation/test/predict batch size (default: ``batch_size``).
    num_workers
        Worker processes per loader (0 loads in the main process).
    pin_memory
        Page-locked batches for fast copies to the GPU; ``None`` turns it on when
        CUDA is available.
    persistent_workers
        Keep the workers alive between epochs (needs ``num_workers > 0``).
    drop_last
        Drop the last incomplete training batch (and, under :mod:`torch.distributed`,
        the tail of the training set that does not split evenly across the ranks,
        instead of padding it with repeated samples).
    shuffle
        Shuffle the training set every epoch (evaluation sets are never shuffled).
    train_transform, eval_transform
        Applied to every training / evaluation sample on top of the datasets' own
        transforms (so one dataset split in two can augment only its training part).

    Examples
    --------
    >>> import torch
    >>> from pbgml.data import ArrayDataset, DataModule
    >>> data = ArrayDataset(torch.randn(100, 3), torch.arange(100) % 4)
    >>> dm = DataModule(data, val_split=0.2, batch_size=16, seed=0)
    >>> len(dm.train_dataset), len(dm.val_dataset), dm.sample_shape
    (80, 20, (3,))
    >>> x, y = next(iter(dm.train_dataloader()))
    >>> x.shape, len(dm.val_dataloader())
    (torch.Size([16, 3]), 2)
    """

    def __init__(
        self,
        train: Dataset[Any] | None = None,
        val: Dataset[Any] | None = None,
        test: Dataset[Any] | None = None,
        predict: Dataset[Any] | None = None,
        *,
        dataset: Dataset[Any] | None = None,
        val_split: float | None = None,
        seed: int = 0,
        batch_size: int = 64,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        pin_memory: bool | None = None,
        persistent_workers: bool = False,
        drop_last: bool = False,
        shuffle: bool = True,
        train_transform: Transform | None = None,
        eval_transform: Transform | None = None,
    ) -> None:
        if dataset is not None:
            if train is not None:
                raise DataError("pass train or dataset (the same thing), not both", param="dataset")
            train = dataset
        for name, value in (
            ("batch_size", batch_size),
            ("eval_batch_size", eval_batch_size),
            ("num_workers", num_workers),
        ):
            LOADER_RULES[name](value)  # the rules pbgml.check applies to a config
        check_int("seed", seed, minimum=-(2**63))
        if persistent_workers and num_workers == 0:
            raise DataError(_PERSISTENT, param="persistent_workers")
        if val_split is not None:
            if train is None:
                raise DataError(f"val_split={val_split!r} needs a train set", param="val_split")
            if val is not None:
                raise DataError(
                    f"pass a val set or val_split={val_split!r}, not both", param="val_split"
                )
            _held_out_count(_length(train, "train"), val_split, "val_split")
        self.train = train
        self.val = val
        self.test = test
        self.predict = predict
        self.val_split = val_split
        self.seed = seed
        self.batch_size = batch_size
        self.eval_batch_size = batch_size if eval_batch_size is None else eval_batch_size
        self.num_workers = num_workers
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else pin_memory
        self.persistent_workers = persistent_workers
        self.drop_last = drop_last
        self.shuffle = shuffle
        self.train_transform = train_transform
        self.eval_transform = eval_transform
        self.epoch = 0
        self._ready = False
        self._datasets: dict[str, Dataset[Any] | None] = {}
        self._generator = torch.Generator().manual_seed(seed)
        self._train_sampler: DistributedSampler[Any] | EpochSampler | None = None
        self._sample_shape: tuple[int, ...] | None = None

    # -- datasets ----------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        """Split and wrap the datasets (once; later calls do nothing).

        Parameters
        ----------
        stage
            ``"fit"``, ``"validate"``, ``"test"``, ``"predict"`` or ``None`` (all).
            Every stage is prepared at once; the argument is checked, and kept for
            subclasses that load their data per stage.

        Examples
        --------
        >>> import torch
        >>> from pbgml.data import ArrayDataset, DataModule
        >>> dm = DataModule(ArrayDataset(torch.zeros(10, 2), torch.zeros(10)), val_split=3)
        >>> dm.setup("fit")
        >>> len(dm.train_dataset), len(dm.val_dataset)
        (7, 3)
        """
        if stage is not None and stage not in _STAGES:
            raise DataError(
                f"setup: unknown stage {stage!r}.{did_you_mean(stage, _STAGES)} "
                f"Choices: {', '.join(_STAGES)}.",
                param="stage",
            )
        if self._ready:
            return
        train, val = self.train, self.val
        if train is not None and self.val_split is not None:
            kept, held = split_indices(len(train), self.val_split, self.seed)  # type: ignore[arg-type]
            train, val = Subset(train, kept), Subset(train, held)
        self._datasets = {
            "train": self._wrap(train, self.train_transform),
            "val": self._wrap(val, self.eval_transform),
            "test": self._wrap(self.test, self.eval_transform),
            "predict": self._wrap(self.predict, self.eval_transform),
        }
        self._ready = True
        self._forward_epoch()

    def _wrap(
        self, dataset: Dataset[Any] | None, transform: Transform | None
    ) -> Dataset[Any] | None:
        if dataset is None or transform is None:
            return dataset
        return _Transformed(dataset, transform, seed=self.seed)

    def _forward_epoch(self) -> None:
        train = self._datasets.get("train")
        if isinstance(train, _Transformed):
            train.epoch = self.epoch

    def _dataset(self, stage: str) -> Dataset[Any] | None:
        self.setup()
        return self._datasets[stage]

    @property
    def train_dataset(self) -> Dataset[Any] | None:
        """The training set, after the split and the train transform (``None`` if absent)."""
        return self._dataset("train")

    @property
    def val_dataset(self) -> Dataset[Any] | None:
        """The validation set (the held-out part of ``train`` with ``val_split``)."""
        return self._dataset("val")

    @property
    def test_dataset(self) -> Dataset[Any] | None:
        """The test set (``None`` if absent)."""
        return self._dataset("test")

    @property
    def predict_dataset(self) -> Dataset[Any] | None:
        """The prediction set (``None`` if absent)."""
        return self._dataset("predict")

    # -- what the model sees -----------------------------------------------------------
    def _first_source(self) -> object | None:
        for source in (self.train, self.val, self.test, self.predict):
            if source is not None:
                return base_dataset(source)
        return None

    @property
    def num_classes(self) -> int | None:
        """The number of classes, when the datasets know it (else ``None``)."""
        source = self._first_source()
        known = getattr(source, "num_classes", None)
        if isinstance(known, int):
            return known
        classes = getattr(source, "classes", None)
        return len(classes) if isinstance(classes, list | tuple) else None

    @property
    def classes(self) -> list[str] | None:
        """The class names, when the datasets know them (else ``None``)."""
        classes = getattr(self._first_source(), "classes", None)
        return list(classes) if isinstance(classes, list | tuple) else None

    @property
    def sample_shape(self) -> tuple[int, ...] | None:
        """One sample's shape as the model receives it (after transforms), if a tensor.

        Read from the first sample, with torch's random state restored afterwards.
        """
        if self._sample_shape is None:
            for stage in ("train", "val", "test", "predict"):
                dataset = self._dataset(stage)
                if dataset is not None and _length(dataset, stage) > 0:
                    with torch.random.fork_rng(devices=[]):
                        sample = dataset[0]
                    x = sample[0] if isinstance(sample, tuple | list) else sample
                    if isinstance(x, torch.Tensor):
                        self._sample_shape = tuple(x.shape)
                    break
        return self._sample_shape

    # -- loaders -----------------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Tell the module the epoch about to start, so its shuffling depends only on it.

        Reseeds the generator of the workers' seeds with ``seed + epoch`` and forwards
        the epoch to the training sampler (an ``EpochSampler``, or the
        :class:`~torch.utils.data.DistributedSampler`) and to the train transform
        (seeded per sample with (seed, epoch, index)): resuming at epoch ``e``
        replays the same order and the same augmentations.

        Examples
        --------
        >>> import torch
        >>> from pbgml.data import ArrayDataset, DataModule
        >>> dm = DataModule(ArrayDataset(torch.arange(8.0)[:, None], torch.zeros(8)), batch_size=8)
        >>> loader = dm.train_dataloader()
        >>> dm.set_epoch(3)
        >>> first = next(iter(loader))[0].flatten().tolist()
        >>> dm.set_epoch(3)
        >>> next(iter(loader))[0].flatten().tolist() == first
        True
        """
        self.epoch = epoch
        self._generator.manual_seed(self.seed + epoch)
        if self._train_sampler is not None:
            self._train_sampler.set_epoch(epoch)
        if self._ready:
            self._forward_epoch()

    def state_dict(self) -> dict[str, int]:
        """``{"seed", "epoch"}``: what the order of the batches depends on.

        Examples
        --------
        >>> import torch
        >>> from pbgml.data import ArrayDataset, DataModule
        >>> dm = DataModule(ArrayDataset(torch.zeros(4, 1), torch.zeros(4)), seed=3)
        >>> dm.set_epoch(2)
        >>> dm.state_dict()
        {'seed': 3, 'epoch': 2}
        """
        return {"seed": self.seed, "epoch": self.epoch}

    def load_state_dict(self, state: Mapping[str, int]) -> None:
        """Check the seed matches and move to the saved epoch.

        Examples
        --------
        >>> import torch
        >>> from pbgml.data import ArrayDataset, DataModule
        >>> dm = DataModule(ArrayDataset(torch.zeros(4, 1), torch.zeros(4)), seed=3)
        >>> dm.load_state_dict({"seed": 3, "epoch": 5})
        >>> dm.epoch
        5
        """
        if state.get("seed") != self.seed:
            raise DataError(
                f"load_state_dict: the checkpoint's data seed {state.get('seed')!r} differs "
                f"from this DataModule's seed={self.seed!r}; the batches would not replay",
                param="seed",
            )
        self.set_epoch(int(state["epoch"]))

    def _loader(self, stage: str, *, train: bool) -> DataLoader[Any]:
        dataset = self._dataset(stage)
        if dataset is None:
            hint = {
                "train": "pass train=... (or dataset=...)",
                "val": "pass val=... or val_split=...",
                "test": "pass test=...",
                "predict": "pass predict=...",
            }[stage]
            raise DataError(f"this DataModule has no {stage} set: {hint}", param=stage)
        sampler: Sampler[int] | None = None
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
        if train and not distributed:
            epoch_sampler = EpochSampler(
                _length(dataset, stage), shuffle=self.shuffle, seed=self.seed
            )
            epoch_sampler.set_epoch(self.epoch)
            self._train_sampler = sampler = epoch_sampler
        elif distributed:
            if train:
                self._train_sampler = DistributedSampler(
                    dataset, shuffle=self.shuffle, seed=self.seed, drop_last=self.drop_last
                )
                self._train_sampler.set_epoch(self.epoch)
                sampler = self._train_sampler
            else:  # padding would count samples twice in the metrics
                sampler = _EvalShard(
                    _length(dataset, stage),
                    torch.distributed.get_rank(),
                    torch.distributed.get_world_size(),
                )
        # the workers' base seed comes from this generator, never from torch's global RNG
        generator = self._generator if train else torch.Generator().manual_seed(self.seed)
        return DataLoader(
            dataset,
            batch_size=self.batch_size if train else self.eval_batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.persistent_workers,
            drop_last=self.drop_last if train else False,
            generator=generator,
        )

    def train_dataloader(self) -> DataLoader[Any]:
        """The training loader: shuffled (seeded), ``batch_size``, maybe ``drop_last``."""
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader[Any]:
        """The validation loader: in order, ``eval_batch_size`` (one shard per rank)."""
        return self._loader("val", train=False)

    def test_dataloader(self) -> DataLoader[Any]:
        """The test loader: in order, ``eval_batch_size`` (one shard per rank)."""
        return self._loader("test", train=False)

    def predict_dataloader(self) -> DataLoader[Any]:
        """The prediction loader: in order, ``eval_batch_size`` (one shard per rank)."""
        return self._loader("predict", train=False)

    def __repr__(self) -> str:
        sizes = []
        for stage in ("train", "val", "test", "predict"):
            dataset = self._dataset(stage)
            if dataset is not None:
                sizes.append(f"{stage}={_length(dataset, stage)}")
        return f"DataModule({', '.join(sizes)}, batch_size={self.batch_size})"
