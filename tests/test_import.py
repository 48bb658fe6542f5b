"""`import pbgml` is light: no Hydra stack, no registry filled, until used."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _probe(code: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


def test_import_does_not_load_hydra_or_fill_registries() -> None:
    result = _probe(
        "import sys, json, pbgml\n"
        "heavy = sorted(m for m in ('hydra', 'omegaconf', 'hydra_zen') if m in sys.modules)\n"
        "print(json.dumps({'heavy': heavy,"
        " 'loaded': pbgml.registry.optimizer._state.loaded}))"
    )
    assert result == {"heavy": [], "loaded": False}


def test_listing_optimizers_does_not_load_hydra() -> None:
    result = _probe(
        "import sys, json, pbgml\n"
        "names = pbgml.registry.optimizer.names()\n"
        "heavy = sorted(m for m in ('hydra', 'omegaconf', 'hydra_zen') if m in sys.modules)\n"
        "print(json.dumps({'heavy': heavy, 'n': len(names)}))"
    )
    assert result["heavy"] == []
    assert isinstance(result["n"], int)
    assert result["n"] >= 14


def test_lazy_attributes() -> None:
    import pbgml

    assert pbgml.configs.AdamWConf.__name__ == "AdamWConf"
    assert "configs" in dir(pbgml)
    with pytest.raises(AttributeError, match="nope"):
        pbgml.nope  # type: ignore[attr-defined]  # noqa: B018


def test_components_are_plain_pytorch_without_hydra() -> None:
    result = _probe(
        "import sys, json\n"
        "import pbgml.nn, pbgml.losses, pbgml.optim, pbgml.metrics, pbgml.data\n"
        "heavy = sorted(m for m in ('hydra', 'omegaconf', 'hydra_zen') if m in sys.modules)\n"
        "print(json.dumps({'heavy': heavy}))"
    )
    assert result == {"heavy": []}
