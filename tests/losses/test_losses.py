from __future__ import annotations

import math
from typing import Any

import hydra.utils
import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from omegaconf import OmegaConf
from torch import nn

from pbgml import PbgmlError, registry
from pbgml.configs import (
    BCEWithLogitsLossConf,
    CrossEntropyLossConf,
    FocalLossConf,
    NLLLossConf,
    WeightedSumLossConf,
    config_for,
)
from pbgml.losses import (
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    FocalLoss,
    LossConfigError,
    NLLLoss,
    WeightedSumLoss,
)


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return torch.randn(16, 4, generator=gen), torch.randint(0, 4, (16,), generator=gen)


def _yaml(conf: Any) -> Any:
    """A config as it comes back from a YAML file (lists are ListConfig)."""
    return OmegaConf.create(OmegaConf.to_yaml(OmegaConf.structured(conf)))


# -- torch losses with list weights ------------------------------------------------------


def test_cross_entropy_short_name_is_pbgml_and_torch_keeps_its_class_name() -> None:
    assert registry.loss.get("cross_entropy") is CrossEntropyLoss
    assert registry.loss.get("CrossEntropyLoss") is nn.CrossEntropyLoss
    assert config_for("loss", "cross_entropy") is CrossEntropyLossConf
    assert registry.loss.get("nll") is NLLLoss
    assert registry.loss.get("bce_with_logits") is BCEWithLogitsLoss
    assert issubclass(CrossEntropyLoss, nn.CrossEntropyLoss)


def test_cross_entropy_list_weight_equals_tensor_weight(
    batch: tuple[torch.Tensor, torch.Tensor],
) -> None:
    logits, target = batch
    weight = [1.0, 2.0, 0.5, 3.0]
    ours = CrossEntropyLoss(weight=weight, label_smoothing=0.1)(logits, target)
    theirs = nn.CrossEntropyLoss(weight=torch.tensor(weight), label_smoothing=0.1)(logits, target)
    assert torch.allclose(ours, theirs)
    assert torch.allclose(
        CrossEntropyLoss(weight=torch.tensor(weight))(logits, target),
        F.cross_entropy(logits, target, weight=torch.tensor(weight)),
    )


def test_weight_is_a_buffer_that_moves_with_the_module() -> None:
    loss = CrossEntropyLoss(weight=[1.0, 2.0]).to(torch.float64)
    assert loss.weight is not None
    assert loss.weight.dtype == torch.float64
    assert "weight" in dict(loss.named_buffers())


