"""The value rules the Trainer enforces on its settings, for :func:`pbgml.check` to apply first.

``pbgml.check`` applies them to a config's literal values before anything is built, so
``trainer.precision: '16'`` is reported with every other problem, before the data is
loaded. The Trainer refuses the same values when it is built (the integer and fraction
checks are the very functions it calls).
"""

from __future__ import annotations

from collections.abc import Callable

from pbgml._errors import did_you_mean
from pbgml.train import _distributed, _helpers, _strategy
from pbgml.train._errors import TrainerError
from pbgml.train._helpers import _check_fraction_or_count, _check_int

__all__ = ["TRAINER_RULES"]


def _int(name: str, minimum: int, *, none: bool = False) -> Callable[[object], None]:
    def rule(value: object) -> None:
        _check_int(name, value, minimum, none=none)

    return rule


def _fraction(name: str, *, zero: bool = True) -> Callable[[object], None]:
    def rule(value: object) -> None:
        _check_fraction_or_count(name, value, zero=zero)

    return rule


def _choice(name: str, choices: Callable[[], tuple[object, ...]]) -> Callable[[object], None]:
    def rule(value: object) -> None:
        allowed = choices()
        if value not in allowed:
            shown = ", ".join(repr(c) for c in allowed)
            hint = did_you_mean(str(value), [str(c) for c in allowed if c is not None])
            raise TrainerError(f"{name}={value!r} is not one of {shown}.{hint}", param=name)

    return rule


def _precision(value: object) -> None:
    text = str(value)
    if text in _helpers.PRECISIONS:
        return
    choices = sorted(_helpers.PRECISIONS)
    near = [c for c in choices if c.startswith(f"{text}-")] or [
        c for c in choices if c.replace("-", "") == text.replace("-", "")
    ]
    hint = f" Did you mean {near[0]!r}?" if near else did_you_mean(text, choices)
    shown = ", ".join(repr(c) for c in choices)
    raise TrainerError(f"precision={value!r} is not one of {shown}.{hint}", param="precision")


def _clip_value(value: object) -> None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float) or not value > 0
    ):
        raise TrainerError(
            f"gradient_clip_val={value!r} must be a number > 0 or None", param="gradient_clip_val"
        )


#: Rules of the Trainer's settings, by argument name.
TRAINER_RULES: dict[str, Callable[[object], None]] = {
    "max_epochs": _int("max_epochs", -1, none=True),
    "min_epochs": _int("min_epochs", 0),
    "max_steps": _int("max_steps", -1, none=True),
    "accumulate_grad_batches": _int("accumulate_grad_batches", 1),
    "check_val_every_n_epoch": _int("check_val_every_n_epoch", 1, none=True),
    "num_sanity_val_steps": _int("num_sanity_val_steps", -1),
    "log_every_n_steps": _int("log_every_n_steps", 1),
    "val_check_interval": _fraction("val_check_interval", zero=False),
    "limit_train_batches": _fraction("limit_train_batches"),
    "limit_val_batches": _fraction("limit_val_batches"),
    "limit_test_batches": _fraction("limit_test_batches"),
    "precision": _precision,
    "accelerator": _choice("accelerator", lambda: tuple(_distributed.ACCELERATORS)),
    "gradient_clip_val": _clip_value,
    "gradient_clip_algorithm": _choice(
        "gradient_clip_algorithm", lambda: _helpers._CLIP_ALGORITHMS
    ),
    "compile_mode": _choice("compile_mode", lambda: _helpers._COMPILE_MODES),
    "strategy": _choice("strategy", lambda: tuple(_strategy.STRATEGIES)),
}
