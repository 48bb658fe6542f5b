from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from pbgml.data import (
    CSVDataset,
    DataError,
    DataNotFoundError,
    Digits,
    MissingExtraError,
    SyntheticClassification,
    SyntheticRegression,
    TensorFileDataset,
)

# -- digits --------------------------------------------------------------------------


def test_digits_is_sklearns_real_data() -> None:
    from sklearn.datasets import load_digits

    ds = Digits()
    raw = load_digits()
    assert len(ds) == 1797
    assert ds.data.shape == (1797, 64)
    assert ds.data.dtype == torch.float32
    assert ds.data.min().item() == 0.0
    assert ds.data.max().item() == 1.0
    assert torch.allclose(ds.data[5], torch.as_tensor(raw.data[5], dtype=torch.float32) / 16)
    assert ds.targets.tolist() == raw.target.tolist()
    images = Digits(flatten=False)
    assert images[0][0].shape == (1, 8, 8)
    assert torch.equal(images.data[5].flatten(), ds.data[5])


def test_digits_without_sklearn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(MissingExtraError, match=r"pip install pbgml\[sklearn\]") as info:
        Digits()
    assert isinstance(info.value, ImportError)
    assert "scikit-learn" in str(info.value)


# -- synthetic -----------------------------------------------------------------------


def test_synthetic_classification_is_seeded_and_balanced() -> None:
    a = SyntheticClassification(num_samples=90, num_features=5, num_classes=3, seed=4)
    b = SyntheticClassification(num_samples=90, num_features=5, num_classes=3, seed=4)
    c = SyntheticClassification(num_samples=90, num_features=5, num_classes=3, seed=5)
    assert torch.equal(a.data, b.data)
    assert torch.equal(a.targets, b.targets)
    assert not torch.equal(a.data, c.data)
    assert a.targets.bincount().tolist() == [30, 30, 30]
    assert a.sample_shape == (5,)
    quiet = SyntheticClassification(num_samples=60, num_features=5, num_classes=3, noise=0.0)
    # without noise every sample sits on its class centre
    for label in range(3):
        assert quiet.data[quiet.targets == label].unique(dim=0).shape[0] == 1


def test_synthetic_regression_is_linear_plus_noise() -> None:
    ds = SyntheticRegression(num_samples=200, num_features=4, num_targets=2, noise=0.0)
    assert ds.targets.shape == (200, 2)
    x = torch.cat([ds.data, torch.ones(200, 1)], dim=1)
    solution = torch.linalg.lstsq(x, ds.targets).solution
    assert torch.allclose(x @ solution, ds.targets, atol=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"num_samples": 0}, "num_samples"),
        ({"num_classes": 1}, "num_classes"),
        ({"noise": -1.0}, "noise"),
        ({"num_features": 2.0}, "num_features"),
    ],
)
def test_synthetic_argument_errors(kwargs: dict[str, object], param: str) -> None:
    with pytest.raises(DataError, match=f"synthetic_classification: {param}=") as info:
        SyntheticClassification(**kwargs)  # type: ignore[arg-type]
    assert info.value.param == param


# -- CSV -----------------------------------------------------------------------------


def _csv(tmp_path: Path, text: str) -> str:
    path = tmp_path / "table.csv"
    path.write_text(text)
    return str(path)


def test_csv_classes_from_strings(tmp_path: Path) -> None:
    path = _csv(tmp_path, "a,b,kind\n1,2,dog\n3,4,cat\n5,6,dog\n\n")
    ds = CSVDataset(path, target="kind")
    assert ds.classes == ["cat", "dog"]
    assert ds.targets.tolist() == [1, 0, 1]
    assert ds.data.tolist() == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    assert ds.columns == ["a", "b"]


def test_csv_integer_labels_features_and_delimiter(tmp_path: Path) -> None:
    path = _csv(tmp_path, "id;x;label\nA;0.5;2\nB;1.5;0\n")
    ds = CSVDataset(path, target="label", features=["x"], delimiter=";")
    assert ds.targets.tolist() == [2, 0]
    assert ds.num_classes == 3
    assert ds.data.tolist() == [[0.5], [1.5]]


def test_csv_regression(tmp_path: Path) -> None:
    path = _csv(tmp_path, "x,y\n1,0.5\n2,1.5\n")
    ds = CSVDataset(path, target="y", regression=True)
    assert ds.targets.tolist() == [[0.5], [1.5]]
    assert ds.targets.dtype == torch.float32
    assert ds.classes is None
    with pytest.raises(DataError, match="'yes', not a number"):
        CSVDataset(_csv(tmp_path, "x,y\n1,yes\n"), target="y", regression=True)


def test_csv_missing_target_column_did_you_mean(tmp_path: Path) -> None:
    path = _csv(tmp_path, "sepal_length,species\n1,a\n")
    with pytest.raises(DataError, match="Did you mean 'species'") as info:
        CSVDataset(path, target="specie")
    assert info.value.param == "target"
    assert "Columns: 'sepal_length', 'species'." in str(info.value)
    with pytest.raises(DataError, match="Did you mean 'sepal_length'") as feat:
        CSVDataset(path, target="species", features=["sepal_lenght"])
    assert feat.value.param == "features"


