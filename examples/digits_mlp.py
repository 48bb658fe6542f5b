"""Compose a pipeline from typed configs, check it, and train it with ``pbgml.run``.

The DESIGN example: an MLP on scikit-learn's digits, AdamW with its default parameter
groups (no weight decay on biases and norms), a warm-up + cosine schedule stepped
per batch and sized by the run (``total_steps=None``), then a test of the best
checkpoint.

Run: ``python examples/digits_mlp.py [--epochs N] [--out DIR]``  (needs
``pip install pbgml[sklearn]``)
"""

from __future__ import annotations

import argparse

import pbgml
from pbgml.configs import (
    AdamWConf,
    CrossEntropyLossConf,
    DigitsDataConf,
    ExperimentConf,
    MLPConf,
    ModelCheckpointConf,
    ModelSummaryConf,
    TrainerConf,
    WarmupCosineLRConf,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--out", default="outputs")
    args = parser.parse_args()

    cfg = ExperimentConf(
        model=MLPConf(in_features=64, hidden=(256,), out_features=10),
        loss=CrossEntropyLossConf(label_smoothing=0.05),
        optimizer=AdamWConf(lr=1e-2),
        scheduler=WarmupCosineLRConf(warmup_steps=20, interval="step"),  # sized by the run
        data=DigitsDataConf(batch_size=64, test_split=0.5, val_split=0.2),
        trainer=TrainerConf(
            max_epochs=args.epochs, default_root_dir=args.out, enable_progress_bar=False
        ),
        callbacks={
            "checkpoint": ModelCheckpointConf(monitor="val/acc", mode="max"),
            "summary": ModelSummaryConf(),
        },
        name="digits_mlp",
        seed=0,
    )
    pbgml.check(cfg)  # every problem at once, before anything is built
    print(pbgml.to_yaml(cfg))
    result = pbgml.run(cfg)  # seed, build, check shapes, fit, test the best checkpoint
    print(f"best checkpoint: {result.best_checkpoint}")
    print(f"test accuracy: {result.metrics['test/acc']:.3f}")


if __name__ == "__main__":
    main()
