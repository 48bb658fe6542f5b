from __future__ import annotations

import dataclasses
import resource
import time

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

import pbgml
from pbgml.configs import LeNetConf, MLPConf
from pbgml.nn import (
    MLP,
    InvalidArgumentError,
    LayerSummary,
    LeNet,
    ModelSummary,
    ShapeMismatchError,
    TransformerClassifier,
)
from pbgml.nn import summary as module_summary

# pbgml.summary takes configs as well as everything pbgml.nn.summary takes
summary = pbgml.summary


def test_lenet_summary() -> None:
    info = summary(LeNet(), (3, 32, 32))
    assert isinstance(info, ModelSummary)
    assert info.model == "LeNet"
    assert info.input_shape == (1, 3, 32, 32)
    assert info.output_shape == (1, 10)
    assert info.num_parameters == info.num_trainable == 62006
    assert info.parameter_bytes == 62006 * 4
    assert [row.name for row in info.layers][:3] == ["features.0", "features.1", "features.2"]
    assert info.layers[6] == LayerSummary("flatten", "Flatten", (1, 400), 0)
    assert sum(row.num_parameters for row in info.layers) == 62006
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.num_parameters = 0  # type: ignore[misc]


def test_summary_table() -> None:
    text = str(summary(LeNet(), (3, 32, 32), batch_size=8))
    lines = text.splitlines()
    assert lines[0] == "LeNet: input (8, 3, 32, 32) -> output (8, 10)"
    assert lines[1].split() == ["Layer", "Type", "Output", "shape", "Params"]
    assert lines[3].split() == ["features.0", "Conv2d", "(8,", "6,", "28,", "28)", "456"]
    assert lines[-1] == "Total params: 62,006 (trainable: 62,006), 242.2 KiB"
    assert all(line == line.rstrip() for line in lines)


def test_summary_builds_a_callable_on_meta_without_allocating() -> None:
    built: list[nn.Module] = []

    def huge() -> nn.Module:  # 10 billion parameters: 40 GB in float32
        model = MLP(in_features=100_000, hidden=(100_000,), out_features=10)
        built.append(model)
        return model

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    info = summary(huge, (100_000,))
    assert time.perf_counter() - start < 5
    assert info.num_parameters == 100_000 * 100_000 + 100_000 + 100_000 * 10 + 10
    assert info.output_shape == (1, 10)
    assert all(p.device.type == "meta" for p in built[0].parameters())
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 500_000  # far below the 40 GB the weights would take


def test_summary_does_not_need_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_cuda() -> bool:
        raise AssertionError("summary asked about CUDA")

    monkeypatch.setattr(torch.cuda, "is_available", no_cuda)
    assert summary(LeNet, (3, 32, 32)).num_parameters == 62006


def test_summary_leaves_a_real_module_untouched() -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.Linear(8, 2))
    model.train()
    model[2].eval()
    pointers = [p.data_ptr() for p in model.parameters()]
    stats = model[1].running_mean.clone()
    info = summary(model, (4,))
    assert info.output_shape == (1, 2)
    assert [p.data_ptr() for p in model.parameters()] == pointers
    assert all(p.device.type == "cpu" for p in model.parameters())
    assert torch.equal(model[1].running_mean, stats)
    assert int(model[1].num_batches_tracked) == 0
    assert [m.training for m in model.modules()] == [True, True, True, False, True]
    assert all(not m._forward_hooks for m in model.modules())


def test_summary_of_a_config() -> None:
    assert summary(LeNetConf(), (3, 32, 32)).num_parameters == 62006
    assert summary(LeNetConf, (3, 32, 32)).num_parameters == 62006
    mnist = {"_target_": "pbgml.nn.LeNet", "in_channels": 1, "input_size": 28}
    assert summary(mnist, (1, 28, 28)).num_parameters == 44426
    node = OmegaConf.structured(MLPConf(in_features=64, hidden=(32,), out_features=10))
    info = summary(node, (8, 8))
    assert info.num_parameters == 64 * 32 + 32 + 32 * 10 + 10
    assert info.output_shape == (1, 10)


def test_summary_of_a_registered_name() -> None:
    assert summary("lenet", (3, 32, 32)).num_parameters == 62006


def test_summary_of_a_token_model() -> None:
    def model() -> nn.Module:
        return TransformerClassifier(100, 3, d_model=16, nhead=2, pooling="cls")

    info = summary(model, (12,), dtype=torch.long)
    assert info.output_shape == (1, 3)
    rows = {row.name: row for row in info.layers}
    assert rows["embed"].output_shape == (1, 12, 16)
    assert rows["(self)"].num_parameters == 16  # the cls token
    assert rows["encoder.layers.0.self_attn.out_proj"].output_shape is None  # never called
    assert info.layers[-1].output_shape is None  # modules that did not run come last


def test_summary_counts_trainable_and_shared_parameters() -> None:
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.ReLU(), shared, nn.Linear(4, 2))
    model[3].weight.requires_grad_(False)
    info = summary(model, (4,))
    assert info.num_parameters == 20 + 10
    assert info.num_trainable == 20 + 2
    assert [row.name for row in info.layers] == ["0", "1", "3"]  # a module used twice: one row
    # the tied tensors are put back, on their device, with their flags
    assert all(p.device.type == "cpu" for p in model.parameters())
    assert [p.requires_grad for p in model.parameters()] == [True, True, False, True]


def test_summary_restores_the_module_when_the_forward_fails() -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
    weight = model[0].weight
    with pytest.raises(ShapeMismatchError):
        summary(model, (5,))
    assert model[0].weight is weight
    assert all(p.device.type == "cpu" for p in [*model.parameters(), *model.buffers()])
    assert model.training
    assert all(not m._forward_hooks for m in model.modules())


def test_summary_reports_a_shape_mismatch() -> None:
    with pytest.raises(ShapeMismatchError, match=r"model\.in_features=64 but the input yields"):
        summary(MLPConf(in_features=64, out_features=10), (3, 32, 32))


@pytest.mark.parametrize("shape", [(3, 0), "3x32x32", (3.0, 2), None, (True, 2)])
def test_summary_rejects_bad_input_shapes(shape: object) -> None:
    with pytest.raises(InvalidArgumentError, match=r"input_shape=.* expected a tuple of positive"):
        summary(LeNet(), shape)  # type: ignore[arg-type]


def test_summary_rejects_what_is_not_a_model() -> None:
    with pytest.raises(InvalidArgumentError, match=r"model=42 is not a model"):
        summary(42, (3,))
    with pytest.raises(InvalidArgumentError, match=r"returned 'oops', not a torch\.nn\.Module"):
        summary(lambda: "oops", (3,))
    with pytest.raises(InvalidArgumentError, match=r"batch_size=0 is invalid"):
        summary(LeNet(), (3, 32, 32), batch_size=0)


def test_component_summary_refuses_a_config_and_names_the_config_level_function() -> None:
    with pytest.raises(InvalidArgumentError, match=r"use pbgml\.summary"):
        module_summary(LeNetConf(), (3, 32, 32))
    assert (
        module_summary(LeNet(), (3, 32, 32)).num_parameters
        == summary(LeNetConf(), (3, 32, 32)).num_parameters
    )