def test_csv_malformed(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="line 3, column 'a': 'x' is not a number"):
        CSVDataset(_csv(tmp_path, "a,t\n1,0\nx,1\n"), target="t")
    with pytest.raises(DataError, match="line 2 has 3 fields, the header 2"):
        CSVDataset(_csv(tmp_path, "a,t\n1,0,9\n"), target="t")
    with pytest.raises(DataError, match="at least one data row"):
        CSVDataset(_csv(tmp_path, "a,t\n"), target="t")


def test_csv_given_classes_keep_the_indices(tmp_path: Path) -> None:
    test = tmp_path / "test.csv"
    test.write_text("a,kind\n1,eel\n2,dog\n")
    ds = CSVDataset(str(test), target="kind", classes=["cat", "dog", "eel"])
    assert ds.classes == ["cat", "dog", "eel"]
    assert ds.targets.tolist() == [2, 1]  # not [1, 0], as its own sorted labels would give
    numbered = tmp_path / "numbered.csv"
    numbered.write_text("a,label\n1,2\n2,0.0\n")
    ints = CSVDataset(str(numbered), target="label", classes=["0", "1", "2", "3"])
    assert ints.targets.tolist() == [2, 0]
    assert ints.num_classes == 4


def test_csv_given_classes_reject_an_unknown_label(tmp_path: Path) -> None:
    test = tmp_path / "test.csv"
    test.write_text("a,kind\n1,dog\n2,fox\n")
    with pytest.raises(DataError) as info:
        CSVDataset(str(test), target="kind", classes=["cat", "dog"])
    assert info.value.param == "classes"
    assert "'fox' (line 3 of" in str(info.value)
    assert "known classes ['cat', 'dog']" in str(info.value)
    numbered = tmp_path / "numbered.csv"
    numbered.write_text("a,label\n1,0\n2,3\n")
    with pytest.raises(DataError, match="label '3'"):
        CSVDataset(str(numbered), target="label", classes=["0", "1", "2"])


def test_csv_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffa,label\n1,0\n2,1\n".encode())
    ds = CSVDataset(str(path), target="label", features=["a"])  # 'a', not '\ufeffa'
    assert ds.columns == ["a"]
    assert ds.data.tolist() == [[1.0], [2.0]]


def test_csv_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="path=") as info:
        CSVDataset(str(tmp_path / "nope.csv"), target="t")
    assert isinstance(info.value, FileNotFoundError)


# -- tensor files --------------------------------------------------------------------


def test_pt_dict_and_tuple(tmp_path: Path) -> None:
    x, y = torch.randn(6, 3, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1, 2])
    torch.save({"inputs": x, "labels": y}, tmp_path / "d.pt")
    torch.save((x, y), tmp_path / "t.pt")
    named = TensorFileDataset(str(tmp_path / "d.pt"), x_key="inputs", y_key="labels")
    pair = TensorFileDataset(str(tmp_path / "t.pt"))
    for ds in (named, pair):
        assert ds.data.dtype == torch.float32  # float64 files become float32
        assert torch.allclose(ds.data, x.float())
        assert ds.targets.tolist() == y.tolist()
        assert ds.num_classes == 3


def test_npz_with_custom_keys(tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", feats=np.ones((4, 2)), target=np.array([0.5, 1.0, 1.5, 2.0]))
    ds = TensorFileDataset(str(tmp_path / "a.npz"), x_key="feats", y_key="target")
    assert ds.data.shape == (4, 2)
    assert ds.targets.dtype == torch.float32
    assert ds.num_classes is None  # float targets: regression
    with pytest.raises(DataError, match="Did you mean 'feats'") as info:
        TensorFileDataset(str(tmp_path / "a.npz"), x_key="feat", y_key="target")
    assert info.value.param == "x_key"


def test_tensor_file_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"expected a \.pt"):
        TensorFileDataset(str(tmp_path / "a.txt"))
    with pytest.raises(DataNotFoundError, match="there is no such file"):
        TensorFileDataset(str(tmp_path / "missing.pt"))
    torch.save({"x": torch.zeros(3, 2), "y": torch.zeros(2)}, tmp_path / "bad.pt")
    with pytest.raises(DataError, match="3 samples"):
        TensorFileDataset(str(tmp_path / "bad.pt"))
    torch.save({"x": torch.zeros(3, 2), "y": object()}, tmp_path / "pickle.pt")
    with pytest.raises(DataError, match=r"not a torch\.save file of tensors"):
        TensorFileDataset(str(tmp_path / "pickle.pt"))  # weights_only refuses objects
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(DataError, match=r"not a numpy \.npz archive"):
        TensorFileDataset(str(tmp_path / "junk.npz"))
    torch.save(torch.zeros(3), tmp_path / "single.pt")
    with pytest.raises(DataError, match="expected a dict or an"):
        TensorFileDataset(str(tmp_path / "single.pt"))
