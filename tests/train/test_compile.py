"""``compile=True``: the model's forward through torch.compile; checkpoints stay plain."""

from __future__ import annotations

import functools
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch._dynamo import register_backend

from pbgml.data import ArrayDataset, DataModule
from pbgml.train import ClassificationTask, ModelCheckpoint, Trainer, TrainerError, load_checkpoint

GRAPHS: list[int] = []


def _counting(gm: torch.fx.GraphModule, example_inputs: list[Any]) -> Any:
    """A torch.compile backend that runs the captured graph eagerly and counts it."""
    GRAPHS.append(len(example_inputs))
    return gm.forward


register_backend(_counting, name="pbgml_test_counting")


def make_data(seed: int = 0) -> DataModule:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(80, 4, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    return DataModule(
        ArrayDataset(x, y, classes=["a", "b", "c"]), val_split=16, batch_size=8, seed=seed
    )


def make_task() -> ClassificationTask:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    return ClassificationTask(model, optimizer=functools.partial(torch.optim.SGD, lr=0.1))


def quiet(**kwargs: Any) -> Trainer:
    kwargs.setdefault("callbacks", [])
    kwargs.setdefault("logger", False)
    kwargs.setdefault("accelerator", "cpu")
    return Trainer(**kwargs)


def test_compile_runs_the_forward_compiled_in_every_stage() -> None:
    GRAPHS.clear()
    t = make_task()
    trainer = quiet(max_epochs=2, compile=True, compile_backend="pbgml_test_counting")
    trainer.fit(t, make_data())
    assert GRAPHS, "torch.compile never captured the model's forward"
    assert "forward" not in t.model.__dict__  # the plain forward is back after fit
    before = len(GRAPHS)
    (metrics,) = trainer.test(t, dataloaders=make_data().val_dataloader())
    assert 0.0 <= metrics["test/acc"] <= 1.0
    assert len(GRAPHS) == before  # the same compiled forward: nothing recompiled
    assert list(t.state_dict()) == list(make_task().state_dict())


def test_compiled_checkpoints_hold_the_plain_state_dict(tmp_path: Path) -> None:
    t = make_task()
    trainer = quiet(
        max_epochs=1,
        compile=True,
        compile_backend="aot_eager",
        default_root_dir=tmp_path,
        callbacks=[ModelCheckpoint()],
    )
    trainer.fit(t, make_data())
    saved = load_checkpoint(tmp_path / "checkpoints" / "last.ckpt")["model"]
    assert list(saved) == list(make_task().state_dict())
    assert not any("_orig_mod" in k for k in saved)


def _weights(task: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in task.state_dict().items()}


@pytest.mark.parametrize(("first", "then"), [(True, False), (False, True)])
def test_a_compiled_run_resumes_uncompiled_and_back(
    tmp_path: Path, first: bool, then: bool
) -> None:
    straight = make_task()
    quiet(max_epochs=2).fit(straight, make_data())

    def trainer(epochs: int, compiled: bool) -> Trainer:
        return quiet(
            max_epochs=epochs,
            compile=compiled,
            compile_backend="aot_eager" if compiled else None,
            default_root_dir=tmp_path,
            callbacks=[ModelCheckpoint()],
        )

    trainer(1, first).fit(make_task(), make_data())
    resumed = make_task()
    second = trainer(2, then)
    second.fit(resumed, make_data(), ckpt_path="last")
    assert second.global_step == 16
    expected = _weights(straight)
    for key, value in _weights(resumed).items():
        torch.testing.assert_close(value, expected[key], rtol=1e-5, atol=1e-6)


def test_bad_compile_settings_name_the_argument() -> None:
    with pytest.raises(TrainerError) as info:
        Trainer(compile_mode="fastest")
    assert info.value.param == "compile_mode"
    with pytest.raises(TrainerError) as info:
        Trainer(compile=1)  # type: ignore[arg-type]
    assert info.value.param == "compile"


# torch's inductor imports torch.utils.mkldnn, whose ScriptModule raises this on import
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_inductor_smoke() -> None:
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("inductor needs a C compiler on CPU; none found")
    start = time.perf_counter()
    t = make_task()
    trainer = quiet(max_epochs=1, compile=True)
    trainer.fit(t, make_data())
    elapsed = time.perf_counter() - start
    assert torch.isfinite(torch.tensor(trainer.callback_metrics["train/loss"]))
    print(f"inductor smoke test: {elapsed:.1f} s")
