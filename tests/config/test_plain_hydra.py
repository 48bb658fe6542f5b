"""Plain Hydra and hydra-zen build pbgml's optimizer and scheduler configs (issue 8).

Nothing pbgml-specific reaches torch: ``param_groups`` and ``interval``/``frequency``/
``monitor`` are arguments of pbgml's subclasses of torch's classes, the ``_target_`` of
pbgml's configs. What Hydra builds from an optimizer config is called with the model
(parameter groups applied, as pbgml's own build does) or with parameters (one group).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import hydra.utils
import hydra_zen
import pytest
import torch
from omegaconf import OmegaConf

import pbgml
from pbgml import registry
from pbgml._groups import GROUPS
from pbgml._names import snake_case
from pbgml.configs import (
    AdamWConf,
    ParamGroupsConf,
    ReduceLROnPlateauConf,
    SGDConf,
    StepLRConf,
    TrainerConf,
    WarmupCosineLRConf,
    config_for,
)

INSTANTIATES = {"hydra": hydra.utils.instantiate, "hydra_zen": hydra_zen.instantiate}


def _model() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4), torch.nn.Linear(4, 2))


def _groups(opt: torch.optim.Optimizer) -> list[tuple[Any, ...]]:
    return [
        (g.get("name"), g.get("param_names"), g["lr"], g.get("weight_decay"))
        for g in opt.param_groups
    ]


@pytest.mark.parametrize("how", sorted(INSTANTIATES))
def test_optimizer_config_called_with_the_model_applies_param_groups(how: str) -> None:
    build = INSTANTIATES[how]
    cfg = AdamWConf(
        lr=0.01, param_groups=ParamGroupsConf(no_decay=("bias", "norm"), lr_mult={"2": 0.5})
    )
    model = _model()
    theirs = build(cfg)(model)
    ours = pbgml.instantiate(cfg, key="optimizer")(model)
    assert isinstance(theirs, torch.optim.AdamW)
    assert _groups(theirs) == _groups(ours)
    names = {g["name"]: g for g in theirs.param_groups}
    assert names["default/no_decay"]["weight_decay"] == 0.0
    assert names["2"]["lr"] == pytest.approx(0.005)


@pytest.mark.parametrize("how", sorted(INSTANTIATES))
def test_optimizer_config_called_with_parameters_is_one_plain_group(how: str) -> None:
    model = _model()
    opt = INSTANTIATES[how](AdamWConf(lr=0.01))(model.parameters())
    assert len(opt.param_groups) == 1
    assert opt.param_groups[0]["weight_decay"] == 0.01
    assert "param_groups" not in opt.defaults  # pbgml's setting never reaches torch


def test_yaml_node_with_param_groups_builds_with_plain_hydra() -> None:
    text = pbgml.to_yaml(SGDConf(lr=0.1, param_groups=ParamGroupsConf(freeze=("0",))))
    node = OmegaConf.create(text)  # a DictConfig, as Hydra hands it over
    model = _model()
    opt = hydra.utils.instantiate(node)(model)
    assert not model[0].weight.requires_grad
    assert all("0.weight" not in g["param_names"] for g in opt.param_groups)
    opt_ours = pbgml.instantiate(pbgml.load_yaml(text), key="optimizer")(_model())
    assert _groups(opt_ours)[0][1] == _groups(opt)[0][1]


def test_a_typo_in_param_groups_is_an_error_with_plain_hydra_too() -> None:
    node = OmegaConf.create({"_target_": "pbgml.optim.SGD", "_partial_": True, "lr": 0.1})
    node.param_groups = {"nodecay": ["bias"]}
    with pytest.raises(Exception, match="nodecay") as info:
        hydra.utils.instantiate(node)(_model())
    assert "no_decay" in str(info.value)  # did you mean


@pytest.mark.parametrize("how", sorted(INSTANTIATES))
def test_scheduler_configs_keep_when_to_step(how: str) -> None:
    opt = torch.optim.SGD(_model().parameters(), lr=0.1)
    sched = INSTANTIATES[how](StepLRConf(step_size=2, interval="step", frequency=3))(opt)
    assert isinstance(sched, torch.optim.lr_scheduler.StepLR)
    assert (sched.interval, sched.frequency, sched.monitor) == ("step", 3, None)
    warm = INSTANTIATES[how](WarmupCosineLRConf(warmup_steps=1, total_steps=4))(opt)
    assert warm.interval == "step"  # warm-up counts optimizer steps
    plateau = INSTANTIATES[how](ReduceLROnPlateauConf(monitor="val/loss"))(opt)
    plateau.step(1.0)
    assert plateau.monitor == "val/loss"
    with pytest.raises(ValueError, match="interval"):
        INSTANTIATES[how](StepLRConf(step_size=2, interval="epochs"))(opt)


SCHEDULER_VALUES: dict[str, dict[str, Any]] = {
    "cosine_annealing_lr": {"T_max": 4},
    "cosine_annealing_warm_restarts": {"T_0": 2},
    "cyclic_lr": {"base_lr": 0.01, "max_lr": 0.1},
    "exponential_lr": {"gamma": 0.9},
    "lambda_lr": {"lr_lambda": {"_target_": "hydra_zen.funcs.get_obj", "path": "math.exp"}},
    "multiplicative_lr": {"lr_lambda": {"_target_": "hydra_zen.funcs.get_obj", "path": "math.cos"}},
    "multi_step_lr": {"milestones": [1, 2]},
    "one_cycle_lr": {"max_lr": 0.1, "total_steps": 10},
    "step_lr": {"step_size": 1},
    "warmup_cosine": {"warmup_steps": 2, "total_steps": 10},
}
CODE_ONLY = {"sequential_lr", "chained_scheduler"}  # they take built schedulers


@pytest.mark.parametrize("name", registry.optimizer.names())
def test_every_optimizer_entry_builds_with_plain_hydra(name: str) -> None:
    node = OmegaConf.structured(config_for("optimizer", name))
    short = snake_case(name)
    model: torch.nn.Module = (
        torch.nn.Linear(3, 2, bias=False) if short in ("muon", "sparse_adam") else _model()
    )
    built = hydra.utils.instantiate(node)
    opt = built(model) if short != "sparse_adam" else built(model.parameters())
    assert isinstance(opt, registry.optimizer.get(name))
    assert "param_groups" not in opt.defaults


@pytest.mark.parametrize("name", [n for n in registry.scheduler.names() if n not in CODE_ONLY])
def test_every_scheduler_entry_builds_with_plain_hydra(name: str) -> None:
    short = snake_case(name)
    node = OmegaConf.structured(config_for("scheduler", name))
    for key, value in SCHEDULER_VALUES.get(short, {}).items():
        node[key] = value
    if "T_max" in node and node.T_max is None:
        node.T_max = 4  # pbgml's Trainer sizes it; a plain loop sets it
    opt = torch.optim.SGD(_model().parameters(), lr=0.1, momentum=0.9)
    sched = hydra.utils.instantiate(node)(opt)
    assert isinstance(sched, registry.scheduler.get(name))
    opt.step()
    sched.step(1.0) if short == "reduce_lr_on_plateau" else sched.step()


def test_only_optimizers_and_schedulers_have_pbgml_settings() -> None:
    """Every other group's configs are the target's arguments and nothing else."""
    with_meta = {name for name, spec in GROUPS.items() if spec.meta}
    assert with_meta == {"optimizer", "scheduler"}


def test_trainer_config_builds_with_plain_hydra(tmp_path: Path) -> None:
    trainer = hydra.utils.instantiate(TrainerConf(max_epochs=1, default_root_dir=str(tmp_path)))()
    assert isinstance(trainer, pbgml.Trainer)


def test_old_files_naming_torch_classes_keep_their_meaning() -> None:
    """``_target_: torch.optim.AdamW`` (written before pbgml's classes) builds as before."""
    text = "_target_: torch.optim.AdamW\n_partial_: true\nlr: 0.01\n"
    opt = pbgml.instantiate(pbgml.load_yaml(text), key="optimizer")(_model())
    assert type(opt) is torch.optim.AdamW
    assert [g["name"] for g in opt.param_groups] == ["default", "default/no_decay"]
    loaded = pbgml.load_yaml(text + "param_groups: default\n")
    assert pbgml.to_yaml(loaded) == text + "param_groups: default\n"  # target kept


APP = textwrap.dedent(
    """
    import json, sys
    import hydra, hydra_zen, torch
    from hydra.utils import instantiate
    from pbgml.hydra import store_registries

    store_registries()
    HOW = sys.argv.pop(1)

    def task(model, optimizer, scheduler=None):
        opt = optimizer(model)
        sched = scheduler(opt) if scheduler is not None else None
        x, y = torch.randn(8, 4), torch.randint(0, 2, (8,))
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        print("RESULT", json.dumps({
            "optimizer": type(opt).__name__,
            "groups": [g.get("name") for g in opt.param_groups],
            "lr": opt.param_groups[0]["lr"],
            "interval": getattr(sched, "interval", None),
        }))

    if HOW == "hydra":
        @hydra.main(version_base=None, config_name="pbgml")
        def main(cfg):
            sched = instantiate(cfg.scheduler) if cfg.get("scheduler") else None
            task(instantiate(cfg.model), instantiate(cfg.optimizer), sched)
        main()
    else:
        def zen_task(model, optimizer, scheduler):
            task(model, optimizer, scheduler)
        hydra_zen.zen(zen_task).hydra_main(config_name="pbgml", version_base=None)
    """
)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("user_app")
    (folder / "app.py").write_text(APP)
    return folder


def _run_app(folder: Path, how: str, *overrides: str) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [sys.executable, "app.py", how, *overrides, "hydra.run.dir=out", "hydra.sweep.dir=multi"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(line[7:]) for line in proc.stdout.splitlines() if line.startswith("RESULT ")]


BASE = ("model=mlp", "model.in_features=4", "model.out_features=2", "optimizer=sgd")


@pytest.mark.parametrize("how", ["hydra", "zen"])
def test_a_users_own_hydra_app_composes_and_builds_pbgmls_groups(app: Path, how: str) -> None:
    (one,) = _run_app(app, how, *BASE, "optimizer.lr=0.01", "scheduler=step_lr", "scheduler.step_size=2", "scheduler.interval=step")  # fmt: skip
    assert one == {"optimizer": "SGD", "groups": ["default"], "lr": 0.01, "interval": "step"}
    runs = _run_app(app, how, "-m", *BASE[:3], "optimizer=adamw", "optimizer.lr=0.01,0.1", "scheduler=step_lr", "scheduler.step_size=1")  # fmt: skip
    assert sorted(r["lr"] for r in runs) == [0.01, 0.1]
    assert all(r["groups"] == ["default", "default/no_decay"] for r in runs)


def test_a_length_left_to_the_trainer_is_refused_clearly_by_a_plain_build() -> None:
    """``T_max: null`` means "sized by pbgml's Trainer"; built by plain Hydra it must be set."""
    from pbgml.configs import CosineAnnealingLRConf

    opt = torch.optim.SGD(_model().parameters(), lr=0.1)
    with pytest.raises(ValueError, match="set T_max") as info:
        hydra.utils.instantiate(CosineAnnealingLRConf())(opt)
    assert getattr(info.value, "param", None) == "T_max"
    assert hydra.utils.instantiate(CosineAnnealingLRConf(T_max=3))(opt).T_max == 3
    # pbgml's own build sizes it from the run
    built = pbgml.instantiate(CosineAnnealingLRConf(), key="scheduler")
    assert built(opt, total_steps=10, total_epochs=5).scheduler.T_max == 5
