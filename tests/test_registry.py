from __future__ import annotations

import dataclasses
import inspect

import pytest
import torch

import pbgml
from pbgml import Registry, RegistryError, UnknownNameError, registry
from pbgml._names import snake_case


def make() -> Registry[torch.nn.Module]:
    return Registry("loss")


# -- register ----------------------------------------------------------------------


def test_register_as_decorator_keeps_object_and_records_entry() -> None:
    reg = make()

    @reg.register("focal", aliases=["Focal"])
    class FocalLoss(torch.nn.Module):
        """Focal loss.

        More text.
        """

    assert reg.get("focal") is FocalLoss
    assert reg.get("Focal") is FocalLoss
    entry = reg.entry("focal")
    assert entry.name == "focal"
    assert entry.group == "loss"
    assert entry.aliases == ("Focal",)
    assert entry.doc == "Focal loss."
    assert entry.origin.endswith("FocalLoss")
    assert entry.registered_at.startswith(__file__)
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.name = "other"  # type: ignore[misc]


def test_register_bare_decorator_and_keyword_name_and_call() -> None:
    reg = make()

    @reg.register()
    class Mine(torch.nn.Module):
        pass

    @reg.register(name="other")
    class Other(torch.nn.Module):
        pass

    returned = reg.register(torch.nn.L1Loss, name="l1")
    assert returned is torch.nn.L1Loss
    assert reg.names() == ["Mine", "l1", "other"]
    assert reg.get("other") is Other


def test_register_taken_name_raises_with_origin() -> None:
    reg = make()
    reg.register(torch.nn.L1Loss, name="l1")
    with pytest.raises(RegistryError) as info:
        reg.register(torch.nn.MSELoss, name="l1")
    message = str(info.value)
    assert "loss 'l1' is already registered" in message
    assert "torch.nn.modules.loss.L1Loss" in message
    assert __file__ in message  # where it was registered
    assert "overwrite=True" in message
    assert reg.get("l1") is torch.nn.L1Loss  # unchanged


def test_register_alias_clash_raises_and_overwrite_replaces() -> None:
    reg = make()
    reg.register(torch.nn.L1Loss, name="l1", aliases=["L1"])
    with pytest.raises(RegistryError, match="'L1' is already registered"):
        reg.register(torch.nn.MSELoss, name="mse", aliases=["L1"])
    assert "mse" not in reg
    reg.register(torch.nn.MSELoss, name="l1", overwrite=True)
    assert reg.get("l1") is torch.nn.MSELoss
    assert "L1" not in reg  # the old entry's aliases went with it


@pytest.mark.parametrize("bad", ["", "has space", "a/b", "x=y", "1abc"])
def test_register_rejects_names_that_cannot_be_hydra_options(bad: str) -> None:
    with pytest.raises(RegistryError, match="Invalid loss name"):
        make().register(torch.nn.L1Loss, name=bad)


def test_register_rejects_non_callable() -> None:
    with pytest.raises(RegistryError, match="must be callable"):
        make().register(42, name="answer")  # type: ignore[type-var]


def test_unregister_removes_aliases() -> None:
    reg = make()
    reg.register(torch.nn.L1Loss, name="l1", aliases=["L1"])
    reg.unregister("L1")
    assert "l1" not in reg
    assert "L1" not in reg


# -- lookup ------------------------------------------------------------------------


def test_unknown_name_lists_choices_and_suggests() -> None:
    with pytest.raises(UnknownNameError) as info:
        registry.optimizer.get("adamx")
    err = info.value
    assert isinstance(err, KeyError)
    assert err.suggestion == "adamw"
    text = str(err)
    assert text.startswith("Unknown optimizer 'adamx'. Did you mean 'adamw'?")
    assert "'adam'" in text


def test_suggestion_is_canonical_name_not_alias() -> None:
    with pytest.raises(UnknownNameError) as info:
        registry.loss.get("FocalLos")
    assert info.value.suggestion == "focal"  # the canonical name, not the alias FocalLoss


def test_no_absurd_suggestion_below_cutoff() -> None:
    with pytest.raises(UnknownNameError) as info:
        registry.optimizer.get("banana_split")
    assert info.value.suggestion is None
    assert "Did you mean" not in str(info.value)


def test_few_choices_are_all_listed() -> None:
    reg = make()
    reg.register(torch.nn.L1Loss, name="b")
    reg.register(torch.nn.MSELoss, name="a")
    with pytest.raises(UnknownNameError, match=r"Choices: 'a', 'b'\."):
        reg.get("zzz")


def test_many_choices_show_closest_ten() -> None:
    with pytest.raises(UnknownNameError) as info:
        registry.layer.get("conv2")
    text = str(info.value)
    assert "Closest of" in text
    assert text.count("', '") == 9  # ten names, nine separators
    assert "'conv2d'" in text


def test_never_falls_back_to_a_dotted_path() -> None:
    for path in ["torch.optim.AdamW", "os.system", "builtins.eval"]:
        with pytest.raises(UnknownNameError):
            registry.optimizer.get(path)


def test_non_string_name_is_a_clear_error() -> None:
    with pytest.raises(UnknownNameError, match="must be a string"):
        registry.optimizer.get(3)  # type: ignore[arg-type]


def test_names_pattern_contains_iter_len() -> None:
    opt = registry.optimizer
    assert opt.names("adam*") == ["adam", "adamax", "adamw"]
    assert opt.names() == sorted(opt.names())
    assert list(opt) == opt.names()
    assert len(opt) == len(opt.names())
    assert "AdamW" in opt
    assert "adamw" in opt
    assert 3 not in opt
    assert [e.name for e in opt.entries()] == opt.names()


