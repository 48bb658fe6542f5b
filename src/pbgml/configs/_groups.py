"""The base config class of each group (the config layer's half of the table of groups)."""

from __future__ import annotations

from pbgml.configs._core import (
    CallbackConf,
    ComponentConf,
    DataConf,
    LayerConf,
    LoggerConf,
    LossConf,
    MetricConf,
    ModelConf,
    OptimizerConf,
    SchedulerConf,
    TaskConf,
    TrainerConf,
)
from pbgml.configs._data import TransformConf

__all__ = ["BASES"]

#: Group name (a row of :data:`pbgml._groups.GROUPS`) -> the base class of its typed configs.
BASES: dict[str, type[ComponentConf]] = {
    "layer": LayerConf,
    "model": ModelConf,
    "loss": LossConf,
    "optimizer": OptimizerConf,
    "scheduler": SchedulerConf,
    "metric": MetricConf,
    "data": DataConf,
    "transform": TransformConf,
    "task": TaskConf,
    "trainer": TrainerConf,
    "callback": CallbackConf,
    "logger": LoggerConf,
}
