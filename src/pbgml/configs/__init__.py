"""Typed structured configs for the flagship components.

Each class is a plain :func:`~dataclasses.dataclass` whose fields carry the target's
parameters with their types and defaults, so mypy and the IDE check and complete
them; a hidden ``_target_`` (and ``_partial_``) field makes it a Hydra structured
config. Keyword-only: ``AdamWConf(lr=3e-3)``.

Components without a hand-written class get one generated from their signature:
``pbgml.configs.config_for("optimizer", "radam")``.

Examples
--------
>>> from omegaconf import OmegaConf
>>> from pbgml.configs import AdamWConf
>>> print(OmegaConf.to_yaml(AdamWConf(lr=3e-3)), end="")
_target_: pbgml.optim.AdamW
_partial_: true
lr: 0.003
betas:
- 0.9
- 0.999
eps: 1.0e-08
weight_decay: 0.01
amsgrad: false
maximize: false
foreach: null
fused: null
param_groups:
  no_decay:
  - bias
  - norm
  lr_mult: {}
  freeze: []
"""

from __future__ import annotations

from pbgml._config._generate import config_from_signature
from pbgml.configs import _components, _core, _data, _experiment, _nn, _train
from pbgml.configs._components import *  # noqa: F403
from pbgml.configs._core import *  # noqa: F403
from pbgml.configs._data import *  # noqa: F403
from pbgml.configs._experiment import *  # noqa: F403
from pbgml.configs._index import typed_config_for
from pbgml.configs._lookup import config_for
from pbgml.configs._nn import *  # noqa: F403
from pbgml.configs._train import *  # noqa: F403

__all__ = ["config_for", "config_from_signature", "typed_config_for"]
__all__ += _core.__all__
__all__ += _nn.__all__
__all__ += _components.__all__
__all__ += _data.__all__
__all__ += _train.__all__
__all__ += _experiment.__all__
