"""pytest fixtures: `sandbox` (fresh, seeded with the example world) and `sandbox_factory`."""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.sandbox.server import Sandbox

EXAMPLE_SEED = Path(__file__).resolve().parents[2] / "deploy-manifests" / "examples" / "sandbox-seed.yaml"
TEST_SPEED = 600.0  # a 2-task rolling deploy takes 30 sandbox seconds: 0.05 s real


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., Sandbox]]:
    """Call with Sandbox kwargs; the sandbox is closed at test end (one at a time per process)."""
    with contextlib.ExitStack() as stack:
        def make(**kwargs: Any) -> Sandbox:
            kwargs.setdefault("speed", TEST_SPEED)
            return stack.enter_context(Sandbox(**kwargs))

        yield make


@pytest.fixture
def sandbox(sandbox_factory: Callable[..., Sandbox]) -> Sandbox:
    """A fresh sandbox seeded with deploy-manifests/examples/sandbox-seed.yaml."""
    return sandbox_factory(seed=EXAMPLE_SEED)
