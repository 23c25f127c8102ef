"""Drift as text for people (one line per path) and as JSON for machines."""
from __future__ import annotations

import json
from typing import Any

from reconciler.model import Drift

_COLORS = {"changed": "\033[33m", "added": "\033[32m", "removed": "\033[31m"}
_RESET = "\033[0m"


def _value(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def render_text(drift: Drift, *, color: bool = False) -> str:
    """`~ path: live -> desired`, `+ path: desired` (only in git), `- path: live` (only in AWS)."""
    lines = []
    for change in drift.changes:
        if change.kind == "added":
            line = f"+ {change.path}: {_value(change.desired)}"
        elif change.kind == "removed":
            line = f"- {change.path}: {_value(change.live)}"
        else:
            line = f"~ {change.path}: {_value(change.live)} -> {_value(change.desired)}"
        lines.append(f"{_COLORS[change.kind]}{line}{_RESET}" if color else line)
    return "\n".join(lines)


def render_json(drift: Drift) -> list[dict[str, Any]]:
    return [change.to_json() for change in drift.changes]
