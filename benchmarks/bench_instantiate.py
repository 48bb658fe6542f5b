"""Framework cost of building a pipeline from config: pbgml vs Hydra vs hydra-zen.

The tree: an MLP model, an AdamW partial, a cosine-annealing scheduler partial, a
cross-entropy loss and a synthetic data config. Each framework builds the same tree,
given as the same ``DictConfig``; the time to construct the same objects directly
(plain Python calls) is measured in the same run and subtracted, which leaves each
framework's own cost. pbgml's time includes its full check.

Budget (issue: config safety): pbgml's framework cost is at most half of
``hydra.utils.instantiate``'s on the same tree.

Timing (benchmarks/_timing.py): every round builds the tree once with each arm, in
a shuffled order, so a burst of load on this shared machine falls on every arm
alike; the figures are medians over the rounds, with the min-max beside them. A
framework's cost is its build time minus the direct build of the same round. One
thread: building the small MLP gains nothing from more, and a busy machine makes
extra threads wait for a core (a 10x slower, noisy direct build).

Run: ``python benchmarks/bench_instantiate.py [--rounds N] [--quick]``
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from typing import Any

import torch
from _timing import interleave, ratio_of_medians, report, stats
from omegaconf import OmegaConf

import pbgml


def tree() -> dict[str, Any]:
    return {
        "model": {
            "_target_": "pbgml.nn.MLP",
            "in_features": 64,
            "hidden": [128, 128],
            "out_features": 10,
        },
        "optimizer": {"_target_": "torch.optim.AdamW", "_partial_": True, "lr": 3e-3},
        "scheduler": {
            "_target_": "torch.optim.lr_scheduler.CosineAnnealingLR",
            "_partial_": True,
            "T_max": 100,
        },
        "loss": {"_target_": "torch.nn.CrossEntropyLoss", "label_smoothing": 0.1},
        "data": {
            "_target_": "pbgml.data.synthetic_classification",
            "num_samples": 64,
            "num_features": 64,
            "num_classes": 10,
            "batch_size": 16,
        },
    }


def direct() -> dict[str, Any]:
    from pbgml.data import synthetic_classification
    from pbgml.nn import MLP

    return {
        "model": MLP(in_features=64, hidden=(128, 128), out_features=10),
        "optimizer": functools.partial(torch.optim.AdamW, lr=3e-3),
        "scheduler": functools.partial(torch.optim.lr_scheduler.CosineAnnealingLR, T_max=100),
        "loss": torch.nn.CrossEntropyLoss(label_smoothing=0.1),
        "data": synthetic_classification(
            num_samples=64, num_features=64, num_classes=10, batch_size=16
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=400, help="interleaved rounds")
    parser.add_argument("--quick", action="store_true", help="60 rounds")
    args = parser.parse_args()
    rounds = 60 if args.quick else args.rounds
    import hydra.utils
    import hydra_zen

    torch.set_num_threads(1)  # on a busy machine, intra-op threads wait for a core
    torch.manual_seed(0)
    cfg = OmegaConf.create(tree())
    arms: dict[str, Callable[[], None]] = {
        "direct": lambda: _none(direct()),
        "pbgml.instantiate": lambda: _none(pbgml.instantiate(cfg)),
        "hydra.utils.instantiate": lambda: _none(hydra.utils.instantiate(cfg)),
        "hydra_zen.instantiate": lambda: _none(hydra_zen.instantiate(cfg)),
    }
    # one single build of each arm per round, in a shuffled order: noise hits all alike
    times = interleave(arms, rounds, warmup=3)
    print(f"one build per arm per round, {rounds} rounds; medians (min-max)")
    for name, samples in times.items():
        report(f"{name} build", stats(samples).scaled(1e3), " ms")
    base = times["direct"]

    def cost(name: str) -> list[float]:  # framework cost, round by round
        return [(t - d) * 1e3 for t, d in zip(times[name], base, strict=True)]

    costs = {name: cost(name) for name in arms if name != "direct"}
    for name, samples in costs.items():
        report(f"{name} framework cost", stats(samples), " ms")
    ours = costs["pbgml.instantiate"]
    hydra_ratio = ratio_of_medians(ours, costs["hydra.utils.instantiate"])
    ok = report("pbgml cost / Hydra's", hydra_ratio, "x", 0.5, over="blocks of rounds")
    zen_ratio = ratio_of_medians(ours, costs["hydra_zen.instantiate"])
    report("pbgml cost / hydra-zen's", zen_ratio, "x", over="blocks of rounds")
    return 0 if ok else 1


def _none(_: object) -> None:
    return None


if __name__ == "__main__":
    raise SystemExit(main())
