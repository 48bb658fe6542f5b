"""pbgml.export / pbgml.load_model / pbgml export: every format from one trained checkpoint."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

import pbgml
from pbgml._export import VerificationError, read_source, strip_prefix
from pbgml.cli import main as cli

from .conftest import train_digits

pytest.importorskip("sklearn")

SUFFIX = {"onnx": ".onnx", "exported-program": ".pt2", "safetensors": ".safetensors"}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> pbgml.RunResult:
    return train_digits(tmp_path_factory.mktemp("digits"))


@pytest.fixture(scope="module")
def ckpt(run: pbgml.RunResult) -> Path:
    assert run.last_checkpoint is not None
    return Path(run.last_checkpoint)


@pytest.fixture(scope="module")
def exported(ckpt: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("exported")
    files = {
        fmt: pbgml.export(ckpt, fmt, out / f"digits{suffix}") for fmt, suffix in SUFFIX.items()
    }
    files["torchserve"] = pbgml.export(ckpt, "torchserve", out / "digits.mar")
    return files


def _reference(ckpt: Path) -> torch.nn.Module:
    """The checkpoint's model rebuilt by hand: the config's model, the task's weights."""
    raw = torch.load(ckpt, weights_only=True)
    model = pbgml.instantiate(pbgml.load_yaml(raw["config"]).model)
    model.load_state_dict({k.removeprefix("model."): v for k, v in raw["model"].items()})
    return model.eval()


def _batch(n: int) -> torch.Tensor:
    return torch.randn(n, 64, generator=torch.Generator().manual_seed(n))


def test_load_model_rebuilds_the_checkpoint_model_from_its_own_config(ckpt: Path) -> None:
    model = pbgml.load_model(ckpt)
    assert type(model).__name__ == "MLP"
    assert not model.training
    reference = _reference(ckpt)
    for key, value in reference.state_dict().items():
        assert torch.equal(model.state_dict()[key], value)
    assert torch.equal(model(_batch(5)), reference(_batch(5)))
    # a run folder means its last checkpoint
    folder_model = pbgml.load_model(ckpt.parent.parent)
    assert torch.equal(folder_model(_batch(3)), reference(_batch(3)))


def test_onnx_runs_in_onnxruntime_at_another_batch_size(
    ckpt: Path, exported: dict[str, Path]
) -> None:
    import onnxruntime

    path = exported["onnx"]
    assert path.is_file()
    assert not path.with_name(path.name + ".data").exists()  # one self-contained file
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    assert inp.shape[1:] == [64]
    assert not isinstance(inp.shape[0], int)  # dynamic batch
    for n in (1, 7):
        (got,) = session.run(None, {inp.name: _batch(n).numpy()})
        with torch.no_grad():
            want = _reference(ckpt)(_batch(n))
        torch.testing.assert_close(torch.from_numpy(got), want, atol=1e-5, rtol=1e-5)


def test_exported_program_loads_back_with_a_dynamic_batch(
    ckpt: Path, exported: dict[str, Path]
) -> None:
    program = torch.export.load(exported["exported-program"])
    for n in (1, 9):
        with torch.no_grad():
            want = _reference(ckpt)(_batch(n))
        assert torch.equal(program.module()(_batch(n)), want)


def test_load_model_and_predict_refuse_a_pt2_since_loading_one_can_run_code(
    exported: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = exported["exported-program"]
    with pytest.raises(pbgml.ExportError, match=r"\.pt2 archive: loading one can run code") as info:
        pbgml.load_model(path)
    assert "torch.export.load" in str(info.value)
    assert "safetensors" in str(info.value)
    assert info.value.path == str(path)
    csv = path.with_name("x.csv")
    csv.write_text("a\n1\n")
    assert cli(["predict", str(path), str(csv)]) == 2
    assert "can run code" in capsys.readouterr().err


def test_safetensors_holds_the_config_and_rebuilds_the_model_alone(
    ckpt: Path, exported: dict[str, Path]
) -> None:
    from safetensors import safe_open

    path = exported["safetensors"]
    with safe_open(str(path), framework="pt") as handle:
        meta = handle.metadata()
        keys = set(handle.keys())
    assert meta["format"] == "pbgml"
    assert pbgml.load_yaml(meta["pbgml.config"]).model.hidden == [16]
    assert json.loads(meta["pbgml.classes"]) == [str(i) for i in range(10)]
    assert json.loads(meta["pbgml.sample_shape"]) == [64]
    assert keys == set(_reference(ckpt).state_dict())
    model = pbgml.load_model(path)
    assert torch.equal(model(_batch(4)), _reference(ckpt)(_batch(4)))
    # the file alone is enough to predict
    assert read_source(path).classes == [str(i) for i in range(10)]


def test_the_torchserve_archive_holds_the_handler_weights_and_config(
    exported: dict[str, Path],
) -> None:
    with zipfile.ZipFile(exported["torchserve"]) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("MAR-INF/MANIFEST.json"))
        state = archive.read("model.pt")
    assert {"_handler.py", "config.yaml", "pbgml.json", "model.pt"} <= names
    assert manifest["model"]["handler"] == "_handler.py"
    assert manifest["model"]["serializedFile"] == "model.pt"
    assert state[:2] == b"PK"  # torch.save's zip format, read with weights_only


