"""Typed configs: mypy (``--strict``, ``warn_unused_ignores``) proves each error below."""

from pbgml.configs import AdamWConf, TrainerConf

AdamWConf(lr=3e-3)  # fine
AdamWConf(lr="fast")  # type: ignore[arg-type]  # mypy: Argument "lr" has incompatible type "str"
TrainerConf(max_epochs="ten")  # type: ignore[arg-type]  # mypy: incompatible type "str"; expected "int"
