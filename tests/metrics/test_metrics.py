from __future__ import annotations

import importlib.machinery
import importlib.util
import socket
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import hydra.utils
import numpy as np
import pytest
import torch
import torch.distributed as dist
from omegaconf import OmegaConf
from sklearn import metrics as skm

from pbgml import PbgmlError, Registry, registry
from pbgml.configs import (
    AccuracyConf,
    ConfusionMatrixConf,
    F1ScoreConf,
    MeanAbsoluteErrorConf,
    MeanSquaredErrorConf,
    PerClassAccuracyConf,
    PrecisionConf,
    RecallConf,
    config_for,
)
from pbgml.metrics import (
    Accuracy,
    ConfusionMatrix,
    F1Score,
    MeanAbsoluteError,
    MeanSquaredError,
    Metric,
    MetricError,
    MissingExtraError,
    PerClassAccuracy,
    Precision,
    Recall,
    register_torchmetrics,
)
from pbgml.metrics._torchmetrics import _load_torchmetrics as _register_if_installed

C = 5


def _data(seed: int = 0, n: int = 300) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    target = torch.randint(0, C, (n,), generator=gen)
    scores = torch.randn(n, C, generator=gen)
    scores[torch.arange(n), target] += 1.0  # better than chance, not perfect
    return scores, target


def _feed(metric: Metric, scores: torch.Tensor, target: torch.Tensor, batch: int = 64) -> Any:
    for start in range(0, len(target), batch):
        metric.update(scores[start : start + batch], target[start : start + batch])
    return metric.compute()


# -- against scikit-learn ------------------------------------------------------------


def test_accuracy_matches_sklearn() -> None:
    scores, target = _data()
    got = _feed(Accuracy(), scores, target)
    assert got.item() == pytest.approx(skm.accuracy_score(target, scores.argmax(1)))


@pytest.mark.parametrize("k", [2, 3])
def test_top_k_accuracy_matches_sklearn(k: int) -> None:
    scores, target = _data()
    got = _feed(Accuracy(top_k=k), scores, target)
    expected = skm.top_k_accuracy_score(target, scores, k=k, labels=list(range(C)))
    assert got.item() == pytest.approx(expected)


def test_per_class_accuracy_matches_sklearn_recall() -> None:
    scores, target = _data()
    got = _feed(PerClassAccuracy(C), scores, target)
    expected = skm.recall_score(target, scores.argmax(1), average=None, labels=list(range(C)))
    assert got.shape == (C,)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("average", ["macro", "micro", "weighted", "none"])
@pytest.mark.parametrize(
    ("cls", "fn"),
    [(Precision, skm.precision_score), (Recall, skm.recall_score), (F1Score, skm.f1_score)],
    ids=["precision", "recall", "f1"],
)
def test_averaged_scores_match_sklearn(cls: type[Metric], fn: Any, average: str) -> None:
    scores, target = _data(n=200)
    scores[:, 4] -= 10.0  # class 4 is never predicted: zero division -> 0
    got = _feed(cls(C, average=average), scores, target)  # type: ignore[call-arg]
    expected = fn(
        target,
        scores.argmax(1),
        average=None if average == "none" else average,
        labels=list(range(C)),
        zero_division=0,
    )
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5)


@pytest.mark.parametrize("average", ["macro", "micro", "weighted"])
@pytest.mark.parametrize(
    ("cls", "fn"),
    [(Precision, skm.precision_score), (Recall, skm.recall_score), (F1Score, skm.f1_score)],
    ids=["precision", "recall", "f1"],
)
def test_classes_never_seen_are_left_out_like_sklearn(
    cls: type[Metric], fn: Any, average: str
) -> None:
    # 6 classes; 2 and 5 neither predicted nor in the target; 4 only predicted; 3 only true
    preds = torch.tensor([0, 0, 1, 1, 4, 1, 0, 4])
    target = torch.tensor([0, 1, 1, 1, 0, 3, 0, 1])
    metric = cls(6, average=average)  # type: ignore[call-arg]
    metric.update(preds[:5], target[:5])
    metric.update(preds[5:], target[5:])
    expected = fn(target, preds, average=average, zero_division=0)  # no labels: sklearn default
    assert metric.compute().item() == pytest.approx(expected, rel=1e-6)
    if average == "macro":  # the old, wrong answer: averaged over all 6 classes
        per_class = fn(target, preds, average=None, labels=list(range(6)), zero_division=0)
        assert metric.compute().item() != pytest.approx(per_class.mean(), rel=1e-3)


