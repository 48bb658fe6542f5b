"""Train the project's model from Python: ``python -m digits_plus.train [--epochs N]``.

The same experiment as ``conf/experiment/digits_plus.yaml`` (``pbgml train
experiment=digits_plus`` from the project's folder), written with typed configs:
pbgml's own classes for its parts, and the project's components named by the
registry names their entry points give.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field

import pbgml
from pbgml import registry
from pbgml.configs import (
    AdamWConf,
    DigitsDataConf,
    ExperimentConf,
    LossConf,
    ModelCheckpointConf,
    ModelConf,
    TrainerConf,
)


@dataclass(kw_only=True)
class ResidualMLPConf(ModelConf):
    """Typed config of :class:`digits_plus.components.ResidualMLP`."""

    _target_: str = field(default="residual_mlp", init=False, repr=False)
    in_features: int
    num_classes: int
    width: int = 128
    depth: int = 2
    dropout: float = 0.0


@dataclass(kw_only=True)
class Poly1Conf(LossConf):
    """Typed config of :class:`digits_plus.components.Poly1CrossEntropy`."""

    _target_: str = field(default="poly1", init=False, repr=False)
    epsilon: float = 1.0
    label_smoothing: float = 0.0


def experiment(epochs: int = 10, out: str = "outputs") -> ExperimentConf:
    """The project's experiment: a residual MLP with a poly-1 loss on digits."""
    return ExperimentConf(
        model=ResidualMLPConf(in_features=64, num_classes=10, width=128, depth=2),
        loss=Poly1Conf(epsilon=1.0),
        optimizer=AdamWConf(lr=1e-2),
        data=DigitsDataConf(batch_size=64, test_split=0.5, val_split=0.2),
        trainer=TrainerConf(max_epochs=epochs, default_root_dir=out, enable_progress_bar=False),
        callbacks={"model_checkpoint": ModelCheckpointConf(monitor="val/acc", mode="max")},
        name="digits_plus",
        seed=0,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Train and test the experiment; print where the components came from."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", default="outputs")
    args = parser.parse_args(argv)

    result = pbgml.run(experiment(args.epochs, args.out))
    entry = registry.model.entry("residual_mlp")
    print(f"model: {entry.origin} ({entry.registered_at})")
    print(f"run folder: {result.run_dir}")
    print(f"test accuracy: {result.metrics['test/acc']:.3f}")


if __name__ == "__main__":
    main()
