"""pbgml predict and the TorchServe handler: images, CSV rows and tensor files, one row each."""

from __future__ import annotations

import csv
import importlib.util
import inspect
import io
import json
import re
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
import torch

import pbgml
from pbgml._export import eval_transform, read_source
from pbgml.cli import main as cli

from .conftest import CLASSES, train_digits, train_images, write_images

pytest.importorskip("sklearn")
pytest.importorskip("PIL")


@pytest.fixture(scope="module")
def image_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = train_images(tmp_path_factory.mktemp("images"))
    assert result.last_checkpoint is not None
    return Path(result.last_checkpoint)


@pytest.fixture(scope="module")
def digits_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = train_digits(tmp_path_factory.mktemp("digits"))
    assert result.last_checkpoint is not None
    return Path(result.last_checkpoint)


@pytest.fixture(scope="module")
def new_images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_images(tmp_path_factory.mktemp("new"), per_class=2)


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _expected_image_probs(ckpt: Path, image: Path) -> torch.Tensor:
    """The model on one PNG through the data config's eval transforms, by hand."""
    from PIL import Image

    from pbgml.data import Compose, Normalize, ToTensor

    model = pbgml.load_model(ckpt)
    with Image.open(image) as pic:
        x = Compose([ToTensor(), Normalize(preset="half")])(pic.convert("RGB"))
    with torch.no_grad():
        return torch.softmax(model(x[None]), dim=-1)[0]


def test_the_eval_transform_comes_from_the_data_config(image_ckpt: Path) -> None:
    source = read_source(image_ckpt)
    assert (
        repr(eval_transform(source.experiment)) == "Compose([ToTensor(), Normalize(preset='half')])"
    )
    assert source.classes == list(CLASSES)
    assert source.sample_shape == (3, 8, 8)


