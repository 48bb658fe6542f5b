"""Safe instantiation: deny by default, and build exactly what the config says."""

from __future__ import annotations

import functools
import sys
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


@pytest.mark.parametrize(
    "target",
    [
        "os.system",
        "posix.system",
        "logging.os.system",
        "subprocess.Popen",
        "subprocess.run",
        "builtins.eval",
        "builtins.exec",
        "importlib.import_module",
        "shutil.rmtree",
    ],
)
def test_dangerous_targets_are_refused(target: str, marker: Path) -> None:
    import logging  # noqa: F401 - so that logging.os resolves through an imported module

    cfg = {"_target_": target, "_args_": [f"touch {marker}"]}
    issue = _refused(cfg, "_target_")
    assert not marker.exists()
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
    cfg = {
        "model": {
            "_target_": "torch.nn.Sequential",
            "_args_": [
                {"_target_": "linear", "in_features": 4, "out_features": 3},
                {"_target_": "relu"},
                {"_target_": "linear", "in_features": 3, "out_features": 2},
            ],
        },
        "loss": {"_target_": "mse"},
        "act": {"_target_": "torch.nn.functional.relu", "_partial_": True},
    }
    built = pbgml.instantiate(cfg, allow=["torch.nn.functional"])
    assert isinstance(built, dict)
    assert isinstance(built["model"][1], torch.nn.ReLU)
    assert built["model"](torch.zeros(1, 4)).shape == (1, 2)
    assert isinstance(built["loss"], torch.nn.MSELoss)
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
