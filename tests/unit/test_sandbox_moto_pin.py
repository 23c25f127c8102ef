"""The sandbox refuses to start on a moto it was not written against, instead of misbehaving quietly."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import moto
import pytest

from reconciler.sandbox import Sandbox, moto_compat
from reconciler.sandbox.moto_compat import EXPECTED_MOTO, MotoIncompatible, check_moto

ROOT = Path(__file__).resolve().parents[2]


def test_installed_and_pinned_moto_are_the_one_the_layer_expects() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    pins = [re.split(r"==", d, maxsplit=1)[1] for deps in extras.values() for d in deps if d.startswith("moto")]
    assert pins and set(pins) == {EXPECTED_MOTO}
    assert moto.__version__ == EXPECTED_MOTO
    check_moto()  # every patched internal is present


def test_other_moto_version_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moto, "__version__", "9.9.9")
    with pytest.raises(MotoIncompatible, match=f"moto=={EXPECTED_MOTO}, found 9.9.9"):
        check_moto()
    with pytest.raises(MotoIncompatible):
        Sandbox().__enter__()


def test_vanished_internal_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moto_compat, "REQUIRED",
                        (*moto_compat.REQUIRED, ("moto.ecs.models", "EC2ContainerServiceBackend.no_such_method")))
    with pytest.raises(MotoIncompatible, match="no_such_method is gone"):
        check_moto()
