"""One registration style: loaders on first use, no side effect at import, idempotent."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

from pbgml import Registry, RegistryError


def _run(script: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_importing_component_modules_registers_nothing_and_loads_no_registry() -> None:
    out = _run(
        """
        import pbgml.nn, pbgml.losses, pbgml.optim, pbgml.data, pbgml.metrics
        from pbgml import registry
        print(sorted(g for g, r in registry.groups().items() if r.loaded))
        """
    )
    assert out == "[]"


def test_using_one_group_loads_only_that_group_and_not_torchmetrics() -> None:
    out = _run(
        """
        import sys
        import pbgml
        from pbgml.configs import AdamWConf
        pbgml.check(AdamWConf(lr=0.1), key="optimizer")
        from pbgml import registry
        print(sorted(g for g, r in registry.groups().items() if r.loaded), "torchmetrics" in sys.modules)
        """
    )
    assert out == "['optimizer'] False"


def test_registering_the_same_object_again_is_a_no_op() -> None:
    reg: Registry[object] = Registry("demo")
    reg.register(torch.nn.ReLU, name="relu")
    before = reg.entry("relu")
    reg.register(torch.nn.ReLU, name="relu")  # a re-run loader, autodoc, a reload
    assert reg.entry("relu") is before
    with pytest.raises(RegistryError, match="already registered"):
        reg.register(torch.nn.GELU, name="relu")


def test_reloading_a_component_module_keeps_the_registry_working() -> None:
    # in a fresh process: a reload makes new class objects, which would leak into others
    out = _run(
        """
        import importlib
        import pbgml.losses
        from pbgml import registry
        names = registry.loss.names()
        importlib.reload(pbgml.losses)  # registers nothing: no "already registered" error
        import pbgml
        layer = pbgml.instantiate({"_target_": "pbgml.losses.FocalLoss"})  # still allowed
        print(registry.loss.names() == names, "focal" in registry.loss, type(layer).__name__)
        """
    )
    assert out == "True True FocalLoss"


def test_loaders_may_be_module_function_paths_imported_on_first_use() -> None:
    reg: Registry[object] = Registry("demo", loaders=["pbgml._torch_catalog:torch_schedulers"])
    assert not reg.loaded
    assert reg.get("step_lr") is torch.optim.lr_scheduler.StepLR


_BROKEN_TORCHVISION = """
import importlib.abc, importlib.machinery, sys, warnings

class Broken(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    # torchvision from the package index beside a CPU torch: found, but fails to import
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "torchvision":
            return importlib.machinery.ModuleSpec(name, self)
        return None
    def create_module(self, spec):
        return None
    def exec_module(self, module):
        raise RuntimeError("operator torchvision::nms does not exist")

sys.meta_path.insert(0, Broken())
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import pbgml
    try:
        pbgml.check({"_target_": "torch.optim.SGD", "_partial_": True, "lrr": 0.1}, key="optimizer")
    except pbgml.ConfigError as err:
        print("ConfigError:", err.errors[0].key)
    pbgml.check({"_target_": "lenet"}, key="model")  # the model group probes torchvision
    pbgml.check({"_target_": "to_tensor"}, key="")  # and so does the transform group
    print(sorted(pbgml.registry.model.names("tv_*")), "lenet" in pbgml.registry.model)
mine = [w for w in caught if issubclass(w.category, pbgml.PluginWarning)]
print(len(mine))
print(str(mine[0].message))
"""


def test_a_broken_torchvision_is_one_warning_never_an_error() -> None:
    lines = _run(_BROKEN_TORCHVISION).splitlines()
    assert lines[0] == "ConfigError: optimizer.lrr"
    assert lines[1] == "[] True"
    assert lines[2] == "1"
    assert "torchvision is installed but failed to import" in lines[3]
    assert "operator torchvision::nms does not exist" in lines[3]
    assert "pip install --force-reinstall pbgml[torchvision]" in lines[3]
