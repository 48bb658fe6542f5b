"""Train an experiment written in YAML: load it, change it, check it, run it.

``digits_experiment.yaml`` (beside this script) is a whole experiment tree whose
parts are named by their registry names (``_target_: adamw``). The script reads it
with :func:`pbgml.load_yaml`, sets the epochs and the output folder from the command
line, checks the whole tree (every problem at once, with its key path) and trains
and tests it with :func:`pbgml.run`.

Run: ``python examples/digits_yaml.py [--epochs N] [--out DIR]``  (needs
``pip install pbgml[sklearn]``)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pbgml

EXPERIMENT = Path(__file__).with_name("digits_experiment.yaml")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", default="outputs")
    args = parser.parse_args()

    cfg = pbgml.load_yaml(EXPERIMENT)
    cfg.trainer.max_epochs = args.epochs
    cfg.trainer.default_root_dir = args.out
    cfg.scheduler.T_max = args.epochs
    pbgml.check(cfg)  # raises pbgml.ConfigError listing every problem
    result = pbgml.run(cfg)
    print(f"run folder: {result.run_dir}")
    print(f"test accuracy: {result.metrics['test/acc']:.3f}")


if __name__ == "__main__":
    main()