def test_macro_with_no_samples_is_zero() -> None:
    assert F1Score(3).compute().item() == 0.0


def test_confusion_matrix_matches_sklearn() -> None:
    scores, target = _data()
    got = _feed(ConfusionMatrix(C), scores, target)
    expected = skm.confusion_matrix(target, scores.argmax(1), labels=list(range(C)))
    np.testing.assert_array_equal(got.numpy(), expected)
    assert got.dtype == torch.long


def test_regression_metrics_match_sklearn() -> None:
    gen = torch.Generator().manual_seed(1)
    preds, target = torch.randn(150, 1, generator=gen), torch.randn(150, generator=gen)
    mse = _feed(MeanSquaredError(), preds, target, batch=40)
    mae = _feed(MeanAbsoluteError(), preds, target, batch=40)
    assert mse.item() == pytest.approx(skm.mean_squared_error(target, preds[:, 0]), rel=1e-5)
    assert mae.item() == pytest.approx(skm.mean_absolute_error(target, preds[:, 0]), rel=1e-5)
    multi = MeanSquaredError()
    multi.update(preds.expand(150, 3), target.unsqueeze(1).expand(150, 3))
    assert multi.compute().item() == pytest.approx(mse.item(), rel=1e-5)


# -- inputs ------------------------------------------------------------------------


def test_labels_and_dense_scores_are_accepted() -> None:
    scores, target = _data(n=32)
    by_labels = PerClassAccuracy(C)
    by_labels.update(scores.argmax(1), target)
    by_scores = PerClassAccuracy(C)
    by_scores.update(scores, target)
    assert torch.equal(by_labels.compute(), by_scores.compute())
    dense = ConfusionMatrix(C)  # segmentation-like: (N, C, H, W) scores, (N, H, W) target
    dense.update(scores.reshape(2, 4, 4, C).permute(0, 3, 1, 2), target.reshape(2, 4, 4))
    assert torch.equal(dense.compute(), _feed(ConfusionMatrix(C), scores, target))


@pytest.mark.parametrize(
    ("metric", "preds", "target", "message"),
    [
        (
            Accuracy(),
            torch.zeros(4, 3),
            torch.zeros(5, dtype=torch.long),
            r"preds of shape \(4, 3\) do not fit target of shape \(5,\)",
        ),
        (Accuracy(), torch.zeros(4), torch.zeros(4, dtype=torch.long), r"do not fit"),
        (Accuracy(), torch.zeros(4, 3), torch.zeros(4), r"target must hold class indices"),
        (
            Accuracy(top_k=2),
            torch.zeros(4, dtype=torch.long),
            torch.zeros(4, dtype=torch.long),
            r"top_k=2 needs scores",
        ),
        (
            Accuracy(top_k=4),
            torch.zeros(4, 3),
            torch.zeros(4, dtype=torch.long),
            r"top_k=4 is more than the 3 classes",
        ),
        (
            PerClassAccuracy(3),
            torch.zeros(2, 3),
            torch.tensor([0, 3]),
            r"target holds the class 3, outside \[0, 2\]",
        ),
        (
            ConfusionMatrix(3),
            torch.tensor([0, -1]),
            torch.tensor([0, 1]),
            r"preds holds the class -1",
        ),
        (
            Precision(3),
            torch.zeros(2, 4),
            torch.tensor([0, 1]),
            r"scores for 4 classes, but num_classes=3",
        ),
        (
            MeanSquaredError(),
            torch.zeros(3, 2),
            torch.zeros(3),
            r"preds of shape \(3, 2\) do not match target of shape \(3,\)",
        ),
    ],
)
def test_bad_inputs_are_errors(
    metric: Metric, preds: torch.Tensor, target: torch.Tensor, message: str
) -> None:
    with pytest.raises(MetricError, match=message) as info:
        metric.update(preds, target)
    assert isinstance(info.value, PbgmlError)
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith(type(metric).__name__ + ":")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Accuracy(top_k=0), r"Accuracy: top_k must be an integer >= 1, got 0"),
        (lambda: PerClassAccuracy(0), r"num_classes must be an integer >= 1, got 0"),
        (
            lambda: F1Score(3, average="macr"),
            r"average='macr' is not one of .* Did you mean 'macro'\?",
        ),
        (lambda: Recall(2.5), r"Recall: num_classes must be an integer >= 1, got 2\.5"),  # type: ignore[arg-type]
    ],
)
def test_bad_arguments_are_errors(build: Any, message: str) -> None:
    with pytest.raises(MetricError, match=message):
        build()


