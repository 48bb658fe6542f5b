"""Registry-driven: every loss, optimizer, scheduler, metric, transform and (file-free) data
component builds from its config through ``pbgml.instantiate`` and then runs a step.

A component added to a registry without an entry here fails ``test_every_entry_is_covered``,
so the catalogue cannot grow untested.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from omegaconf import OmegaConf

import pbgml
from pbgml import registry
from pbgml._names import snake_case
from pbgml.configs import config_for

torch.manual_seed(0)
N, C = 6, 4


def _classes() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(N, C, requires_grad=True), torch.randint(0, C, (N,))


def _same(positive: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(N, C, requires_grad=True)
    y = torch.rand(N, C) if positive else torch.randn(N, C)
    return x, y


def _signs() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(N, requires_grad=True), torch.randint(0, 2, (N,)).float() * 2 - 1


# loss name -> (extra config values, a function giving the forward's positional inputs)
LOSSES: dict[str, tuple[dict[str, Any], Callable[[], tuple[Any, ...]]]] = {
    "cross_entropy": ({"weight": [1.0, 2.0, 1.0, 1.0], "label_smoothing": 0.1}, _classes),
    "CrossEntropyLoss": ({}, _classes),
    "focal": ({}, _classes),
    "multi_margin": ({}, _classes),
    "nll": ({}, lambda: (torch.log_softmax(_classes()[0], 1), torch.randint(0, C, (N,)))),
    "NLLLoss": ({}, lambda: (torch.log_softmax(_classes()[0], 1), torch.randint(0, C, (N,)))),
    "mse": ({}, _same),
    "l1": ({}, _same),
    "huber": ({}, _same),
    "smooth_l1": ({}, _same),
    "bce": ({}, lambda: (torch.rand(N, C, requires_grad=True), torch.rand(N, C))),
    "bce_with_logits": ({}, lambda: _same(positive=True)),
    "BCEWithLogitsLoss": ({}, lambda: _same(positive=True)),
    "multi_label_soft_margin": (
        {},
        lambda: (torch.randn(N, C, requires_grad=True), torch.randint(0, 2, (N, C)).float()),
    ),
    "multi_label_margin": (
        {},
        lambda: (torch.randn(N, C, requires_grad=True), torch.tensor([[1, 2, -1, 0]] * N)),
    ),
    "kl_div": (
        {"reduction": "batchmean"},
        lambda: (
            torch.log_softmax(torch.randn(N, C, requires_grad=True), 1),
            torch.softmax(torch.randn(N, C), 1),
        ),
    ),
    "poisson_nll": ({}, lambda: _same(positive=True)),
    "gaussian_nll": ({}, lambda: (*_same(), torch.rand(N, C) + 0.1)),
    "soft_margin": ({}, _signs),
    "hinge_embedding": ({}, _signs),
    "margin_ranking": (
        {},
        lambda: (torch.randn(N, requires_grad=True), torch.randn(N), _signs()[1]),
    ),
    "cosine_embedding": (
        {},
        lambda: (torch.randn(N, C, requires_grad=True), torch.randn(N, C), _signs()[1]),
    ),
    "triplet_margin": (
        {},
        lambda: (torch.randn(N, C, requires_grad=True), torch.randn(N, C), torch.randn(N, C)),
    ),
    "triplet_margin_with_distance": (
        {},
        lambda: (torch.randn(N, C, requires_grad=True), torch.randn(N, C), torch.randn(N, C)),
    ),
    "ctc": (
        {},
        lambda: (
            torch.randn(8, 2, 5).log_softmax(2).requires_grad_(),
            torch.randint(1, 5, (2, 3)),
            torch.tensor([8, 8]),
            torch.tensor([3, 2]),
        ),
    ),
    "linear_cross_entropy": (
        {"in_features": C, "num_classes": 3},
        lambda: (torch.randn(N, C, requires_grad=True), torch.randint(0, 3, (N,))),
    ),
    "weighted_sum": (
        {
            "losses": {"ce": {"_target_": "cross_entropy"}, "focal": {"_target_": "focal"}},
            "weights": {"ce": 1.0, "focal": 0.5},
        },
        _classes,
    ),
}


def _cfg(group: str, name: str, **values: Any) -> Any:
    node = OmegaConf.structured(config_for(group, name))
    for key, value in values.items():
        node[key] = value
    text = pbgml.to_yaml(node)  # the filled config round-trips, and is built from YAML
    again = pbgml.load_yaml(text)
    assert again == node
    return again


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_builds_from_config_and_backpropagates(name: str) -> None:
    values, inputs = LOSSES[name]
    loss_fn = pbgml.instantiate(_cfg("loss", name, **values), key="loss")
    assert isinstance(loss_fn, torch.nn.Module)
    args = inputs()
    out = loss_fn(*args)
    out = out.mean() if out.dim() else out
    assert torch.isfinite(out)
    assert out.requires_grad
    out.backward()


def _tiny_model() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4), torch.nn.Linear(4, 1))


OPTIMIZER_VALUES: dict[str, dict[str, Any]] = {}


@pytest.mark.parametrize("name", registry.optimizer.names())
def test_optimizer_builds_from_config_and_steps(name: str) -> None:
    short = snake_case(name)  # pbgml's class ('adamw') and torch's ('AdamW') alike
    factory = pbgml.instantiate(
        _cfg("optimizer", name, **OPTIMIZER_VALUES.get(short, {})), key="optimizer"
    )
    if short == "sparse_adam":
        model: torch.nn.Module = torch.nn.Embedding(5, 3, sparse=True)
        batch = torch.tensor([1, 2])
    elif short == "muon":  # Muon optimizes 2-D weights only
        model = torch.nn.Linear(3, 2, bias=False)
        batch = torch.randn(2, 3)
    else:
        model = _tiny_model()
        batch = torch.randn(2, 3)
    opt = factory(model.parameters() if short in ("sparse_adam", "muon") else model)
    assert isinstance(opt, registry.optimizer.get(name))
    before = [p.detach().clone() for p in model.parameters()]

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = model(batch).pow(2).sum()
        loss.backward()
        return loss

    if short == "lbfgs":
        opt.step(closure)
    else:
        closure()
        opt.step()
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True))


def halve(epoch: int) -> float:
    """A learning-rate lambda referenced from a config (allowed in code by this test)."""
    return 0.5**epoch


_LAMBDA = {"_target_": "hydra_zen.funcs.get_obj", "path": f"{__name__}.halve"}
SCHEDULER_VALUES: dict[str, dict[str, Any]] = {
    "cosine_annealing_lr": {"T_max": 4},
    "cosine_annealing_warm_restarts": {"T_0": 2},
    "cyclic_lr": {"base_lr": 0.01, "max_lr": 0.1},
    "exponential_lr": {"gamma": 0.9},
    "lambda_lr": {"lr_lambda": _LAMBDA},
    "multiplicative_lr": {"lr_lambda": _LAMBDA},
    "multi_step_lr": {"milestones": [1, 2]},
    "one_cycle_lr": {"max_lr": 0.1, "total_steps": 10},
    "step_lr": {"step_size": 1},
    "warmup_cosine": {"warmup_steps": 2, "total_steps": 10},
    "reduce_lr_on_plateau": {"monitor": "val/loss"},
}
# schedulers of schedulers take already-built schedulers, which a config cannot build
# (they need the optimizer): they are built in code, through the registry
CODE_ONLY_SCHEDULERS = {"sequential_lr", "chained_scheduler"}


@pytest.mark.parametrize("name", registry.scheduler.names())
def test_scheduler_builds_from_config_and_steps(name: str) -> None:
    name_ = name
    name = snake_case(name)  # pbgml's class ('step_lr') and torch's ('StepLR') alike
    model = _tiny_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    if name in CODE_ONLY_SCHEDULERS:
        inner = [
            torch.optim.lr_scheduler.ConstantLR(opt),
            torch.optim.lr_scheduler.ExponentialLR(opt, 0.5),
        ]
        extra: dict[str, Any] = {"milestones": [1]} if name == "sequential_lr" else {}
        sched: Any = registry.scheduler.build(name_, optimizer=opt, schedulers=inner, **extra)
        step = sched.step
    else:
        factory = pbgml.instantiate(
            _cfg("scheduler", name_, **SCHEDULER_VALUES.get(name, {})),
            key="scheduler",
            allow=[__name__],
        )
        scheduled = factory(opt)
        sched = scheduled.scheduler
        assert isinstance(sched, registry.scheduler.get(name_))

        def step() -> None:
            scheduled.step({"val/loss": 1.0}) if scheduled.monitor else scheduled.step()

    for _ in range(3):
        opt.step()
        step()
    assert all(isinstance(g["lr"], float) for g in opt.param_groups)
    assert isinstance(sched.state_dict(), dict)


METRIC_VALUES: dict[str, dict[str, Any]] = {
    name: {"num_classes": C}
    for name in ("confusion_matrix", "f1_score", "per_class_accuracy", "precision", "recall")
}
# torchmetrics' metrics (registered when it is installed, as in CI)
_TM_CLASSIFICATION = {
    "torchmetrics_accuracy", "torchmetrics_auroc", "torchmetrics_average_precision",
    "torchmetrics_cohen_kappa", "torchmetrics_confusion_matrix", "torchmetrics_f1_score",
    "torchmetrics_fbeta_score", "torchmetrics_jaccard_index",
    "torchmetrics_matthews_corr_coef", "torchmetrics_precision", "torchmetrics_recall",
    "torchmetrics_specificity",
}  # fmt: skip
METRIC_VALUES.update(
    {name: {"task": "multiclass", "num_classes": C} for name in _TM_CLASSIFICATION}
)
METRIC_VALUES["torchmetrics_fbeta_score"]["beta"] = 0.5
REGRESSION_METRICS = {"mse", "mae"} | {
    name for name in registry.metric.names("torchmetrics_*") if name not in _TM_CLASSIFICATION
}


# torchmetrics warns (on purpose) that these keep every prediction in memory
@pytest.mark.filterwarnings("ignore:Metric `SpearmanCorrcoef` will save all targets")
@pytest.mark.parametrize("name", registry.metric.names())
def test_metric_builds_from_config_and_computes(name: str) -> None:
    metric = pbgml.instantiate(_cfg("metric", name, **METRIC_VALUES.get(name, {})), key="metrics.m")
    if name == "torchmetrics_cosine_similarity":  # rows of vectors
        preds, target = torch.randn(N, 3), torch.randn(N, 3)
    elif name in REGRESSION_METRICS:  # positive values: a log-error is defined on them
        preds, target = torch.rand(N) + 0.1, torch.rand(N) + 0.1
    else:
        preds, target = torch.randn(N, C), torch.arange(N) % C  # every class present
    metric.update(preds, target)
    value = metric.compute()
    assert isinstance(value, torch.Tensor)
    assert torch.isfinite(value.float()).all()
    metric.reset()


TRANSFORM_VALUES: dict[str, dict[str, Any]] = {
    "random_crop": {"size": 6, "padding": 1},
    "compose": {
        "transforms": [{"_target_": "to_tensor"}, {"_target_": "normalize", "preset": "half"}]
    },
    "normalize": {"preset": "half"},
}


@pytest.mark.parametrize("name", registry.transform.names())
def test_transform_builds_from_config_and_applies(name: str) -> None:
    transform = pbgml.instantiate(
        _cfg("transform", name, **TRANSFORM_VALUES.get(name, {})), key="transform"
    )
    if name in ("to_tensor", "compose"):
        sample: Any = torch.randint(0, 256, (6, 6, 3), dtype=torch.uint8).numpy()
    else:
        sample = torch.rand(3, 6, 6)
    out = transform(sample)
    assert isinstance(out, torch.Tensor)
    assert out.shape == (3, 6, 6)
    assert out.dtype == torch.float32


_SYNTH = {"num_samples": 40, "num_features": 5}
DATA_VALUES: dict[str, dict[str, Any]] = {
    "synthetic_classification": {**_SYNTH, "num_classes": 3, "batch_size": 8},
    "synthetic_regression": {**_SYNTH, "batch_size": 8},
    "digits": {"batch_size": 32},
    "synthetic_classification_dataset": {**_SYNTH, "num_classes": 3},
    "synthetic_regression_dataset": _SYNTH,
    "digits_dataset": {},
    "datamodule": {
        "train": {"_target_": "synthetic_classification_dataset", **_SYNTH, "num_classes": 3},
        "val_split": 0.25,
        "batch_size": 8,
    },
}
# read real files: built from config in tests/data/ on files those tests write
FILE_DATA = {
    "cifar10", "cifar10_dataset", "cifar100", "cifar100_dataset", "mnist", "mnist_dataset",
    "fashion_mnist", "fashion_mnist_dataset", "csv", "csv_dataset", "tensor_file",
    "tensor_file_dataset", "image_folder", "image_folder_dataset",
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(DATA_VALUES))
def test_data_builds_from_config_and_loads(name: str) -> None:
    built = pbgml.instantiate(_cfg("data", name, **DATA_VALUES[name]), key="data")
    if isinstance(built, torch.utils.data.Dataset):
        x, y = built[0]
        assert isinstance(x, torch.Tensor)
        return
    built.setup()
    x, y = next(iter(built.train_dataloader()))
    assert x.shape[0] == y.shape[0] > 0


def _parametrized(test: Any) -> set[str]:
    (mark,) = [m for m in test.pytestmark if m.name == "parametrize"]
    return set(mark.args[1])


def test_every_entry_is_covered() -> None:
    """Each build test above runs over every entry its registry holds now (the
    registries are complete: every loader, torchmetrics' included, has run)."""
    assert set(registry.loss.names()) == set(LOSSES)
    assert set(registry.data.names()) == set(DATA_VALUES) | FILE_DATA
    covered = {
        "optimizer": test_optimizer_builds_from_config_and_steps,
        "scheduler": test_scheduler_builds_from_config_and_steps,
        "metric": test_metric_builds_from_config_and_computes,
        "transform": test_transform_builds_from_config_and_applies,
    }
    for group, test in covered.items():
        names = set(registry.groups()[group].names())
        assert len(names) > 3, group  # torch's catalogue and pbgml's own are there
        assert _parametrized(test) == names, group
