"""Safe instantiation: deny by default, and build exactly what the config says."""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from omegaconf import DictConfig, ListConfig, OmegaConf

import pbgml
from pbgml import ConfigError, registry

# -- security -----------------------------------------------------------------------


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "pwned"


def _refused(cfg: Any, key: str, **kw: Any) -> pbgml.ConfigIssue:
    with pytest.raises(ConfigError) as info:
        pbgml.instantiate(cfg, **kw)
    issues = [e for e in info.value.errors if e.kind == "not_allowed"]
    assert issues, info.value
    assert issues[0].key == key
    return issues[0]


def _payload(target: str, marker: Path) -> list[Any]:
    """Arguments with which ``target`` really creates ``marker`` (proved by the control test)."""
    if target in ("os.system", "posix.system", "logging.os.system"):
        return [f"touch {marker}"]
    if target in ("subprocess.Popen", "subprocess.run", "subprocess.check_call"):
        return [["touch", str(marker)]]
    if target in ("builtins.eval", "builtins.exec"):
        return [f"open({str(marker)!r}, 'w').close()"]
    if target == "importlib.import_module":
        return ["pbgml_marker_module"]
    if target == "shutil.copyfile":
        return [__file__, str(marker)]
    raise AssertionError(target)


DANGEROUS = [
    "os.system",
    "posix.system",
    "logging.os.system",
    "subprocess.Popen",
    "subprocess.run",
    "subprocess.check_call",
    "builtins.eval",
    "builtins.exec",
    "importlib.import_module",
    "shutil.copyfile",
]


