"""The parts of export and prediction that need no trained run: cheap and exact."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import pytest
import torch

import pbgml
from pbgml._export import (
    Source,
    eval_transform,
    predict_rows,
    read_inputs,
    sample_batch,
    tolerance,
    verify_batch,
)


def _checkpoint(path: Path, model_yaml: str, state: dict[str, torch.Tensor]) -> Path:
    torch.save({"model": state, "config": model_yaml, "meta": {"sample_shape": [2]}}, path)
    return path


def test_a_target_outside_the_allowlist_is_never_imported(tmp_path: Path) -> None:
    assert "this" not in sys.modules  # the stdlib's Easter egg: importing it prints
    path = _checkpoint(tmp_path / "evil.ckpt", "model:\n  _target_: this.Model\n", {})
    with pytest.raises(pbgml.ExportError) as info:
        pbgml.load_model(path)
    message = str(info.value)
    assert message.startswith(f"{path}: its model config cannot be built (model._target_: ")
    assert "so it was not even imported" in message
    assert "pass its module's prefix: allow=[...]" in message
    assert "\n" not in message
    assert "this" not in sys.modules
    yaml = "model:\n  _target_: subprocess.Popen\n  args: [ls]\n"
    with pytest.raises(pbgml.ExportError, match=r"'subprocess\.Popen' is not allowed"):
        pbgml.load_model(_checkpoint(tmp_path / "popen.ckpt", yaml, {}))


def test_allow_lets_your_own_model_be_rebuilt(tmp_path: Path) -> None:
    yaml = "model:\n  _target_: torch.nn.Linear\n  in_features: 2\n  out_features: 1\n"
    weights = torch.nn.Linear(2, 1).state_dict()
    path = _checkpoint(tmp_path / "mine.ckpt", yaml, {f"model.{k}": v for k, v in weights.items()})
    model = pbgml.load_model(path, allow=["torch.nn.Linear"])
    assert torch.equal(model.weight, weights["weight"])


def test_token_models_trace_with_token_ids_and_verification_uses_another_batch() -> None:
    tokens = Source(torch.nn.Sequential(torch.nn.Embedding(10, 4)), sample_shape=(5,))
    batch = sample_batch(tokens)
    assert batch.dtype == torch.long
    assert batch.shape == (2, 5)
    floats = sample_batch(Source(torch.nn.Linear(3, 1), sample_shape=(3,)))
    assert floats.dtype == torch.float32
    assert verify_batch(floats).shape == (3, 3)
    assert torch.equal(verify_batch(floats)[:2], floats)
    assert tolerance(torch.bfloat16) == 1e-2


def test_eval_transforms_drop_random_augmentations() -> None:
    data = {
        "_target_": "pbgml.data.image_folder",
        "train_transforms": [
            {"_target_": "pbgml.data.RandomHorizontalFlip", "p": 0.5},
            "to_tensor",
        ],
    }
    assert repr(eval_transform({"data": data})) == "Compose([ToTensor()])"
    assert repr(eval_transform({"data": {"_target_": "pbgml.data.mnist"}})) == (
        "Compose([ToTensor(), Normalize(preset='mnist')])"
    )
    assert eval_transform({}) is None


def test_csv_inputs_use_the_training_configs_feature_columns(tmp_path: Path) -> None:
    table = tmp_path / "rows.csv"
    table.write_text("b,label,a\n2,x,1\n4,y,3\n")
    rows = list(
        read_inputs(
            [table],
            transform=None,
            sample_shape=(2,),
            data_cfg={"features": ["a", "b"], "target": "label"},
        )
    )
    assert [name for name, _ in rows] == [f"{table}:2", f"{table}:3"]
    assert torch.equal(torch.stack([x for _, x in rows]), torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    with pytest.raises(pbgml.ExportError, match="the CSV has no column 'c'"):
        list(read_inputs([table], transform=None, sample_shape=None, data_cfg={"features": ["c"]}))
    # without features: every column but the target
    rows = list(
        read_inputs(
            [tmp_path / "n.csv"] if (tmp_path / "n.csv").write_text("a,t\n1,0\n") else [],
            transform=None,
            sample_shape=None,
            data_cfg={"target": "t"},
        )
    )
    assert [x.tolist() for _, x in rows] == [[1.0]]


def test_a_regression_predicts_values_not_classes() -> None:
    model = torch.nn.Linear(2, 1)
    source = Source(model, experiment={"task": {"_target_": "pbgml.train.RegressionTask"}})
    x = torch.tensor([1.0, 2.0])
    (row,) = predict_rows(source, [("x", x)], device="cpu")
    assert row == {"input": "x", "prediction": pytest.approx(float(model(x).detach()))}


def test_inputs_of_different_shapes_cannot_share_a_batch() -> None:
    source = Source(torch.nn.Flatten(0), classes=None)
    inputs = [("a", torch.zeros(2)), ("b", torch.zeros(3))]
    with pytest.raises(pbgml.ExportError, match="b: shape \\(3,\\) differs from a's \\(2,\\)"):
        list(predict_rows(source, inputs, device="cpu"))


def test_an_exported_program_needs_the_pt2_suffix(tmp_path: Path) -> None:
    """torch.export.load only reads ``*.pt2``: a file named otherwise is refused up front."""
    import pbgml

    model = torch.nn.Linear(4, 3)
    with pytest.raises(pbgml.ExportError, match=r"ends with \.pt2"):
        pbgml.export(model, "exported-program", tmp_path / "model.bin", sample=torch.randn(2, 4))
    assert not (tmp_path / "model.bin").exists()


def test_classes_sharing_a_label_keep_a_probability_column_each() -> None:
    from pbgml._export import Source, predict_rows
    from pbgml._export._predict import write_csv

    model = torch.nn.Linear(2, 3)
    source = Source(model, classes=["cat", "dog", "cat"])
    rows = list(predict_rows(source, [("x", torch.zeros(2)), ("y", torch.ones(2))], device="cpu"))
    out = io.StringIO()
    write_csv(rows, out)
    lines = list(csv.reader(io.StringIO(out.getvalue())))
    assert lines[0] == ["input", "class", "label", "prob_cat#0", "prob_dog", "prob_cat#2"]
    assert all(len(line) == 6 for line in lines)
    with torch.no_grad():
        want = torch.softmax(model(torch.zeros(2)), dim=-1)
    assert [float(v) for v in lines[1][3:]] == pytest.approx(want.tolist(), rel=1e-5)
    assert rows[0]["label"] in {"cat", "dog"}


def test_a_hostile_checkpoint_cannot_make_export_allocate_at_will(tmp_path: Path) -> None:
    """A config asking for a huge model, or metadata asking for a huge sample, is refused
    before any memory is allocated (the weights are tried on the meta device first)."""
    import resource

    small = torch.nn.Linear(2, 3).state_dict()
    huge_model = (
        "model:\n  _target_: torch.nn.Linear\n  in_features: 2\n  out_features: 4000000000\n"
    )
    path = _checkpoint(tmp_path / "huge.ckpt", huge_model, small)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (16 * 2**30, hard))  # the real build needs 32 GiB
    try:
        with pytest.raises(pbgml.ExportError, match="do not fit"):
            pbgml.load_model(path)
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    fine = "model:\n  _target_: torch.nn.Linear\n  in_features: 2\n  out_features: 3\n"
    wide = tmp_path / "wide.ckpt"
    torch.save({"model": small, "config": fine, "meta": {"sample_shape": [10**6, 10**6]}}, wide)
    with pytest.raises(pbgml.ExportError, match="too large"):
        pbgml.export(wide, "exported-program", tmp_path / "wide.pt2")
