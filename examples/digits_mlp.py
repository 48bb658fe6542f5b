"""Compose a pipeline from typed configs, check it, build it, and train it by hand.

The DESIGN example with today's pieces: an MLP on scikit-learn's digits, AdamW with
its default parameter groups, a warm-up + cosine schedule stepped per batch. (The
Trainer that will replace the loop below is a later milestone.)

Run: ``python examples/digits_mlp.py [--epochs N]``  (needs ``pip install pbgml[sklearn]``)
"""

from __future__ import annotations

import argparse

import torch

import pbgml
from pbgml.configs import (
    AdamWConf,
    CrossEntropyLossConf,
    DigitsDataConf,
    ExperimentConf,
    MLPConf,
    TrainerConf,
    WarmupCosineLRConf,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()

    cfg = ExperimentConf(
        model=MLPConf(in_features=64, hidden=(256,), out_features=10),
        loss=CrossEntropyLossConf(label_smoothing=0.05),
        optimizer=AdamWConf(lr=1e-2),
        scheduler=WarmupCosineLRConf(warmup_steps=20, total_steps=args.epochs * 23),
        data=DigitsDataConf(batch_size=64, test_split=0.5, val_split=None),
        trainer=TrainerConf(max_epochs=args.epochs),
        seed=0,
    )
    pbgml.check(cfg)  # every problem at once, before anything is built
    print(pbgml.to_yaml(cfg))

    torch.manual_seed(cfg.seed or 0)
    parts = pbgml.instantiate(cfg)
    model, loss_fn, data = parts["model"], parts["loss"], parts["data"]
    print(pbgml.summary(model, data.sample_shape))
    optimizer = parts["optimizer"](model)  # parameter groups: no decay on biases
    schedule = parts["scheduler"](optimizer)

    for epoch in range(cfg.trainer.max_epochs):
        data.set_epoch(epoch)
        model.train()
        for x, y in data.train_dataloader():
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            if schedule.interval == "step":
                schedule.step()  # honours the scheduler's frequency
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in data.test_dataloader():
            correct += int((model(x).argmax(dim=1) == y).sum())
            total += len(y)
    print(f"test accuracy: {correct / total:.3f} on {total} samples")


if __name__ == "__main__":
    main()