def test_a_torchserve_archive_is_verified_by_running_its_handler(
    ckpt: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pbgml._export import _handler

    out = tmp_path / "ok.mar"
    assert cli(["export", str(ckpt), "-f", "torchserve", "-o", str(out)]) == 0
    assert f"wrote {out} (torchserve, verified)" in capsys.readouterr().out
    # a handler that answers wrong: the export fails, no archive is left
    broken = tmp_path / "src" / "_handler.py"
    broken.parent.mkdir()
    source = Path(_handler.__file__).read_text(encoding="utf-8")
    broken.write_text(
        source + "\n\nclass PbgmlHandler(PbgmlHandler):  # type: ignore[no-redef]\n"
        "    def inference(self, batch):\n"
        "        return super().inference(batch) * 0\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(_handler, "__file__", str(broken))
    bad = tmp_path / "bad.mar"
    with pytest.raises(VerificationError, match=rf"^{re.escape(str(bad))}: the TorchServe archive"):
        pbgml.export(ckpt, "torchserve", bad)
    assert not bad.exists()


def test_a_model_object_exports_with_a_sample_and_needs_one_without_a_config(
    tmp_path: Path,
) -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh())
    path = pbgml.export(model, "exported-program", tmp_path / "m.pt2", sample=torch.randn(2, 4))
    assert torch.export.load(path).module()(torch.randn(6, 4)).shape == (6, 3)
    with pytest.raises(pbgml.ExportError, match=r"no sample shape is known .*pass sample="):
        pbgml.export(model, "onnx", tmp_path / "m.onnx")
    with pytest.raises(pbgml.ExportError, match="has none; export a checkpoint"):
        pbgml.export(model, "torchserve", tmp_path / "m.mar")
    with pytest.raises(pbgml.ExportError, match="Did you mean 'onnx'"):
        pbgml.export(model, "onx", tmp_path / "m.onnx")


class _ExportAware(torch.nn.Module):
    """Returns other values when eager than when exported: verification must catch it."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y: torch.Tensor = self.lin(x)
        return y if torch.compiler.is_exporting() else y + 1e-3


def test_an_export_that_does_not_reproduce_the_model_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "drift.pt2"
    with pytest.raises(VerificationError, match=r"differ by up to 0\.001 \(tolerance 1e-05\)"):
        pbgml.export(_ExportAware(), "exported-program", path, sample=torch.randn(2, 3))
    assert not path.exists()  # the bad file is removed


def test_weights_from_another_model_are_named_with_the_file(ckpt: Path, tmp_path: Path) -> None:
    raw = torch.load(ckpt, weights_only=True)
    raw["config"] = raw["config"].replace("  - 16\n", "  - 32\n")  # the config says 32 units
    other = tmp_path / "other.ckpt"
    torch.save(raw, other)
    with pytest.raises(pbgml.ExportError) as info:
        pbgml.load_model(other)
    message = str(info.value)
    assert message.startswith(f"{other}: the weights do not fit the model its config builds")
    assert "size mismatch for layers.fc0.weight" in message
    assert info.value.path == str(other)
    assert cli(["export", str(other), "--format", "safetensors"]) == 2


def test_a_corrupted_or_foreign_file_is_named_with_the_fix(tmp_path: Path) -> None:
    broken = tmp_path / "broken.ckpt"
    broken.write_bytes(b"not a checkpoint at all")
    with pytest.raises(
        pbgml.ExportError, match=rf"^{re.escape(str(broken))}: not a checkpoint .*corrupted"
    ):
        pbgml.load_model(broken)
    plain = tmp_path / "plain.ckpt"
    torch.save({"model": torch.nn.Linear(2, 2).state_dict()}, plain)
    with pytest.raises(pbgml.ExportError, match="holds no pbgml config"):
        pbgml.load_model(plain)
    fake = tmp_path / "fake.safetensors"
    fake.write_bytes(b"\x00" * 16)
    with pytest.raises(
        pbgml.ExportError, match=rf"^{re.escape(str(fake))}: not a safetensors file"
    ):
        pbgml.load_model(fake)
    with pytest.raises(FileNotFoundError, match="no such file"):
        pbgml.load_model(tmp_path / "missing.ckpt")


def test_a_missing_extra_names_the_pip_install(
    ckpt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(pbgml.MissingExtraError, match=r"pip install pbgml\[onnx\]"):
        pbgml.export(ckpt, "onnx", tmp_path / "m.onnx")
    monkeypatch.setitem(sys.modules, "safetensors.torch", None)
    assert (
        cli(["export", str(ckpt), "--format", "safetensors", "-o", str(tmp_path / "x.safetensors")])
        == 2
    )
    assert "pip install pbgml[safetensors]" in capsys.readouterr().err


def test_the_export_command_writes_next_to_the_checkpoint(
    ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sub" / "model.safetensors"
    assert cli(["export", str(ckpt), "--format", "safetensors", "--output", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert torch.equal(pbgml.load_model(out)(_batch(2)), _reference(ckpt)(_batch(2)))
    copy = tmp_path / "run.ckpt"
    copy.write_bytes(ckpt.read_bytes())
    assert cli(["export", str(copy), "--format", "exported-program"]) == 0
    assert copy.with_suffix(".pt2").is_file()
    assert cli(["export", str(copy), "--format", "onx"]) == 2
    assert "invalid choice: 'onx'" in capsys.readouterr().err


def test_an_export_never_overwrites_its_input_and_needs_the_formats_suffix(
    ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "last.ckpt"
    copy.write_bytes(ckpt.read_bytes())
    twin = tmp_path / "twin.ckpt"
    twin.hardlink_to(copy)
    before = copy.read_bytes()
    for fmt in ("onnx", "safetensors", "exported-program", "torchserve"):
        assert cli(["export", str(copy), "-f", fmt, "-o", str(copy)]) == 2
        assert "ends with" in capsys.readouterr().err
        assert cli(["export", str(copy), "-f", fmt, "-o", str(twin)]) == 2
    assert copy.read_bytes() == before
    with pytest.raises(pbgml.ExportError, match=r"a safetensors export's name ends with"):
        pbgml.export(copy, "safetensors", tmp_path / "weights.bin")
    assert not (tmp_path / "weights.bin").exists()
    with pytest.raises(pbgml.ExportError, match=r"a torchserve export's name ends with \.mar"):
        pbgml.export(copy, "torchserve", tmp_path / "M.MAR")
    st = pbgml.export(copy, "safetensors", tmp_path / "m.safetensors")
    with pytest.raises(pbgml.ExportError, match="the output is the file being exported"):
        pbgml.export(st, "safetensors", st)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".pbgml")] == []


def test_an_output_that_cannot_be_written_is_a_one_line_error(
    ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "m.safetensors"
    folder.mkdir()
    assert cli(["export", str(ckpt), "-f", "safetensors", "-o", str(folder)]) == 2
    assert f"{folder}: a folder" in capsys.readouterr().err
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    out = blocker / "m.safetensors"
    assert cli(["export", str(ckpt), "-f", "safetensors", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{out}: cannot write the export there" in err
    assert "Traceback" not in err


def test_a_failed_export_leaves_an_existing_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "drift.pt2"
    path.write_bytes(b"the previous export")
    with pytest.raises(VerificationError, match=rf"^{re.escape(str(path))}: "):
        pbgml.export(_ExportAware(), "exported-program", path, sample=torch.randn(2, 3))
    assert path.read_bytes() == b"the previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["drift.pt2"]


def test_strip_prefix_keeps_only_the_models_weights() -> None:
    state = {"model.a": 1, "model._orig_mod.b": 2, "loss.weight": 3}
    assert strip_prefix(state) == {"a": 1, "b": 2}
    assert strip_prefix({"a": 1}) == {"a": 1}


def test_the_command_exits_2_with_one_line_in_a_real_process(tmp_path: Path) -> None:
    broken = tmp_path / "broken.ckpt"
    broken.write_bytes(b"garbage")
    done = subprocess.run(
        [sys.executable, "-m", "pbgml", "export", str(broken), "--format", "onnx"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    first, *rest = done.stderr.strip().splitlines()
    assert first.startswith(f"pbgml: {broken}: not a checkpoint")
    assert "Traceback" not in done.stderr
    assert rest == ["(set PBGML_FULL_ERROR=1 for the full traceback)"]