# -- state ---------------------------------------------------------------------------


def test_state_is_in_buffers_reset_and_not_in_state_dict() -> None:
    metric = F1Score(C)
    scores, target = _data(n=20)
    metric(scores, target)  # calling is update
    assert metric.states()["confmat"].sum() == 20
    assert dict(metric.named_buffers()).keys() == {"confmat"}
    assert metric.state_dict() == {}  # non-persistent: checkpoints stay clean
    metric.reset()
    assert metric.states()["confmat"].sum() == 0
    empty = Accuracy().compute()
    assert torch.isnan(empty)


def test_metric_moves_with_to() -> None:
    metric = MeanSquaredError().to(torch.float64)
    assert metric.states()["total"].dtype == torch.float64
    metric.update(torch.ones(3), torch.zeros(3))
    metric.reset()
    assert metric.states()["total"].dtype == torch.float64
    assert metric.states()["total"] == 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_metric_runs_on_the_gpu() -> None:  # pragma: no cover - no GPU here
    scores, target = _data()
    metric = Accuracy().to("cuda")
    metric.update(scores.cuda(), target.cuda())
    assert metric.compute().device.type == "cuda"
    metric.reset()
    assert metric.states()["total"].device.type == "cuda"


# -- distributed sync ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# Each rank runs in a fresh interpreter that imports only torch and pbgml.metrics (fast),
# updates the metrics on its shard of the data, syncs, and saves what it sees.
_WORKER = """
import datetime, sys
import torch
import torch.distributed as dist
from pbgml.metrics import Accuracy, F1Score, MeanSquaredError, MetricError, PerClassAccuracy

rank, world, port, out, n_classes = int(sys.argv[1]), 2, sys.argv[2], sys.argv[3], int(sys.argv[4])
dist.init_process_group(
    "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
    timeout=datetime.timedelta(seconds=20),
)
try:
    scores, target = torch.load(f"{out}/data.pt")
    shard = slice(rank, None, world)
    metrics = {
        "accuracy": Accuracy(), "per_class": PerClassAccuracy(n_classes),
        "f1": F1Score(n_classes), "mse": MeanSquaredError(),
    }
    for name, metric in metrics.items():
        preds, truth = (scores[:, :1], target.float()) if name == "mse" else (scores, target)
        metric.update(preds[shard], truth[shard])
        metric.sync()
    errors = []
    for action in (lambda: metrics["accuracy"].sync(), lambda: metrics["accuracy"].update(scores, target)):
        try:
            action()
        except MetricError as err:
            errors.append(str(err))
    states = {n: {k: v.clone() for k, v in m.states().items()} for n, m in metrics.items()}
    computed = {n: m.compute() for n, m in metrics.items()}
    torch.save({"states": states, "computed": computed, "errors": errors}, f"{out}/{rank}.pt")
finally:
    dist.destroy_process_group()
"""


