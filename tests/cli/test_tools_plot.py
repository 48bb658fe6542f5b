"""pbgml plot: training curves of real tiny runs (their CSV logs) into PNG files."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

import pbgml
from pbgml.cli import main
from pbgml.cli._tools_plotdata import find_runs, read_run
from pbgml.configs import DigitsDataConf, ExperimentConf, MLPConf, TrainerConf

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EPOCHS = 2


def _cfg(root: Path, lr: float) -> ExperimentConf:
    from pbgml.configs import AdamWConf

    return ExperimentConf(
        model=MLPConf(in_features=64, hidden=(16,), out_features=10),
        optimizer=AdamWConf(lr=lr),
        data=DigitsDataConf(batch_size=64),
        trainer=TrainerConf(
            max_epochs=EPOCHS,
            default_root_dir=str(root),
            enable_progress_bar=False,
            enable_model_summary=False,
            log_every_n_steps=2,
            limit_train_batches=5,
        ),
    )


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[pbgml.RunResult]]:
    """Two real runs (two learning rates) below one folder, as a sweep leaves them."""
    root = tmp_path_factory.mktemp("sweep")
    results = [pbgml.run(_cfg(root / str(i), lr)) for i, lr in enumerate((1e-2, 1e-3))]
    return root, results


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_curves_read_from_a_real_run_match_its_metrics(
    sweep: tuple[Path, list[pbgml.RunResult]],
) -> None:
    _, results = sweep
    result = results[0]
    curves = read_run(Path(result.run_dir))
    assert {"loss", "acc"} <= set(curves.metrics())
    loss = curves.of("loss")
    # the trainer logs a training value every 2 steps and each epoch's mean: told apart
    assert [epoch for epoch, _ in loss["train"].epochs] == list(range(EPOCHS))
    assert loss["train"].epochs[-1][1] == pytest.approx(result.metrics["train/loss"])
    assert len(loss["train_step"].steps) >= EPOCHS * 2
    # one validation per epoch (the one repeated after fit is counted once)
    assert [epoch for epoch, _ in loss["val"].epochs] == list(range(EPOCHS))
    assert loss["val"].steps[-1][1] == pytest.approx(result.metrics["val/loss"])
    assert curves.of("acc")["test"].steps[-1][1] == pytest.approx(result.metrics["test/acc"])


def test_plot_one_run_writes_curves_png_in_it(
    sweep: tuple[Path, list[pbgml.RunResult]], capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = Path(sweep[1][0].run_dir)
    assert main(["plot", str(run_dir)]) == 0
    out = run_dir / "curves.png"
    assert capsys.readouterr().out == f"wrote {out} (1 run, 2 metrics)\n"
    width, height = _png_size(out)
    assert width >= 600
    assert height >= 400
    assert out.stat().st_size > 20_000  # drawn curves, not an empty canvas


def test_plot_a_sweep_folder_overlays_its_runs(
    sweep: tuple[Path, list[pbgml.RunResult]], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root, results = sweep
    assert find_runs([root]) == [Path(r.run_dir) for r in results]  # expanded, in order
    out = tmp_path / "sweep.png"
    assert main(["plot", str(root), "--output", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote {out} (2 runs, 2 metrics)\n"
    single = tmp_path / "single.png"
    assert main(["plot", results[0].run_dir, "-o", str(single)]) == 0
    _png_size(out)
    assert out.stat().st_size > single.stat().st_size  # the second run's curves are drawn too
    # the same runs named one by one
    again = tmp_path / "again.png"
    assert main(["plot", *(r.run_dir for r in results), "-o", str(again)]) == 0
    assert "(2 runs, 2 metrics)" in capsys.readouterr().out


def test_plot_only_some_metrics(
    sweep: tuple[Path, list[pbgml.RunResult]], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run_dir = sweep[1][0].run_dir
    out, full = tmp_path / "loss.png", tmp_path / "full.png"
    assert main(["plot", run_dir, "--metrics", "^loss$", "-o", str(out)]) == 0
    assert "(1 run, 1 metrics)" in capsys.readouterr().out
    assert main(["plot", run_dir, "-o", str(full)]) == 0
    assert _png_size(out)[1] < _png_size(full)[1]  # one row of plots instead of two
    assert main(["plot", run_dir, "--metrics", "(", "-o", str(out)]) == 2
    assert "not a regular expression" in capsys.readouterr().err


def test_plot_without_logs_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    assert main(["plot", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'empty'}: no CSV logs here" in err
    assert "Traceback" not in err
    assert main(["plot", str(tmp_path / "nowhere")]) == 2
    assert f"no such file or directory: {tmp_path / 'nowhere'}" in capsys.readouterr().err
    assert main(["plot"]) == 2
    assert "the following arguments are required: RUN_DIR" in capsys.readouterr().err


def test_plot_without_matplotlib_names_the_extra(
    sweep: tuple[Path, list[pbgml.RunResult]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["plot", sweep[1][0].run_dir, "-o", str(Path(sweep[0]) / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "pbgml plot requires matplotlib: pip install pbgml[plot]" in err
    assert not (Path(sweep[0]) / "x.png").exists()
    from pbgml.cli._plot import _matplotlib

    with pytest.raises(pbgml.MissingExtraError, match=r"pip install pbgml\[plot\]"):
        _matplotlib()


def test_python_m_pbgml_plot(sweep: tuple[Path, list[pbgml.RunResult]], tmp_path: Path) -> None:
    out = tmp_path / "sub.png"
    done = subprocess.run(
        [sys.executable, "-m", "pbgml", "plot", str(sweep[0]), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert _png_size(out)[0] > 0
    done = subprocess.run(
        [sys.executable, "-m", "pbgml", "plot", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


def test_a_hydra_sweeps_runs_are_labelled_by_their_overrides(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pbgml.cli._tools_plotdata import run_label

    sweep = tmp_path / "multirun" / "2026-01-01" / "12-00-00"
    for job, lr in enumerate(("0.1", "0.01")):
        (sweep / str(job) / "logs").mkdir(parents=True)
        (sweep / str(job) / ".hydra").mkdir()
        (sweep / str(job) / ".hydra" / "overrides.yaml").write_text(
            f"- experiment=digits_mlp\n- optimizer.lr={lr}\n"
        )
        (sweep / str(job) / "logs" / "metrics.csv").write_text(
            "step,epoch,train/loss,val/loss\n1,0,2.0,\n1,0,1.9,1.8\n2,1,1.5,\n2,1,1.4,1.3\n"
        )
    (sweep / "optimization_results.csv").write_text("a,b\n1,2\n")  # not a log: ignored
    runs = find_runs([tmp_path / "multirun"])
    assert runs == [sweep / "0", sweep / "1"]
    assert run_label(runs[1], runs) == "1 experiment=digits_mlp,optimizer.lr=0.01"
    assert main(["plot", str(tmp_path / "multirun")]) == 0
    out = tmp_path / "multirun" / "curves.png"
    assert capsys.readouterr().out == f"wrote {out} (2 runs, 1 metrics)\n"
    _png_size(out)
    # an empty log is refused with a message, not a blank picture
    (tmp_path / "empty" / "logs").mkdir(parents=True)
    (tmp_path / "empty" / "logs" / "metrics.csv").write_text("step,epoch\n")
    assert main(["plot", str(tmp_path / "empty")]) == 2
    assert "hold no metric values" in capsys.readouterr().err