def test_predict_on_a_folder_and_files_of_images(
    image_ckpt: Path, new_images: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "preds.csv"
    folder = new_images[0].parent.parent
    args = ["predict", str(image_ckpt), str(folder), str(new_images[0]), "--output", str(out)]
    assert cli([*args, "--batch-size", "3"]) == 0
    rows = _read(out)
    assert list(rows[0]) == ["input", "class", "label", "prob_cat", "prob_dog"]
    assert [r["input"] for r in rows] == [str(p) for p in sorted(new_images)] + [str(new_images[0])]
    for row in rows:
        probs = torch.tensor([float(row["prob_cat"]), float(row["prob_dog"])])
        expected = _expected_image_probs(image_ckpt, Path(row["input"]))
        torch.testing.assert_close(probs, expected, atol=1e-5, rtol=1e-4)
        assert int(row["class"]) == int(expected.argmax())
        assert row["label"] == CLASSES[int(row["class"])]


def test_predict_on_a_csv_of_features_and_a_tensor_file(
    digits_ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sklearn.datasets import load_digits

    features = torch.tensor(load_digits().data[:5], dtype=torch.float32)
    table = tmp_path / "digits.csv"
    with table.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([f"pixel{i}" for i in range(64)])
        writer.writerows(features.tolist())
    tensors = tmp_path / "digits.pt"
    torch.save(features[:2], tensors)
    assert cli(["predict", str(digits_ckpt), str(table), str(tensors)]) == 0  # to stdout
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["input"] for r in rows] == [f"{table}:{i}" for i in range(2, 7)] + [
        f"{tensors}[0]",
        f"{tensors}[1]",
    ]
    with torch.no_grad():
        expected = torch.softmax(pbgml.load_model(digits_ckpt)(features), dim=-1)
    got = torch.tensor([[float(r[f"prob_{c}"]) for c in range(10)] for r in rows[:5]])
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
    assert [int(r["class"]) for r in rows[:5]] == expected.argmax(dim=1).tolist()
    assert [r["class"] for r in rows[5:]] == [r["class"] for r in rows[:2]]


def test_a_csv_without_a_header_keeps_its_first_row(
    digits_ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sklearn.datasets import load_digits

    features = torch.tensor(load_digits().data[:3], dtype=torch.float32)
    table = tmp_path / "plain.csv"
    with table.open("w", newline="") as f:
        csv.writer(f).writerows(features.tolist())
    assert cli(["predict", str(digits_ckpt), str(table)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["input"] for r in rows] == [f"{table}:{i}" for i in (1, 2, 3)]
    with torch.no_grad():
        expected = torch.softmax(pbgml.load_model(digits_ckpt)(features), dim=-1)
    got = torch.tensor([[float(r[f"prob_{c}"]) for c in range(10)] for r in rows])
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)


def test_empty_non_finite_and_0d_tensor_inputs_are_errors_naming_the_file(
    digits_ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def refused(path: Path, message: str) -> None:
        assert cli(["predict", str(digits_ckpt), str(path)]) == 2
        err = capsys.readouterr().err
        assert f"{path}: " in err
        assert message in err
        assert "Traceback" not in err

    cases = {
        "nan.pt": (torch.full((2, 64), float("nan")), "non-finite value(s) (NaN or inf)"),
        "inf.pt": (
            torch.zeros(2, 64).index_fill_(1, torch.tensor([3]), float("inf")),
            "non-finite",
        ),
        "empty.pt": (torch.zeros(0, 64), "the tensor is empty"),
        "scalar.pt": (torch.tensor(1.0), "a single number (0-d)"),
    }
    for name, (value, message) in cases.items():
        torch.save(value, tmp_path / name)
        refused(tmp_path / name, message)
    header_only = tmp_path / "header.csv"
    header_only.write_text(",".join(f"pixel{i}" for i in range(64)) + "\n")
    refused(header_only, "has a header but no rows")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    refused(empty, "the CSV file is empty")
    # integers for a model of floats: converted, the same predictions as the floats
    ints = torch.randint(0, 16, (3, 64))
    torch.save(ints, tmp_path / "ints.pt")
    torch.save(ints.float(), tmp_path / "floats.pt")
    assert cli(["predict", str(digits_ckpt), str(tmp_path / "ints.pt")]) == 0
    from_ints = [r["prob_0"] for r in csv.DictReader(io.StringIO(capsys.readouterr().out))]
    assert cli(["predict", str(digits_ckpt), str(tmp_path / "floats.pt")]) == 0
    from_floats = [r["prob_0"] for r in csv.DictReader(io.StringIO(capsys.readouterr().out))]
    assert from_ints == from_floats


def test_a_bad_device_or_output_is_a_one_line_error(
    digits_ckpt: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tensors = tmp_path / "x.pt"
    torch.save(torch.zeros(2, 64), tensors)
    base = ["predict", str(digits_ckpt), str(tensors)]

    def refused(extra: list[str], message: str) -> None:
        assert cli([*base, *extra]) == 2
        err = capsys.readouterr().err
        assert message in err
        assert "Traceback" not in err

    refused(["--device", "bogus"], "--device 'bogus' is not a device")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    refused(["--device", "cuda"], "--device cuda: CUDA is not available here")
    refused(["-o", str(tmp_path)], f"--output {tmp_path} is a folder")
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    refused(["-o", str(blocker / "preds.csv")], f"{blocker / 'preds.csv'}: cannot write the")


def test_wrong_inputs_are_errors_naming_the_file(
    digits_ckpt: Path,
    new_images: list[Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # an image for a model of 64 features: wrong shape
    assert cli(["predict", str(digits_ckpt), str(new_images[0])]) == 2
    err = capsys.readouterr().err
    assert (
        f"{new_images[0]}: an input of shape 3x8x8, but the model takes samples of shape 64" in err
    )
    # a file of another type
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    assert cli(["predict", str(digits_ckpt), str(notes)]) == 2
    assert f"{notes}: cannot predict on a .txt file; pass images" in capsys.readouterr().err
    # a CSV row that is not numeric
    table = tmp_path / "bad.csv"
    table.write_text("a,b\n1,x\n")
    with pytest.raises(
        pbgml.ExportError, match=rf"{re.escape(str(table))}, line 2: expected 2 numeric features"
    ):
        list(pbgml._export.read_inputs([table], transform=None, sample_shape=None, data_cfg={}))
    # a missing input
    assert cli(["predict", str(digits_ckpt), str(tmp_path / "nope.png")]) == 2
    assert "nope.png: no such file or folder" in capsys.readouterr().err


def _load_handler(folder: Path) -> ModuleType:
    """Import the archived handler by file, as TorchServe's loader does."""
    spec = importlib.util.spec_from_file_location("_handler", folder / "_handler.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _context(folder: Path) -> Any:
    manifest = json.loads((folder / "MAR-INF" / "MANIFEST.json").read_text())
    return SimpleNamespace(
        system_properties={"model_dir": str(folder), "gpu_id": None, "batch_size": 1},
        manifest=manifest,
    )


def test_the_torchserve_handler_runs_in_process_on_image_bytes(
    image_ckpt: Path, new_images: list[Path], tmp_path: Path
) -> None:
    archive = pbgml.export(image_ckpt, "torchserve", tmp_path / "pets.mar")
    folder = tmp_path / "unpacked"
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(folder)
    module = _load_handler(folder)
    classes = [
        c for _, c in inspect.getmembers(module, inspect.isclass) if c.__module__ == "_handler"
    ]
    assert len(classes) == 1  # TorchServe's loader takes the one class the module defines
    handler = classes[0]()
    requests = [{"data": path.read_bytes()} for path in new_images[:3]]
    answers = handler.handle(requests, _context(folder))
    batch = handler.preprocess(requests)
    assert batch.shape == (3, 3, 8, 8)
    assert handler.postprocess(handler.inference(batch)) == answers
    for path, answer in zip(new_images[:3], answers, strict=True):
        expected = _expected_image_probs(image_ckpt, path)
        assert set(answer) == {"class", "label", "probabilities"}
        assert answer["label"] == CLASSES[answer["class"]] == CLASSES[int(expected.argmax())]
        got = torch.tensor([answer["probabilities"][c] for c in CLASSES])
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="an input of shape"):
        handler.preprocess([{"body": json.dumps([1.0, 2.0]).encode()}])


def test_the_handler_takes_json_features(digits_ckpt: Path, tmp_path: Path) -> None:
    archive = pbgml.export(digits_ckpt, "torchserve", tmp_path / "digits.mar")
    folder = tmp_path / "unpacked"
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(folder)
    handler = _load_handler(folder).PbgmlHandler()
    handler.initialize(_context(folder))
    x = torch.randn(2, 64, generator=torch.Generator().manual_seed(0))
    answers = handler.handle(
        [{"body": x[0].tolist()}, {"data": json.dumps(x[1].tolist()).encode()}], None
    )
    with torch.no_grad():
        expected = torch.softmax(pbgml.load_model(digits_ckpt)(x), dim=-1)
    for answer, want in zip(answers, expected, strict=True):
        got = torch.tensor([answer["probabilities"][str(c)] for c in range(10)])
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)


def test_predict_in_a_real_process(
    image_ckpt: Path, new_images: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "preds.csv"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pbgml",
            "predict",
            str(image_ckpt),
            *map(str, new_images),
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len(_read(out)) == len(new_images)
    assert f"wrote {len(new_images)} predictions to {out}" in done.stderr


def test_torchserves_own_loader_accepts_the_archive(
    digits_ckpt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("ts")
    with warnings.catch_warnings():  # torchserve leaves its version file open on import
        warnings.filterwarnings(
            "ignore", message=r"unclosed file .*version\.txt", category=ResourceWarning
        )
        from ts.model_loader import TsModelLoader

    archive = pbgml.export(digits_ckpt, "torchserve", tmp_path / "digits.mar")
    folder = tmp_path / "model_dir"
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(folder)
    monkeypatch.syspath_prepend(str(folder))  # the server imports the handler by name
    monkeypatch.delitem(sys.modules, "_handler", raising=False)
    service = TsModelLoader().load("digits", str(folder), handler="_handler.py", batch_size=1)
    x = torch.randn(64, generator=torch.Generator().manual_seed(3))
    (answer,) = service._entry_point([{"body": x.tolist()}], service.context)
    with torch.no_grad():
        expected = torch.softmax(pbgml.load_model(digits_ckpt)(x[None]), dim=-1)[0]
    assert answer["label"] == str(int(expected.argmax()))
    got = torch.tensor([answer["probabilities"][str(c)] for c in range(10)])
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
    monkeypatch.delitem(sys.modules, "_handler", raising=False)