def test_build_calls_the_target() -> None:
    layer = registry.layer.build("linear", in_features=3, out_features=2)
    assert isinstance(layer, torch.nn.Linear)
    params = [torch.nn.Parameter(torch.zeros(1))]
    opt = registry.optimizer.build("sgd", params, lr=0.5)
    assert isinstance(opt, torch.optim.SGD)
    assert opt.param_groups[0]["lr"] == 0.5


# -- torch catalogue ---------------------------------------------------------------


def _public_subclasses(module: object, base: type) -> set[type]:
    return {
        obj
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and isinstance(obj, type)
        and issubclass(obj, base)
        and obj.__module__.startswith("torch.")
    }


def _registered(reg: Registry[object]) -> set[object]:
    """Every class a config may name: the entries' targets and the classes they accept."""
    targets = {reg.get(name) for name in reg.names()}
    return targets | {t for t in _ALL_TORCH_CLASSES if reg.find(t) is not None}


_ALL_TORCH_CLASSES = [
    obj
    for module in (torch.optim, torch.optim.lr_scheduler, torch.nn)
    for obj in vars(module).values()
    if isinstance(obj, type)
]


def test_every_torch_optimizer_is_registered() -> None:
    expected = _public_subclasses(torch.optim, torch.optim.Optimizer) - {torch.optim.Optimizer}
    assert expected <= _registered(registry.optimizer)
    # pbgml's subclass holds the short name and the class name; torch's class is
    # accepted by the same entry (files that name torch.optim.AdamW stay valid)
    assert registry.optimizer.get("adamw") is pbgml.optim.AdamW
    assert issubclass(pbgml.optim.AdamW, torch.optim.AdamW)
    assert registry.optimizer.entry("adamw").aliases == ("AdamW",)
    assert registry.optimizer.find(torch.optim.AdamW) is registry.optimizer.entry("adamw")


def test_every_torch_scheduler_is_registered() -> None:
    sched = torch.optim.lr_scheduler
    expected = _public_subclasses(sched, sched.LRScheduler) | {sched.ReduceLROnPlateau}
    expected -= {sched.LRScheduler}
    assert expected <= _registered(registry.scheduler)
    assert registry.scheduler.get("ReduceLROnPlateau") is pbgml.optim.ReduceLROnPlateau
    assert registry.scheduler.find(sched.ReduceLROnPlateau).name == "reduce_lr_on_plateau"


def test_every_torch_loss_is_registered_without_suffix() -> None:
    from torch.nn.modules.loss import _Loss

    expected = _public_subclasses(torch.nn, _Loss) - {torch.nn.NLLLoss2d}
    # every torch loss class stays registered (so allowed as a _target_), even where
    # pbgml's subclass took the short name (class weights from YAML lists)
    assert expected <= _registered(registry.loss)
    assert issubclass(registry.loss.get("cross_entropy"), torch.nn.CrossEntropyLoss)
    assert registry.loss.get("mse") is torch.nn.MSELoss
    # no overwrite: torch's classes keep their class names, pbgml's own the short names
    assert registry.loss.get("CrossEntropyLoss") is torch.nn.CrossEntropyLoss
    assert registry.loss.get("BCEWithLogitsLoss") is torch.nn.BCEWithLogitsLoss
    assert registry.loss.get("bce_with_logits") is not torch.nn.BCEWithLogitsLoss


def test_every_torch_layer_is_registered() -> None:
    from torch.nn.modules.loss import _Loss

    skip = {torch.nn.Module, torch.nn.Container, torch.nn.RNNBase, torch.nn.RNNCellBase}
    expected = {
        cls
        for cls in _public_subclasses(torch.nn, torch.nn.Module)
        if not issubclass(cls, _Loss) and cls.__module__.startswith("torch.nn.modules")
    } - skip
    assert expected <= _registered(registry.layer)
    assert registry.layer.resolve("ReLU") == "relu"
    assert registry.layer.resolve("LeakyReLU") == "leaky_relu"
    assert registry.layer.resolve("Conv2d") == "conv2d"


@pytest.mark.parametrize(
    ("cls", "name"),
    [
        ("AdamW", "adamw"),
        ("SGD", "sgd"),
        ("NAdam", "nadam"),
        ("RMSprop", "rmsprop"),
        ("ReduceLROnPlateau", "reduce_lr_on_plateau"),
        ("CosineAnnealingWarmRestarts", "cosine_annealing_warm_restarts"),
        ("BatchNorm2d", "batch_norm2d"),
        ("GRUCell", "gru_cell"),
        ("MultiheadAttention", "multihead_attention"),
        ("SmoothL1", "smooth_l1"),
        ("KLDiv", "kl_div"),
    ],
)
def test_snake_case(cls: str, name: str) -> None:
    assert snake_case(cls) == name


def test_registries_are_filled_lazily() -> None:
    reg: Registry[object] = Registry("demo", loaders=[lambda r: r.register(len, name="length")])
    assert reg._state.loaded is False
    assert "length" in reg
    assert reg._state.loaded is True


def test_every_group_exists() -> None:
    expected = {
        "model",
        "layer",
        "loss",
        "optimizer",
        "scheduler",
        "metric",
        "data",
        "transform",
        "task",
        "trainer",
        "callback",
        "logger",
    }
    assert set(registry.groups()) == expected
    for group in expected:
        assert getattr(pbgml.registry, group) is registry.groups()[group]
        assert registry.groups()[group].group == group


def test_register_signature_matches_spec() -> None:
    params = inspect.signature(Registry.register).parameters
    assert {"name", "aliases", "config", "overwrite"} <= set(params)
    assert params["overwrite"].default is False
