"""The value rules torch's optimizers enforce in their constructors, for ``check`` to reuse."""

from __future__ import annotations

import math
from collections.abc import Callable

from pbgml.optim._param_groups import OptimConfigError

__all__ = ["OPTIMIZER_RULES"]


def _non_negative(name: str) -> Callable[[object], None]:
    def rule(value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return  # the type check reports it
        if math.isnan(value) or value < 0:
            raise OptimConfigError(f"expected a number >= 0, got {value!r}", param=name)

    return rule


def _betas(value: object) -> None:
    if not isinstance(value, list | tuple) or len(value) != 2:
        return
    for i, beta in enumerate(value):
        if isinstance(beta, int | float) and not isinstance(beta, bool) and not 0 <= beta < 1:
            raise OptimConfigError(
                f"expected two numbers in [0, 1), got {list(value)!r}",
                param="betas",
                at=f"betas[{i}]",
            )


#: Rules of every optimizer's common arguments (torch refuses the same values when the
#: optimizer is built, "Invalid learning rate: -0.1"; ``check`` says it first).
OPTIMIZER_RULES: dict[str, Callable[[object], None]] = {
    "lr": _non_negative("lr"),
    "weight_decay": _non_negative("weight_decay"),
    "momentum": _non_negative("momentum"),
    "eps": _non_negative("eps"),
    "betas": _betas,
}