def test_sync_sums_the_state_across_two_processes(tmp_path: Path) -> None:
    scores, target = _data()
    torch.save((scores, target), tmp_path / "data.pt")
    port = str(_free_port())
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(rank), port, str(tmp_path), str(C)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for rank in range(2)
    ]
    try:
        outputs = [proc.communicate(timeout=60)[0].decode() for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
    for proc, output in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, output
    full = {
        "accuracy": Accuracy(),
        "per_class": PerClassAccuracy(C),
        "f1": F1Score(C),
        "mse": MeanSquaredError(),
    }
    for name, metric in full.items():
        if name == "mse":
            metric.update(scores[:, :1], target.float())
        else:
            metric.update(scores, target)
    for rank in range(2):
        result = torch.load(tmp_path / f"{rank}.pt")
        for name, metric in full.items():
            for key, value in metric.states().items():
                assert torch.allclose(result["states"][name][key], value), (rank, name, key)
            assert torch.allclose(result["computed"][name], metric.compute())
        assert len(result["errors"]) == 2
        assert (
            "already summed across ranks by sync(); call reset() before sync() again"
            in (result["errors"][0])
        )
        assert "call reset() before update()" in result["errors"][1]


def test_sync_is_a_no_op_without_distributed() -> None:
    assert not dist.is_initialized()
    metric = Accuracy()
    metric.update(torch.tensor([1, 1]), torch.tensor([1, 0]))
    metric.sync()
    metric.sync()
    metric.update(torch.tensor([1]), torch.tensor([1]))
    assert metric.states()["total"] == 3


# -- registry, configs and torchmetrics ------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cls", "conf", "kwargs"),
    [
        ("accuracy", Accuracy, AccuracyConf, {"top_k": 2}),
        ("per_class_accuracy", PerClassAccuracy, PerClassAccuracyConf, {"num_classes": C}),
        ("precision", Precision, PrecisionConf, {"num_classes": C}),
        ("recall", Recall, RecallConf, {"num_classes": C, "average": "micro"}),
        ("f1_score", F1Score, F1ScoreConf, {"num_classes": C}),
        ("confusion_matrix", ConfusionMatrix, ConfusionMatrixConf, {"num_classes": C}),
        ("mse", MeanSquaredError, MeanSquaredErrorConf, {}),
        ("mae", MeanAbsoluteError, MeanAbsoluteErrorConf, {}),
    ],
)
def test_registered_with_typed_configs(
    name: str, cls: type[Metric], conf: type[Any], kwargs: dict[str, Any]
) -> None:
    assert registry.metric.get(name) is cls
    assert registry.metric.get(cls.__name__) is cls
    assert config_for("metric", name) is conf
    node = OmegaConf.create(OmegaConf.to_yaml(OmegaConf.structured(conf(**kwargs))))
    built = hydra.utils.instantiate(node)
    assert isinstance(built, cls)
    for key, value in kwargs.items():
        assert getattr(built, key) == value


def test_torchmetrics_absent_registers_nothing_and_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "torchmetrics" else real(name, *a),
    )
    reg: Registry[Any] = Registry("metric_test")
    with pytest.raises(MissingExtraError, match=r"pip install pbgml\[torchmetrics\]"):
        register_torchmetrics(reg)
    assert reg.names() == []
    assert _register_if_installed(reg) == []  # what importing pbgml.metrics runs
    assert reg.names() == []


def test_torchmetrics_present_registers_its_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("torchmetrics")
    fake.__spec__ = importlib.machinery.ModuleSpec("torchmetrics", None)

    class Accuracy:  # stand-ins: torchmetrics is not installed here
        def __init__(self, task: str = "multiclass", num_classes: int | None = None) -> None:
            self.task = task

    class R2Score:
        def __init__(self) -> None:
            pass

    fake.Accuracy = Accuracy  # type: ignore[attr-defined]
    fake.R2Score = R2Score  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torchmetrics", fake)
    reg: Registry[Any] = Registry("metric_test")
    assert register_torchmetrics(reg) == ["torchmetrics_accuracy", "torchmetrics_r2_score"]
    assert reg.get("torchmetrics_accuracy") is Accuracy
    assert register_torchmetrics(reg) == []  # names already taken are skipped
    other: Registry[Any] = Registry("metric_test")
    assert _register_if_installed(other) == ["torchmetrics_accuracy", "torchmetrics_r2_score"]
