"""Type-level tests, checked by mypy --strict in the test command (never run).

Each expected error carries ``# type: ignore[code]``; with ``warn_unused_ignores`` the
run fails if the error ever disappears, and an ``assert_type`` fails if a type changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from typing_extensions import assert_type

import pbgml
from pbgml import Entry, Registry
from pbgml.configs import (
    AdamWConf,
    CrossEntropyLossConf,
    ExperimentConf,
    ModelConf,
    MSELossConf,
    SGDConf,
    StepLRConf,
    TrainerConf,
    config_for,
)

# -- typed configs -------------------------------------------------------------------
assert_type(AdamWConf().lr, float)
assert_type(AdamWConf().betas, tuple[float, float])
assert_type(TrainerConf().max_epochs, int | None)
assert_type(TrainerConf().gradient_clip_val, float | None)
assert_type(StepLRConf(step_size=3).step_size, int)

AdamWConf(lr="fast")  # type: ignore[arg-type]
TrainerConf(max_epochs="ten")  # type: ignore[arg-type]
SGDConf(lrr=0.1)  # type: ignore[call-arg]
SGDConf(0.1)  # type: ignore[call-arg]
StepLRConf()  # type: ignore[call-arg]
AdamWConf(_target_="os.system")  # type: ignore[call-arg]

ok = ExperimentConf(model=ModelConf(), data=pbgml.configs.DataConf(), optimizer=SGDConf())
ExperimentConf(model=ModelConf(), data=pbgml.configs.DataConf(), optimizer=MSELossConf())  # type: ignore[arg-type]
ExperimentConf(
    model=ModelConf(),
    data=pbgml.configs.DataConf(),
    loss=CrossEntropyLossConf(),
    trainer=3,  # type: ignore[arg-type]
)
ExperimentConf(data=pbgml.configs.DataConf())  # type: ignore[call-arg]

# -- registry --------------------------------------------------------------------------
assert_type(pbgml.registry.optimizer, Registry[torch.optim.Optimizer])
assert_type(pbgml.registry.optimizer.build("sgd", []), torch.optim.Optimizer)
assert_type(pbgml.registry.loss.get("mse"), Callable[..., torch.nn.Module])
assert_type(pbgml.registry.loss.entry("mse"), Entry[torch.nn.Module])
assert_type(config_for("loss", "mse"), type[Any])
assert_type(pbgml.registry.loss.names(), list[str])


@pbgml.registry.loss.register("typed_focal")
class FocalLoss(torch.nn.Module):
    def __init__(self, gamma: float = 2.0) -> None:
        super().__init__()
        self.gamma = gamma


assert_type(FocalLoss, type[FocalLoss])  # the decorator keeps the class
assert_type(FocalLoss(gamma=1.0).gamma, float)


def square(x: float) -> float:
    return x * x


sq = pbgml.registry.metric.register(square, name="sq")
assert_type(sq(2.0), float)
sq("two")  # type: ignore[arg-type]
pbgml.registry.metric.register(3, name="three")  # type: ignore[call-overload]
pbgml.registry.loss.register("x", aliases=[1])  # type: ignore[list-item]

# -- component configs ------------------------------------------------------------------
from pbgml.configs import DigitsDataConf, LeNetConf, MLPConf, WarmupCosineLRConf  # noqa: E402

assert_type(MLPConf(in_features=64, out_features=10).hidden, tuple[int, ...])
MLPConf(in_features="64", out_features=10)  # type: ignore[arg-type]
MLPConf(out_features=10)  # type: ignore[call-arg]
LeNetConf(num_classes=10.5)  # type: ignore[arg-type]
DigitsDataConf(batch_size="64")  # type: ignore[arg-type]
WarmupCosineLRConf(total_steps=10)  # type: ignore[call-arg]

design_example = ExperimentConf(
    model=MLPConf(in_features=64, hidden=(128, 128), out_features=10),
    optimizer=AdamWConf(lr=3e-3),
    data=DigitsDataConf(batch_size=64),
    trainer=TrainerConf(max_epochs=20),
)
ExperimentConf(model=DigitsDataConf(), data=DigitsDataConf())  # type: ignore[arg-type]

# -- components: the data factories' loader settings are typed keywords ------------------
from pbgml.configs import TrainerConf as _TrainerConf  # noqa: E402
from pbgml.data import DataModule, cifar10  # noqa: E402
from pbgml.train import Trainer  # noqa: E402

assert_type(cifar10("data", batch_size=4), DataModule)
cifar10("data", batch_size="x")  # type: ignore[arg-type]
cifar10("data", batch_sise=4)  # type: ignore[call-arg]
assert_type(_TrainerConf(val_check_interval=100).val_check_interval, int | float)
Trainer(max_epochs="ten")  # type: ignore[arg-type]
assert_type(pbgml.run(design_example), pbgml.RunResult)
