from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler, SequentialSampler, TensorDataset

from pbgml.data import ArrayDataset, DataError, DataModule, EpochSampler, RandomCrop, split_indices


def _indexed(n: int) -> TensorDataset:
    """Samples that are their own index, so splits can be inspected."""
    return TensorDataset(torch.arange(n), torch.zeros(n, dtype=torch.long))


def _values(dataset: Any) -> list[int]:
    return [int(dataset[i][0]) for i in range(len(dataset))]


def test_cifar_sized_split_is_45000_5000() -> None:
    dm = DataModule(_indexed(50000), val_split=5000)
    assert len(dm.train_dataset) == 45000
    assert len(dm.val_dataset) == 5000
    fraction = DataModule(_indexed(50000), val_split=0.1)
    assert len(fraction.val_dataset) == 5000
    as_float_count = DataModule(_indexed(50000), val_split=5000.0)  # what YAML gives
    assert len(as_float_count.val_dataset) == 5000


def test_split_is_deterministic_disjoint_and_complete() -> None:
    a = DataModule(_indexed(100), val_split=0.2, seed=7)
    b = DataModule(_indexed(100), val_split=0.2, seed=7)
    c = DataModule(_indexed(100), val_split=0.2, seed=8)
    train, val = _values(a.train_dataset), _values(a.val_dataset)
    assert train == _values(b.train_dataset)
    assert val == _values(b.val_dataset)
    assert val != _values(c.val_dataset)
    assert not set(train) & set(val)
    assert sorted(train + val) == list(range(100))
    assert a.train_dataset.indices == train  # a Subset of the original


def test_split_indices_helper() -> None:
    kept, held = split_indices(10, 3, seed=1)
    assert len(held) == 3
    assert sorted(kept + held) == list(range(10))
    assert split_indices(10, 3, seed=1) == (kept, held)


@pytest.mark.parametrize("bad", [0, 0.0, 2.5, -0.5, -1, 100, 250, True, "5000", []])
def test_bad_val_split_names_the_argument(bad: Any) -> None:
    with pytest.raises(DataError, match="val_split=") as info:
        DataModule(_indexed(100), val_split=bad)
    assert info.value.param == "val_split"
    assert isinstance(info.value, ValueError)


def test_val_and_val_split_are_exclusive() -> None:
    with pytest.raises(DataError, match="not both"):
        DataModule(_indexed(10), val=_indexed(2), val_split=2)


def test_dataset_is_another_name_for_train() -> None:
    dm = DataModule(dataset=_indexed(10))
    assert len(dm.train_dataset) == 10
    with pytest.raises(DataError, match="not both"):
        DataModule(_indexed(3), dataset=_indexed(3))


def test_persistent_workers_need_workers() -> None:
    with pytest.raises(DataError, match=r"data\.persistent_workers") as info:
        DataModule(_indexed(10), persistent_workers=True)
    assert info.value.param == "persistent_workers"


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"eval_batch_size": -1}, "eval_batch_size"),
        ({"num_workers": -1}, "num_workers"),
        ({"batch_size": 2.5}, "batch_size"),
    ],
)
def test_bad_loader_settings(kwargs: dict[str, Any], param: str) -> None:
    with pytest.raises(DataError, match=f"{param}=") as info:
        DataModule(_indexed(10), **kwargs)
    assert info.value.param == param


def test_loader_settings() -> None:
    dm = DataModule(
        _indexed(20),
        val=_indexed(7),
        test=_indexed(5),
        predict=_indexed(3),
        batch_size=4,
        eval_batch_size=3,
        num_workers=2,
        persistent_workers=True,
        pin_memory=False,
        drop_last=True,
    )
    train = dm.train_dataloader()
    assert train.batch_size == 4
    assert train.num_workers == 2
    assert train.persistent_workers is True
    assert train.pin_memory is False
    assert train.drop_last is True
    assert isinstance(train.sampler, EpochSampler)  # ordered by (seed, epoch): resumable
    assert train.sampler.shuffle
    for loader in (dm.val_dataloader(), dm.test_dataloader(), dm.predict_dataloader()):
        assert loader.batch_size == 3
        assert loader.drop_last is False
        assert isinstance(loader.sampler, SequentialSampler)
    assert len(dm.val_dataloader()) == 3


def test_defaults_eval_batch_size_and_pin_memory() -> None:
    dm = DataModule(_indexed(10), test=_indexed(10), batch_size=5, shuffle=False)
    assert dm.eval_batch_size == 5
    assert dm.pin_memory is torch.cuda.is_available()
    loader = dm.train_dataloader()
    assert isinstance(loader.sampler, EpochSampler)
    assert not loader.sampler.shuffle
    assert torch.cat([x for x, _ in loader]).tolist() == list(range(10))


def test_missing_sets_raise_with_a_hint() -> None:
    dm = DataModule(_indexed(10))
    assert dm.val_dataset is None
    with pytest.raises(DataError, match=r"no val set: pass val=\.\.\. or val_split"):
        dm.val_dataloader()
    with pytest.raises(DataError, match="no test set"):
        dm.test_dataloader()
    with pytest.raises(DataError, match="no train set"):
        DataModule(test=_indexed(3)).train_dataloader()