def test_cross_entropy_from_yaml_through_hydra(batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    logits, target = batch
    node = _yaml(CrossEntropyLossConf(weight=[1.0, 2.0, 0.5, 3.0], label_smoothing=0.05))
    assert node._target_ == "pbgml.losses.CrossEntropyLoss"
    loss = hydra.utils.instantiate(node)
    assert isinstance(loss, CrossEntropyLoss)
    expected = F.cross_entropy(
        logits, target, weight=torch.tensor([1.0, 2.0, 0.5, 3.0]), label_smoothing=0.05
    )
    assert torch.allclose(loss(logits, target), expected)


def test_nll_and_bce_with_logits_take_lists() -> None:
    log_probs = torch.log_softmax(torch.randn(6, 3), dim=1)
    target = torch.tensor([0, 1, 2, 2, 1, 0])
    assert torch.allclose(
        hydra.utils.instantiate(_yaml(NLLLossConf(weight=[1.0, 0.5, 2.0])))(log_probs, target),
        F.nll_loss(log_probs, target, weight=torch.tensor([1.0, 0.5, 2.0])),
    )
    logits, labels = torch.randn(5, 2), torch.randint(0, 2, (5, 2)).float()
    loss = hydra.utils.instantiate(_yaml(BCEWithLogitsLossConf(pos_weight=[3.0, 0.5])))
    expected = F.binary_cross_entropy_with_logits(
        logits, labels, pos_weight=torch.tensor([3.0, 0.5])
    )
    assert torch.allclose(loss(logits, labels), expected)


@pytest.mark.parametrize("weight", ["heavy", [1.0, "x"], {"a": 1.0}, 3])
def test_bad_weight_names_the_argument(weight: Any) -> None:
    with pytest.raises(
        LossConfigError, match=r"CrossEntropyLoss: weight must be a list of numbers"
    ):
        CrossEntropyLoss(weight=weight)


def test_bad_reduction_has_did_you_mean() -> None:
    with pytest.raises(LossConfigError, match=r"reduction='sums' .* Did you mean 'sum'\?"):
        BCEWithLogitsLoss(reduction="sums")


# -- focal loss --------------------------------------------------------------------


def test_focal_with_gamma_zero_is_cross_entropy(batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    logits, target = batch
    assert torch.allclose(FocalLoss(gamma=0.0)(logits, target), F.cross_entropy(logits, target))


def test_focal_matches_the_formula(batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    logits, target = batch
    alpha = [0.1, 0.2, 0.3, 0.4]
    p = torch.softmax(logits, dim=1)[torch.arange(16), target]
    expected = -torch.tensor(alpha)[target] * (1 - p) ** 1.5 * torch.log(p)
    loss = FocalLoss(gamma=1.5, alpha=alpha, reduction="none")
    assert torch.allclose(loss(logits, target), expected, atol=1e-6)
    assert torch.allclose(FocalLoss(1.5, alpha, "sum")(logits, target), expected.sum(), atol=1e-5)
    assert torch.allclose(FocalLoss(1.5, alpha)(logits, target), expected.mean(), atol=1e-6)
    scalar = FocalLoss(gamma=1.5, alpha=0.25, reduction="none")(logits, target)
    assert torch.allclose(scalar, 0.25 * (1 - p) ** 1.5 * -torch.log(p), atol=1e-6)


def test_focal_down_weights_easy_examples() -> None:
    easy, hard = torch.tensor([[4.0, 0.0]]), torch.tensor([[0.5, 0.0]])
    target = torch.tensor([0])
    ratio_focal = FocalLoss()(easy, target) / FocalLoss()(hard, target)
    ratio_ce = F.cross_entropy(easy, target) / F.cross_entropy(hard, target)
    assert ratio_focal < ratio_ce / 10


def test_focal_on_dense_predictions_and_gradients() -> None:
    logits = torch.randn(2, 3, 4, 4, requires_grad=True)
    target = torch.randint(0, 3, (2, 4, 4))
    loss = FocalLoss(alpha=[1.0, 2.0, 3.0])
    value = loss(logits, target)
    value.backward()
    assert logits.grad is not None
    assert torch.isfinite(logits.grad).all()
    assert FocalLoss(reduction="none")(logits, target).shape == (2, 4, 4)
    assert loss.to(torch.float64).alpha is not None
    assert loss.alpha is not None
    assert loss.alpha.dtype == torch.float64


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"gamma": -1.0}, r"FocalLoss: gamma must be a number >= 0, got -1\.0"),
        ({"gamma": "2"}, r"gamma must be a number >= 0, got '2'"),
        ({"alpha": "x"}, r"FocalLoss: alpha must be a list of numbers or a tensor, got 'x'"),
        ({"alpha": True}, r"alpha must be a number or a list, got True"),
        ({"reduction": "mea"}, r"reduction='mea' is not one of .* Did you mean 'mean'\?"),
    ],
)
def test_focal_rejects_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(LossConfigError, match=message) as info:
        FocalLoss(**kwargs)
    assert isinstance(info.value, PbgmlError)
    assert isinstance(info.value, ValueError)


def test_focal_from_yaml_matches_a_hand_computed_value() -> None:
    node = _yaml(FocalLossConf(gamma=2.0, alpha=[0.25, 0.75]))
    assert node.alpha == [0.25, 0.75]
    loss = hydra.utils.instantiate(node)
    assert isinstance(loss, FocalLoss)
    # p_y = softmax([0, ln 3])[1] = 0.75 -> 0.75 * 0.25**2 * -ln 0.75; p_y = 0.5 -> 0.25 * 0.25 * ln 2
    logits = torch.tensor([[0.0, torch.log(torch.tensor(3.0)).item()], [1.0, 1.0]])
    target = torch.tensor([1, 0])
    first = 0.75 * 0.25**2 * -math.log(0.75)
    second = 0.25 * 0.5**2 * math.log(2.0)
    assert loss(logits, target).item() == pytest.approx((first + second) / 2, rel=1e-6)
    assert config_for("loss", "focal") is FocalLossConf


@pytest.mark.parametrize("gamma", [0.0, 0.25, 0.5, 1.0, 2.0])
def test_focal_gradient_is_finite_for_certain_predictions(gamma: float) -> None:
    # (1 - p) ** gamma has an infinite slope at p = 1 when gamma < 1
    for big in (30.0, 200.0):  # p_y = 1 - 1e-26, and p_y == 1.0 exactly in float32
        logits = torch.tensor([[big, -big], [0.0, 0.0]], requires_grad=True)
        loss = FocalLoss(gamma=gamma)(logits, torch.tensor([0, 1]))
        loss.backward()
        assert logits.grad is not None
        assert torch.isfinite(loss)
        assert torch.isfinite(logits.grad).all(), (gamma, big, logits.grad)
        assert logits.grad[1].abs().sum() > 0  # the uncertain example still learns


