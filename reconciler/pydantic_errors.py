"""Reasons for pydantic validation errors that never repeat the value (a setting may hold a secret).

The daemon's settings and the `notifications:` section both say what is wrong with the same words.
"""
from __future__ import annotations

from typing import Any

from reconciler.suggest import suggest

_REASONS = {
    "float_parsing": "expected a number", "float_type": "expected a number",
    "int_parsing": "expected a whole number", "int_type": "expected a whole number",
    "int_from_float": "expected a whole number", "string_type": "expected text",
    "tuple_type": "expected a list", "list_type": "expected a list", "frozen_set_type": "expected a list",
    "set_type": "expected a list", "dict_type": "expected a mapping", "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping", "missing": "required", "too_short": "must not be empty",
}


def reason(error: Any, known: list[str] | None = None) -> str:
    """What is wrong in one pydantic error (`ValidationError.errors()` item), without its input.

    `known`: the keys valid where an unknown key was found, for a did-you-mean.
    """
    kind = error["type"]
    if kind == "value_error":  # our own validators' texts, written without the value
        return str(error["ctx"]["error"])
    if kind == "literal_error":
        return f"must be one of {error['ctx']['expected']}"
    if kind == "extra_forbidden":
        return f"unknown key{suggest(str(error['loc'][-1]), known or [])}"
    return _REASONS.get(kind, "invalid value")