def test_setup_checks_the_stage() -> None:
    dm = DataModule(_indexed(10))
    dm.setup("fit")
    dm.setup("test")
    with pytest.raises(DataError, match="Did you mean 'validate'"):
        dm.setup("validat")


def test_set_epoch_makes_the_order_a_function_of_the_epoch() -> None:
    dm = DataModule(_indexed(32), batch_size=32, seed=3)
    loader = dm.train_dataloader()

    def order(epoch: int) -> list[int]:
        dm.set_epoch(epoch)
        return next(iter(loader))[0].tolist()

    first = order(1)
    assert order(2) != first
    assert order(1) == first
    other = DataModule(_indexed(32), batch_size=32, seed=3)
    other_loader = other.train_dataloader()
    other.set_epoch(1)
    assert next(iter(other_loader))[0].tolist() == first
    assert sorted(first) == list(range(32))


def test_train_and_eval_transforms_go_to_their_splits() -> None:
    dm = DataModule(
        _indexed(20),
        test=_indexed(4),
        val_split=5,
        train_transform=lambda x: x + 1000,
        eval_transform=lambda x: -x,
    )
    assert all(v >= 1000 for v in _values(dm.train_dataset))
    assert all(v <= 0 for v in _values(dm.val_dataset))
    assert _values(dm.test_dataset) == [0, -1, -2, -3]
    assert dm.train_dataset[0][1].dtype == torch.long  # targets untouched


def test_shape_and_classes_are_read_from_the_data() -> None:
    data = ArrayDataset(torch.zeros(10, 3, 8, 8), torch.arange(10) % 3, classes=["a", "b", "c"])
    dm = DataModule(data, val_split=2, train_transform=RandomCrop(6))
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    assert dm.sample_shape == (3, 6, 6)  # after the transform
    assert torch.equal(torch.rand(3), expected)  # the global RNG was not consumed
    assert dm.num_classes == 3
    assert dm.classes == ["a", "b", "c"]
    plain = DataModule(_indexed(4))
    assert plain.num_classes is None
    assert plain.classes is None
    assert plain.sample_shape == ()


def test_repr() -> None:
    dm = DataModule(_indexed(10), test=_indexed(4), val_split=2, batch_size=8)
    assert repr(dm) == "DataModule(train=8, val=2, test=4, batch_size=8)"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def gloo_group() -> Iterator[None]:
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{_free_port()}", rank=0, world_size=1
    )
    try:
        yield
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
@pytest.mark.usefixtures("gloo_group")
def test_distributed_sampler_under_a_process_group() -> None:
    dm = DataModule(_indexed(12), val_split=4, batch_size=4, seed=5)
    train = dm.train_dataloader()
    assert isinstance(train.sampler, DistributedSampler)
    assert train.sampler.shuffle is True
    assert train.sampler.seed == 5
    assert train.sampler.drop_last is False
    val = dm.val_dataloader()
    assert not isinstance(val.sampler, DistributedSampler)  # it would pad the shards
    assert list(val.sampler) == list(range(4))  # one rank: everything, in order
    dm.set_epoch(4)
    assert train.sampler.epoch == 4
    seen = torch.cat([x for x, _ in train]).tolist()
    assert sorted(seen) == sorted(_values(dm.train_dataset))


_DDP_WORKER = """
import datetime, json, sys
import torch
import torch.distributed as dist
from pbgml.data import ArrayDataset, DataModule

rank, port = int(sys.argv[1]), sys.argv[2]
dist.init_process_group(
    "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2,
    timeout=datetime.timedelta(seconds=30),
)
data = ArrayDataset(torch.arange(5.0)[:, None], torch.arange(5) % 2)
seen = {}
for drop_last in (False, True):
    dm = DataModule(data, val=data, test=data, predict=data, batch_size=2, drop_last=drop_last)
    for stage in ("train", "val", "test", "predict"):
        loader = getattr(dm, f"{stage}_dataloader")()
        seen[f"{stage}/{drop_last}"] = [int(x) for batch, _ in loader for x in batch.flatten()]
dist.destroy_process_group()
print(json.dumps(seen))
"""


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
def test_two_ranks_evaluate_every_sample_exactly_once(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(_DDP_WORKER)
    port = str(_free_port())
    ranks = [
        subprocess.Popen(
            [sys.executable, str(script), str(rank), port],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(2)
    ]
    outputs = []
    try:
        for proc in ranks:
            out, err = proc.communicate(timeout=90)
            assert proc.returncode == 0, err
            outputs.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in ranks:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    first, second = outputs
    for stage in ("val", "test", "predict"):
        for drop_last in (False, True):
            key = f"{stage}/{drop_last}"
            assert first[key] == [0, 2, 4]  # unpadded, in order: ranks differ by one sample
            assert second[key] == [1, 3]
            assert sorted(first[key] + second[key]) == [0, 1, 2, 3, 4]  # no duplicates
    # training with drop_last: the uneven tail is dropped instead of padded with a repeat
    dropped = first["train/True"] + second["train/True"]
    assert len(first["train/True"]) == len(second["train/True"]) == 2
    assert len(set(dropped)) == 4
    padded = first["train/False"] + second["train/False"]
    assert len(padded) == 6
    assert set(padded) == {0, 1, 2, 3, 4}