def test_focal_ignores_ignore_index_like_cross_entropy(
    batch: tuple[torch.Tensor, torch.Tensor],
) -> None:
    logits, target = batch
    target = target.clone()
    target[::3] = -100
    kept = target != -100
    for reduction in ("mean", "sum"):
        ours = FocalLoss(gamma=0.0, reduction=reduction)(logits, target)
        assert torch.allclose(ours, F.cross_entropy(logits, target, reduction=reduction))
    per_example = FocalLoss(gamma=2.0, alpha=[1.0, 2.0, 3.0, 4.0], reduction="none")(logits, target)
    assert (per_example[~kept] == 0).all()
    expected = FocalLoss(gamma=2.0, alpha=[1.0, 2.0, 3.0, 4.0])(logits[kept], target[kept])
    assert torch.allclose(per_example.sum() / kept.sum(), expected)
    other = target.masked_fill(~kept, 255)
    assert torch.allclose(FocalLoss(ignore_index=255)(logits, other), FocalLoss()(logits, target))


def test_focal_alpha_length_must_match_the_classes() -> None:
    loss = FocalLoss(alpha=[1.0, 2.0])
    with pytest.raises(LossConfigError, match=r"FocalLoss: alpha has 2 weights .* C=3 classes"):
        loss(torch.zeros(2, 3), torch.tensor([0, 2]))
    with pytest.raises(LossConfigError, match=r"logits of shape \(2, 3\) do not fit target"):
        loss(torch.zeros(2, 3), torch.tensor([0, 1, 2]))


def test_cross_entropy_label_smoothing_is_checked_when_made() -> None:
    for bad in (2, -0.1, "0.1", True):
        with pytest.raises(LossConfigError, match=r"CrossEntropyLoss: label_smoothing must be"):
            CrossEntropyLoss(label_smoothing=bad)  # type: ignore[arg-type]
    assert CrossEntropyLoss(label_smoothing=1).label_smoothing == 1.0
    with pytest.raises(LossConfigError, match=r"FocalLoss: ignore_index must be an integer"):
        FocalLoss(ignore_index=1.5)  # type: ignore[arg-type]


# -- weighted sum ------------------------------------------------------------------


def test_weighted_sum_adds_weighted_parts(batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    logits, target = batch
    loss = WeightedSumLoss({"ce": CrossEntropyLoss(), "focal": FocalLoss()}, {"focal": 0.25})
    total = loss(logits, target)
    ce, focal = F.cross_entropy(logits, target), FocalLoss()(logits, target)
    assert torch.allclose(total, ce + 0.25 * focal)
    assert set(loss.last_parts) == {"ce", "focal"}
    assert torch.allclose(loss.last_parts["focal"], 0.25 * focal)
    assert not loss.last_parts["ce"].requires_grad
    assert loss.weights == {"ce": 1.0, "focal": 0.25}
    assert isinstance(loss.losses, nn.ModuleDict)


def test_weighted_sum_backpropagates_through_every_part() -> None:
    logits = torch.randn(4, 3, requires_grad=True)
    target = torch.tensor([0, 1, 2, 0])
    WeightedSumLoss({"a": CrossEntropyLoss(), "b": FocalLoss()})(logits, target).backward()
    assert logits.grad is not None
    assert logits.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("losses", "weights", "message"),
    [
        ({}, None, r"losses must be a non-empty mapping"),
        ({"ce": "cross_entropy"}, None, r"losses\['ce'\] must be a torch\.nn\.Module"),
        (
            {"ce": CrossEntropyLoss()},
            {"cee": 1.0},
            r"weights\['cee'\] names no loss .* Did you mean 'ce'\?",
        ),
        ({"ce": CrossEntropyLoss()}, {"ce": "1"}, r"weights\['ce'\] must be a number"),
    ],
)
def test_weighted_sum_rejects_bad_arguments(losses: Any, weights: Any, message: str) -> None:
    with pytest.raises(LossConfigError, match=message):
        WeightedSumLoss(losses, weights)


def test_weighted_sum_from_yaml(batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    logits, target = batch
    conf = WeightedSumLossConf(
        losses={"ce": CrossEntropyLossConf(label_smoothing=0.1), "focal": FocalLossConf()},
        weights={"focal": 2.0},
    )
    loss = hydra.utils.instantiate(_yaml(conf))
    assert isinstance(loss, WeightedSumLoss)
    assert isinstance(loss.losses["ce"], CrossEntropyLoss)
    expected = F.cross_entropy(logits, target, label_smoothing=0.1) + 2.0 * FocalLoss()(
        logits, target
    )
    assert torch.allclose(loss(logits, target), expected)
    assert config_for("loss", "weighted_sum") is WeightedSumLossConf
