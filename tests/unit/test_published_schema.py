"""The schema files editors load (via yaml-language-server hints) must match `reconciler schema`."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.manifests import schema

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "deploy-manifests" / "examples" / ".schema"


@pytest.mark.parametrize("definition", ["environment", "service"])
def test_published_schema_is_current(definition):
    published = json.loads((SCHEMA_DIR / f"{definition}.json").read_text())
    assert published == schema(definition), (
        f"regenerate with: reconciler schema --def {definition} > {SCHEMA_DIR / (definition + '.json')}")
