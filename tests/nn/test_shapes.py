from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from pbgml import (
    PbgmlError,
    check_input,  # takes configs as well as modules
)
from pbgml.configs import LeNetConf, MLPConf
from pbgml.nn import MLP, LeNet, ShapeMismatchError, SmallCNN, TransformerClassifier


def test_matching_shapes_return_the_output_shape() -> None:
    assert check_input(LeNet(), (3, 32, 32)) == (10,)
    assert check_input(LeNet(in_channels=1, input_size=28), torch.Size([1, 28, 28])) == (10,)
    assert check_input(MLP(3072, 10), (3, 32, 32)) == (10,)


def test_lenet_for_cifar_on_mnist_names_both_fields() -> None:
    with pytest.raises(ShapeMismatchError) as info:
        check_input(LeNetConf(), (1, 28, 28), model_key="experiment.model", data_key="mnist")
    err = info.value
    assert isinstance(err, PbgmlError)
    assert isinstance(err, ValueError)
    assert err.problems == (
        "experiment.model.in_channels=3 but mnist yields samples of shape 1x28x28 (1 channel); "
        "set experiment.model.in_channels=1",
        "experiment.model.input_size=32 but mnist yields samples of shape 1x28x28 "
        "(28x28 pixels); set experiment.model.input_size=28",
    )
    assert str(err).startswith("experiment.model does not fit mnist: experiment.model.in_ch")
    assert "(the forward pass failed with RuntimeError" in str(err)
    assert err.sample_shape == (1, 28, 28)
    assert (err.model_key, err.data_key) == ("experiment.model", "mnist")


def test_lenet_for_mnist_on_cifar_names_the_size_too() -> None:
    with pytest.raises(ShapeMismatchError) as info:
        check_input(LeNet(in_channels=3, input_size=28), (3, 32, 32))
    assert info.value.problems == (
        "model.input_size=28 but data yields samples of shape 3x32x32 (32x32 pixels); "
        "set model.input_size=32",
    )


def test_mlp_on_cifar_samples() -> None:
    with pytest.raises(ShapeMismatchError) as info:
        check_input(MLPConf(in_features=64, out_features=10), (3, 32, 32))
    assert str(info.value).splitlines()[0] == (
        "model does not fit data: model.in_features=64 but data yields samples of shape "
        "3x32x32 (3072 values once flattened); set model.in_features=3072."
    )


_FLATTENED_32 = (
    "model.in_features=32 but data yields samples of shape 3x32x32 "
    "(3072 values once flattened); set model.in_features=3072"
)


@pytest.mark.parametrize(
    "model",
    [
        MLP(in_features=32, out_features=10, flatten=True),
        MLPConf(in_features=32, out_features=10),
        {"_target_": "pbgml.nn.MLP", "in_features": 32, "out_features": 10, "flatten": True},
    ],
    ids=["module", "dataclass", "dict"],
)
def test_in_features_equal_to_the_last_dimension_is_wrong_when_flattening(model: object) -> None:
    # 32 == shape[-1] used to exempt in_features even though the MLP flattens to 3072
    with pytest.raises(ShapeMismatchError) as info:
        check_input(model, (3, 32, 32))
    assert info.value.problems == (_FLATTENED_32,)
    assert str(info.value).splitlines()[0] == f"model does not fit data: {_FLATTENED_32}."


def test_without_flatten_in_features_is_the_last_dimension() -> None:
    assert check_input(MLP(in_features=32, out_features=10, flatten=False), (3, 32, 32)) == (
        3,
        32,
        10,
    )
    expected = (
        "model.in_features=64 but data yields samples of shape 3x32x32 "
        "(32 features in the last dimension); set model.in_features=32",
    )
    for model in (
        MLP(in_features=64, out_features=10, flatten=False),
        MLPConf(in_features=64, out_features=10, flatten=False),
    ):
        with pytest.raises(ShapeMismatchError) as info:
            check_input(model, (3, 32, 32))
        assert info.value.problems == expected
    # a flattening MLP given 3072 values is wrong once flatten is off
    with pytest.raises(ShapeMismatchError) as info:
        check_input(MLPConf(in_features=3072, out_features=10, flatten=False), (3, 32, 32))
    assert info.value.problems[0].endswith("set model.in_features=32")


def test_a_leading_flatten_layer_counts_as_flattening() -> None:
    module = nn.Sequential(nn.Flatten(), nn.Linear(32, 2))
    cfg = {"in_features": 32}
    with pytest.raises(ShapeMismatchError) as info:
        check_input(module, (3, 32, 32), model_cfg=cfg)
    assert info.value.problems == (_FLATTENED_32,)


def test_model_cfg_is_read_for_a_built_module() -> None:
    cfg = OmegaConf.create({"_target_": "pbgml.nn.MLP", "in_features": 64, "out_features": 2})
    module = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))  # knows nothing of in_features
    with pytest.raises(ShapeMismatchError, match=r"model\.in_features=64 but data"):
        check_input(module, (3, 4, 4), model_cfg=cfg)
    with pytest.raises(ShapeMismatchError, match=r"model \(Sequential\) fails on a batch"):
        check_input(module, (3, 4, 4))


def test_missing_values_in_model_cfg_are_ignored() -> None:
    cfg = OmegaConf.structured(MLPConf)  # in_features is ??? (MISSING)
    module = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    with pytest.raises(ShapeMismatchError) as info:
        check_input(module, (3, 32, 32), model_cfg=cfg)
    assert info.value.problems == ()


def test_module_attributes_stand_in_for_a_config() -> None:
    with pytest.raises(ShapeMismatchError) as info:
        check_input(MLP(64, 2), (3, 32, 32))
    assert info.value.problems[0].startswith("model.in_features=64 but data yields")


def test_no_field_explains_the_failure() -> None:
    with pytest.raises(ShapeMismatchError) as info:
        check_input(SmallCNN(widths=(4, 4, 4)), (3, 4, 4))
    assert info.value.problems == ()
    message = str(info.value)
    assert message.startswith("model does not fit data: model (SmallCNN) fails on a batch")
    assert "Output size is too small" in message


def test_token_models_get_long_inputs_and_max_len_is_checked() -> None:
    model = TransformerClassifier(100, 3, d_model=8, nhead=2, max_len=16)
    assert check_input(model, (16,)) == (3,)
    with pytest.raises(ShapeMismatchError) as info:
        check_input(model, (20,))
    assert info.value.problems == (
        "model.max_len=16 but data yields samples of shape 20 (20 tokens); "
        "set model.max_len=20 or truncate the sequences",
    )


def test_meta_device_limits_are_not_called_shape_mismatches() -> None:
    class ReadsValues(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x[torch.nonzero(x >= 0, as_tuple=True)]

    # no meta kernel for nonzero: the check asks the real module instead (one zero batch)
    assert check_input(ReadsValues(), (3,)) == ()


class _ReadsValues(nn.Module):
    """A forward the meta device cannot run (it reads a value), as many models do."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.abs().max() > 100:
            x = x / 100
        out: torch.Tensor = self.lin(x)
        return out


def test_a_model_meta_cannot_run_is_checked_on_its_real_weights() -> None:
    model = _ReadsValues()
    model.train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    assert check_input(model, (8,)) == (3,)
    assert model.training  # mode restored
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    with pytest.raises(ShapeMismatchError):
        check_input(model, (9,))  # the real forward fails too: a real mismatch
