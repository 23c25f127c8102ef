"""Generic helpers that turn AWS JSON into one comparable shape.

Lists of named things become dicts keyed by their name, so that DeepDiff
compares them as sets and reports a path like `environment/LOG_LEVEL` instead
of a list index; empty values are dropped because AWS returns `[]`/`{}` for
most fields a user leaves out (aws-behaviour.md §1, aws-cli register example).
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

JSONDict = dict[str, Any]
#: Key of a list entry that has no name (no `name`, `containerPort`, ...): readable in a diff
#: path (`environment/(unnamed)`), never Python's `None` nor an empty segment.
UNNAMED = "(unnamed)"


def prune(value: Any) -> Any:
    """Drop None, empty lists and empty dicts recursively (AWS echoes `[]` for omitted lists)."""
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            item = prune(item)
            if item is None or item == [] or item == {}:
                continue
            out[str(key)] = item
        return out
    if isinstance(value, (list, tuple)):
        return [p for p in (prune(v) for v in value) if p is not None]
    return value


def keyed(items: Iterable[Any], key: Callable[[Mapping[str, Any]], str],
          value: Callable[[Mapping[str, Any]], Any] | None = None) -> JSONDict:
    """A list of objects as a dict keyed by `key(item)`; duplicate keys get `#2`, `#3`...

    Duplicates are kept (never collapsed) so a duplicated entry still shows as drift.
    An entry whose key is None or "" is keyed `UNNAMED`, so paths stay readable.
    """
    out: JSONDict = {}
    for item in sorted_set(items):  # sorted so duplicates get the same suffix whatever the order
        if not isinstance(item, Mapping):
            item = {"value": item}
        raw = key(item)
        base = UNNAMED if raw is None or str(raw).strip() == "" else str(raw)
        name, n = base, 1
        while name in out:
            n += 1
            name = f"{base}#{n}"
        out[name] = value(item) if value else dict(item)
    return out


def sorted_set(items: Iterable[Any]) -> list[Any]:
    """An order-insensitive list in a stable order (by its JSON text)."""
    return sorted(items or (), key=lambda v: json.dumps(v, sort_keys=True, default=str))


def as_int(value: Any) -> Any:
    """Numeric strings as the integers AWS stores for integer fields; anything else unchanged."""
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def as_bool(value: Any) -> Any:
    """YAML/JSON spellings of booleans ("true") as bools; anything else unchanged."""
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def set_default(obj: JSONDict, key: str, default: Any) -> None:
    """Fill an AWS default where the field is absent (None counts as absent)."""
    if obj.get(key) is None:
        obj[key] = default


def drop_if(obj: JSONDict, key: str, default: Any) -> None:
    """Remove a field whose value is AWS's default, so absent == default on both sides."""
    if key in obj and obj[key] == default:
        del obj[key]


def coerce(obj: JSONDict, keys: Iterable[str], fn: Callable[[Any], Any]) -> None:
    for key in keys:
        if key in obj:
            obj[key] = fn(obj[key])


def nested(obj: JSONDict, key: str, fn: Callable[[JSONDict], JSONDict]) -> None:
    """Apply `fn` to a copy of the sub-object `obj[key]`, when there is one."""
    if isinstance(obj.get(key), Mapping):
        obj[key] = fn(dict(obj[key]))
