"""Cold start: what the first check and the first instantiate cost in a fresh process.

Budgets (the re-layer issue), with every extra installed (torchmetrics among them):

- the first ``pbgml.check`` of the README's config costs at most +100 ms of CPU over
  building that config (child CPU time of fresh processes, user + system);
- the peak memory of ``pbgml.instantiate`` stays within 1.05x of building the same
  objects by hand (peak RSS of fresh processes);
- reading a packaged preset: one parse with libyaml's C loader, against the two
  pure-Python parses it took before.

Each round starts one fresh process per arm, in a shuffled order (see ``_timing.py``);
figures are medians with their min-max. Run::

    .venv/bin/python benchmarks/bench_cold_start.py [--rounds 11]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap

from _timing import interleave, paired, report, stats

_BUILD = """
import pbgml
from pbgml.configs import AdamWConf, DigitsDataConf, ExperimentConf, MLPConf, TrainerConf

cfg = ExperimentConf(
    model=MLPConf(in_features=64, hidden=(128, 128), out_features=10),
    optimizer=AdamWConf(lr=3e-3),
    data=DigitsDataConf(batch_size=64),
    trainer=TrainerConf(max_epochs=20),
)
"""
_CHECK = _BUILD + "pbgml.check(cfg)\n"
_INSTANTIATE = _BUILD + "parts = pbgml.instantiate(cfg)\nparts['optimizer'](parts['model'])\n"
_BY_HAND = """
import pbgml, torch
from pbgml.data import digits
from pbgml.nn import MLP
from pbgml.configs import AdamWConf, DigitsDataConf, ExperimentConf, MLPConf, TrainerConf

cfg = ExperimentConf(
    model=MLPConf(in_features=64, hidden=(128, 128), out_features=10),
    optimizer=AdamWConf(lr=3e-3),
    data=DigitsDataConf(batch_size=64),
    trainer=TrainerConf(max_epochs=20),
)
model = MLP(in_features=64, hidden=(128, 128), out_features=10)
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
loss = torch.nn.CrossEntropyLoss()
data = digits(batch_size=64)
"""

_MEASURE = """
import resource, time, json
start = time.process_time()
{body}
cpu = time.process_time() - start
print(json.dumps({{"cpu": cpu, "rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))
"""


def _fresh(body: str, key: str) -> float:
    script = textwrap.dedent(_MEASURE).format(body=textwrap.dedent(body))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
    )
    value: float = json.loads(done.stdout.strip().splitlines()[-1])[key]
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11)
    args = parser.parse_args()
    ok = True

    print("first check of the README config (CPU time of a fresh process, ms)")
    cpu = interleave(
        {
            "build": lambda: _fresh(_BUILD, "cpu"),
            "build + check": lambda: _fresh(_CHECK, "cpu"),
        },
        args.rounds,
        warmup=1,
    )
    report("build the config", stats(cpu["build"]).scaled(1e3), " ms", digits=1)
    report("build + check", stats(cpu["build + check"]).scaled(1e3), " ms", digits=1)
    extra = paired(cpu["build + check"], cpu["build"], lambda a, b: (a - b) * 1e3)
    ok &= report("extra CPU of the first check", extra, " ms", budget=100.0, digits=1)

    print("\npeak memory: instantiate vs the same objects by hand (fresh processes, MiB)")
    rss = interleave(
        {
            "by hand": lambda: _fresh(_BY_HAND, "rss_kib"),
            "instantiate": lambda: _fresh(_INSTANTIATE, "rss_kib"),
        },
        args.rounds,
        warmup=1,
    )
    report("by hand", stats(rss["by hand"]).scaled(1 / 1024), " MiB", digits=1)
    report("pbgml.instantiate", stats(rss["instantiate"]).scaled(1 / 1024), " MiB", digits=1)
    ratio = paired(rss["instantiate"], rss["by hand"], lambda a, b: a / b)
    ok &= report("peak memory ratio", ratio, "x", budget=1.05)

    print("\nreading the digits_mlp preset (in process, ms per read)")
    import yaml
    from omegaconf import OmegaConf

    from pbgml._config._tree import read_tree
    from pbgml.hydra import presets

    path = presets()["digits_mlp"]
    text = path.read_text(encoding="utf-8")

    def two_pure_python_parses() -> None:  # what reading a YAML file did before
        yaml.compose(text, Loader=yaml.SafeLoader)
        OmegaConf.to_container(OmegaConf.create(text), resolve=True)

    def one_parse() -> None:
        read_tree(path)

    reads = interleave(
        {"pbgml read_tree": one_parse, "before": two_pure_python_parses},
        args.rounds * 20,
        warmup=3,
    )
    report("read_tree (one libyaml parse)", stats(reads["pbgml read_tree"]).scaled(1e3), " ms")
    report("before (two pure-Python parses)", stats(reads["before"]).scaled(1e3), " ms")
    speedup = paired(reads["before"], reads["pbgml read_tree"], lambda a, b: a / b)
    report("speed-up", speedup, "x", digits=1)
    print("\nall within budget" if ok else "\nOVER BUDGET")


if __name__ == "__main__":
    main()
