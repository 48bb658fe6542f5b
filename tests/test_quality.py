"""End-to-end quality: catalogue components learn real data to a known accuracy."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import torch

from pbgml import registry
from pbgml.data import DataModule


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Tiny matrices train faster on one thread (and do not fight other processes)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.mark.usefixtures("one_thread")
def test_mlp_learns_digits_to_95_percent() -> None:
    start = time.perf_counter()
    torch.manual_seed(0)
    data = registry.data.build("digits", test_split=0.5, val_split=None, seed=0, batch_size=64)
    assert isinstance(data, DataModule)
    model = registry.model.build("mlp", in_features=64, hidden=(256,), out_features=10)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    loss_fn = torch.nn.CrossEntropyLoss()

    for epoch in range(20):
        data.set_epoch(epoch)
        model.train()
        for x, y in data.train_dataloader():
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()

    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in data.test_dataloader():  # every test batch, not one reused batch
            correct += int((model(x).argmax(dim=1) == y).sum())
            total += len(y)
    elapsed = time.perf_counter() - start

    assert total == 898  # half of the 1797 digits, none of them seen in training
    accuracy = correct / total
    assert accuracy >= 0.95, f"test accuracy {accuracy:.3f}"
    assert elapsed < 30, f"took {elapsed:.1f} s"