@pytest.fixture
def marker_module(marker: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A module whose import creates the marker (the payload of import_module)."""
    (tmp_path / "pbgml_marker_module.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('x')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("pbgml_marker_module", None)


@pytest.mark.parametrize("target", DANGEROUS)
@pytest.mark.usefixtures("marker_module")
def test_payloads_work_when_called_directly(target: str, marker: Path) -> None:
    """Control: each payload does create the marker, so the refusals below prove something."""
    import importlib
    import logging  # noqa: F401

    module, _, name = target.rpartition(".")
    func: Any = importlib.import_module(module.split(".")[0])
    for part in [*module.split(".")[1:], name]:
        func = getattr(func, part)
    result = func(*_payload(target, marker))
    if hasattr(result, "wait"):  # Popen runs in the background
        result.wait()
    assert marker.exists()


@pytest.mark.parametrize("target", DANGEROUS)
@pytest.mark.usefixtures("marker_module")
def test_dangerous_targets_are_refused(target: str, marker: Path) -> None:
    import logging  # noqa: F401 - so that logging.os resolves through an imported module

    cfg = {"model": {"_target_": target, "_args_": _payload(target, marker)}}
    issue = _refused(cfg, "model._target_")
    assert not marker.exists()
    assert "pbgml_marker_module" not in sys.modules
    assert "not allowed" in issue.message


def test_alias_path_is_matched_by_what_it_resolves_to(marker: Path) -> None:
    import logging  # noqa: F401

    issue = _refused(
        {"_target_": "logging.os.system", "_args_": [f"touch {marker}"]},
        "_target_",
        allow=["logging"],
    )
    assert "that is posix.system" in issue.message
    assert not marker.exists()


def test_functools_partial_trick_is_refused(marker: Path) -> None:
    cfg = {
        "_target_": "functools.partial",
        "_args_": [{"_target_": "hydra_zen.funcs.get_obj", "path": "os.system"}, f"touch {marker}"],
    }
    with pytest.raises(ConfigError) as info:
        pbgml.instantiate(cfg)
    assert {e.key for e in info.value.errors} == {"_target_", "_args_.0.path"}
    assert not marker.exists()
    # control: the same partial, built by hand and called, does create the marker
    import functools
    import os

    functools.partial(os.system, f"touch {marker}")()
    assert marker.exists()


def test_reference_to_a_function_is_checked_too(marker: Path) -> None:
    cfg = {
        "_target_": "torch.nn.Sequential",
        "_args_": [{"_target_": "hydra_zen.funcs.get_obj", "path": "os.system"}],
    }
    _refused(cfg, "_args_.0.path")


def test_nested_target_three_levels_deep(marker: Path) -> None:
    cfg = {
        "model": {
            "_target_": "torch.nn.Sequential",
            "_args_": [
                {
                    "_target_": "torch.nn.Sequential",
                    "_args_": [{"_target_": "os.system", "command": f"touch {marker}"}],
                }
            ],
        }
    }
    _refused(cfg, "model._args_.0._args_.0._target_")
    assert not marker.exists()


def test_unregistered_module_is_never_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "imported"
    (tmp_path / "pbgml_evil_mod.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('x')\ndef f():\n    return 1\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    issue = _refused({"_target_": "pbgml_evil_mod.f"}, "_target_")
    assert "was not even imported" in issue.message
    assert not marker.exists()
    assert "pbgml_evil_mod" not in sys.modules
    # allowed in code, it is imported and built
    assert pbgml.instantiate({"_target_": "pbgml_evil_mod.f"}, allow=["pbgml_evil_mod"]) == 1
    assert marker.exists()
    sys.modules.pop("pbgml_evil_mod", None)


@pytest.mark.parametrize("bad", ["*", "", "os.*", ["a b"], [3]])
def test_bad_allowlists_are_rejected(bad: Any) -> None:
    with pytest.raises(ValueError, match="not a dotted prefix"):
        pbgml.instantiate(
            {"_target_": "torch.nn.ReLU"}, allow=bad if isinstance(bad, list) else [bad]
        )


def test_allow_prefix_is_a_path_prefix_not_a_string_prefix() -> None:
    # 'json' allowed must not allow 'jsonschema' and friends; json.dumps is allowed
    assert pbgml.instantiate({"_target_": "json.dumps", "_args_": [[1]]}, allow=["json"]) == "[1]"
    _refused({"_target_": "json.dumps", "_args_": [[1]]}, "_target_", allow=["js"])


def test_registered_entry_under_another_path_is_the_same_entry() -> None:
    for path in ("torch.optim.AdamW", "torch.optim.adamw.AdamW", "adamw", "AdamW"):
        factory = pbgml.instantiate(
            {"_target_": path, "_partial_": True, "lr": 0.5}, key="optimizer"
        )
        opt = factory([torch.nn.Parameter(torch.zeros(2))])
        assert isinstance(opt, torch.optim.AdamW)
        assert opt.param_groups[0]["lr"] == 0.5


# -- building -------------------------------------------------------------------------


def test_constructor_error_keeps_type_and_names_key() -> None:
    cfg = {"model": {"_target_": "torch.nn.Linear", "in_features": -1, "out_features": 2}}
    with pytest.raises(RuntimeError) as info:
        pbgml.instantiate(cfg)
    assert "negative dimension" in str(info.value)
    assert any("'model'" in note and "torch.nn.Linear" in note for note in info.value.__notes__)


def test_no_omegaconf_containers_leak() -> None:
    received: dict[str, Any] = {}

    def probe(
        items: list[int], mapping: dict[str, Any], pair: tuple[int, int], nested: Any
    ) -> None:
        received.update(items=items, mapping=mapping, pair=pair, nested=nested)

    registry.metric.register(probe, name="probe_containers")
    try:
        cfg = OmegaConf.create(
            {
                "_target_": "probe_containers",
                "items": [1, 2],
                "mapping": {"a": [1], "b": {"c": 2}},
                "pair": [3, 4],
                "nested": {"x": [5]},
            }
        )
        pbgml.instantiate(cfg)
    finally:
        registry.metric.unregister("probe_containers")
    assert type(received["items"]) is list
    assert type(received["mapping"]) is dict
    assert type(received["mapping"]["a"]) is list
    assert type(received["pair"]) is tuple
    assert received["pair"] == (3, 4)
    assert type(received["nested"]["x"]) is list

    def walk(v: Any) -> None:
        assert not isinstance(v, DictConfig | ListConfig)
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        if isinstance(v, list | tuple):
            for x in v:
                walk(x)

    walk(received)


def test_partials_and_recursion() -> None:
    cfg = {  # a tree of components, not an experiment: any keys
        "net": {
            "_target_": "torch.nn.Sequential",
            "_args_": [
                {"_target_": "linear", "in_features": 4, "out_features": 3},
                {"_target_": "relu"},
                {"_target_": "linear", "in_features": 3, "out_features": 2},
            ],
        },
        "criterion": {"_target_": "torch.nn.MSELoss"},
        "act": {"_target_": "torch.nn.functional.relu", "_partial_": True},
    }
    built = pbgml.instantiate(cfg, allow=["torch.nn.functional"])
    assert isinstance(built, dict)
    assert isinstance(built["net"][1], torch.nn.ReLU)
    assert built["net"](torch.zeros(1, 4)).shape == (1, 2)
    assert isinstance(built["criterion"], torch.nn.MSELoss)
    assert isinstance(built["act"], functools.partial)


def test_recursive_false_passes_nodes_through() -> None:
    seen: dict[str, Any] = {}

    def keep(spec: dict[str, Any]) -> None:
        seen["spec"] = spec

    registry.metric.register(keep, name="keep_spec")
    try:
        pbgml.instantiate(
            {"_target_": "keep_spec", "_recursive_": False, "spec": {"_target_": "os.system"}}
        )
    except ConfigError:
        pass
    finally:
        registry.metric.unregister("keep_spec")
    assert seen == {}  # even unbuilt, a nested forbidden target is refused by the check


def test_python_and_yaml_configs_build_equal_objects(tmp_path: Path) -> None:
    from pbgml.configs import AdamWConf, CrossEntropyLossConf

    py = {
        "loss": CrossEntropyLossConf(label_smoothing=0.1),
        "optimizer": AdamWConf(lr=0.01, betas=(0.8, 0.9)),
    }
    path = tmp_path / "exp.yaml"
    path.write_text(pbgml.to_yaml(py))
    a, b = pbgml.instantiate(py), pbgml.instantiate(path)
    assert repr(a["loss"]) == repr(b["loss"])
    assert a["loss"].label_smoothing == b["loss"].label_smoothing == 0.1
    params = [torch.nn.Parameter(torch.zeros(2))]
    oa, ob = a["optimizer"](params), b["optimizer"](params)
    assert oa.defaults == ob.defaults
    assert oa.defaults["betas"] == (0.8, 0.9)


def test_constructor_error_names_the_argument_key(tmp_path: Path) -> None:
    from pbgml.data import DataNotFoundError

    cfg = {"data": {"_target_": "cifar10", "root": str(tmp_path / "nowhere")}}
    with pytest.raises(DataNotFoundError) as info:
        pbgml.instantiate(cfg)
    assert str(tmp_path / "nowhere") in str(info.value)
    assert any("the argument is set at data.root" in n for n in info.value.__notes__)


def test_hand_written_yaml_and_python_build_equal_pipelines(tmp_path: Path) -> None:
    from pbgml.configs import (
        CrossEntropyLossConf,
        MLPConf,
        SGDConf,
        StepLRConf,
        SyntheticClassificationDataConf,
    )

    python_cfg = {
        "model": MLPConf(in_features=5, hidden=(8,), out_features=3, dropout=0.1),
        "loss": CrossEntropyLossConf(weight=[1.0, 2.0, 1.0]),
        "optimizer": SGDConf(lr=0.1, momentum=0.9),
        "scheduler": StepLRConf(step_size=2, gamma=0.5),
        "data": SyntheticClassificationDataConf(num_samples=30, num_features=5, num_classes=3),
    }
    path = tmp_path / "hand.yaml"
    path.write_text(
        "model:\n"
        "  _target_: mlp\n"
        "  in_features: 5\n"
        "  hidden: [8]\n"
        "  out_features: 3\n"
        "  dropout: 0.1\n"
        "loss: {_target_: cross_entropy, weight: [1.0, 2.0, 1.0]}\n"
        "optimizer: {_target_: sgd, _partial_: true, lr: 0.1, momentum: 0.9}\n"
        "scheduler: {_target_: step_lr, _partial_: true, step_size: 2, gamma: 0.5}\n"
        "data: {_target_: synthetic_classification, num_samples: 30, num_features: 5,"
        " num_classes: 3}\n"
    )
    torch.manual_seed(0)
    a = pbgml.instantiate(python_cfg)
    torch.manual_seed(0)
    b = pbgml.instantiate(path)
    assert repr(a["model"]) == repr(b["model"])
    for pa, pb in zip(
        a["model"].state_dict().values(), b["model"].state_dict().values(), strict=True
    ):
        assert torch.equal(pa, pb)
    assert torch.equal(a["loss"].weight, b["loss"].weight)
    oa, ob = a["optimizer"](a["model"]), b["optimizer"](b["model"])
    assert oa.defaults == ob.defaults
    sa, sb = a["scheduler"](oa), b["scheduler"](ob)
    assert (sa.interval, sa.scheduler.step_size) == (sb.interval, sb.scheduler.step_size)
    xa, ya = next(iter(a["data"].test_dataloader()))
    xb, yb = next(iter(b["data"].test_dataloader()))
    assert torch.equal(xa, xb)
    assert torch.equal(ya, yb)
