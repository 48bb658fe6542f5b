"""Your own components, registered and trained like pbgml's: a model and a loss.

Two decorators put them in pbgml's registries, next to torch's and pbgml's own, so
they are allowed targets (a config names them by registry name), listed by
``pbgml.registry.model.names()`` and the catalogue, and available to YAML configs
and the command line. Each gets a typed config class of its own (a subclass of the
group's base: ``ExperimentConf(model=GatedMLPConf(...))`` is checked by mypy), given
with ``register(..., config=...)``. The data are seeded Gaussian blobs: no download.

Run: ``python examples/custom_component.py [--epochs N] [--out DIR]``
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import torch

import pbgml
from pbgml import registry
from pbgml.configs import (
    AdamWConf,
    ExperimentConf,
    LossConf,
    ModelConf,
    SyntheticClassificationDataConf,
    TrainerConf,
)


@dataclass(kw_only=True)
class GatedMLPConf(ModelConf):
    """Config of :class:`GatedMLP`."""

    _target_: str = field(default="gated_mlp", init=False, repr=False)
    in_features: int
    hidden: int = 64
    num_classes: int = 2


@dataclass(kw_only=True)
class Poly1LossConf(LossConf):
    """Config of :class:`Poly1CrossEntropy`."""

    _target_: str = field(default="poly1_cross_entropy", init=False, repr=False)
    epsilon: float = 1.0


@registry.model.register("gated_mlp", config=GatedMLPConf)
class GatedMLP(torch.nn.Module):
    """One hidden layer whose units are gated by a sigmoid of the input (a GLU)."""

    def __init__(self, in_features: int, hidden: int = 64, num_classes: int = 2) -> None:
        super().__init__()
        self.value = torch.nn.Linear(in_features, hidden)
        self.gate = torch.nn.Linear(in_features, hidden)
        self.head = torch.nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.value(x) * torch.sigmoid(self.gate(x)))
        return out


@registry.loss.register("poly1_cross_entropy", aliases=["Poly1Loss"], config=Poly1LossConf)
class Poly1CrossEntropy(torch.nn.Module):
    """Poly-1 cross-entropy (Leng et al., 2022): ``CE + epsilon * (1 - p_true)``."""

    def __init__(self, epsilon: float = 1.0) -> None:
        super().__init__()
        self.epsilon = epsilon

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        ce = torch.nn.functional.cross_entropy(logits, target, reduction="none")
        p_true = torch.softmax(logits, dim=1).gather(1, target.unsqueeze(1)).squeeze(1)
        return (ce + self.epsilon * (1.0 - p_true)).mean()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--out", default="outputs")
    args = parser.parse_args()

    print("registered:", registry.model.entry("gated_mlp").doc)
    print("registered:", registry.loss.entry("Poly1Loss").name)
    cfg = ExperimentConf(
        model=GatedMLPConf(in_features=16, hidden=32, num_classes=4),
        loss=Poly1LossConf(epsilon=0.5),
        optimizer=AdamWConf(lr=1e-2),
        data=SyntheticClassificationDataConf(
            num_samples=600, num_features=16, num_classes=4, noise=0.5, seed=0
        ),
        trainer=TrainerConf(
            max_epochs=args.epochs, default_root_dir=args.out, enable_progress_bar=False
        ),
        callbacks={},  # no checkpoint: the test runs on the last weights
        name="custom_component",
        seed=0,
    )
    print(pbgml.to_yaml(cfg.loss), end="")
    result = pbgml.run(cfg)
    print(f"test accuracy: {result.metrics['test/acc']:.3f}")


if __name__ == "__main__":
    main()
