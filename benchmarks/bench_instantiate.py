"""Framework cost of building a pipeline from config: pbgml vs Hydra vs hydra-zen.

The tree: an MLP model, an AdamW partial, a cosine-annealing scheduler partial, a
cross-entropy loss and a synthetic data config. Each framework builds the same tree,
given as the same ``DictConfig``; the time to construct the same objects directly
(plain Python calls) is measured in the same run and subtracted, which leaves each
framework's own cost. pbgml's time includes its full check.

Budget (issue: config safety): pbgml's framework cost is at most half of
``hydra.utils.instantiate``'s on the same tree.

Run: ``python benchmarks/bench_instantiate.py [--repeat N]``
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
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


def _median_ms(fn: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    import hydra.utils
    import hydra_zen

    torch.manual_seed(0)
    cfg = OmegaConf.create(tree())
    runs: dict[str, Callable[[], object]] = {
        "direct": direct,
        "pbgml.instantiate": lambda: pbgml.instantiate(cfg),
        "hydra.utils.instantiate": lambda: hydra.utils.instantiate(cfg),
        "hydra_zen.instantiate": lambda: hydra_zen.instantiate(cfg),
    }
    for fn in runs.values():  # warm caches (imports, signatures, registry index)
        fn()
    times: dict[str, list[float]] = {name: [] for name in runs}
    rounds = 5
    for _ in range(rounds):  # interleave, so machine noise hits every variant alike
        for name, fn in runs.items():
            times[name].append(_median_ms(fn, args.repeat // rounds))
    med = {name: statistics.median(v) for name, v in times.items()}
    base = med["direct"]
    for name, ms in med.items():
        cost = ms - base
        print(f"{name:>24}: {ms:7.3f} ms per build, framework cost {cost:7.3f} ms")
    ours = med["pbgml.instantiate"] - base
    hydra_cost = med["hydra.utils.instantiate"] - base
    ratio = ours / hydra_cost
    print(f"pbgml framework cost / Hydra's = {ratio:.3f} (budget <= 0.5)")
    zen = med["hydra_zen.instantiate"] - base
    print(f"pbgml framework cost / hydra-zen's = {ours / zen:.3f}")
    return 0 if ratio <= 0.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
