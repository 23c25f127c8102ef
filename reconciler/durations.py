"""The one duration parser: manifests (`gitops.waitTimeout`), the CLI (`--timeout`) and the daemon settings.

Accepted: plain seconds (`1800`, `0.5`, as a number or a string) or a number with units in the order
h, m, s (`90s`, `30m`, `1h30m`, `1.5h`, `1h 30m 15s`). Refused: anything else, negative values, booleans.
The error text never repeats the value (a setting may hold a secret by mistake); callers prefix where.
"""
from __future__ import annotations

import math
import re

_NUMBER = r"\d+(?:\.\d+)?"
_PLAIN = re.compile(rf"^\s*({_NUMBER})\s*$")
_UNITS = re.compile(rf"^\s*(?:({_NUMBER})h)?\s*(?:({_NUMBER})m)?\s*(?:({_NUMBER})s)?\s*$")

#: The one error text for a value that is not a duration.
DURATION_ERROR = "not a duration: use seconds (1800) or a number with h, m, s units (90s, 30m, 1h30m, 1.5h)"


class DurationError(ValueError):
    def __init__(self) -> None:
        super().__init__(DURATION_ERROR)


def parse_duration(value: object) -> float:
    """Seconds from `value`; raises DurationError."""
    if isinstance(value, bool) or value is None:
        raise DurationError()
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or value < 0:
            raise DurationError()
        return float(value)
    text = str(value)
    plain = _PLAIN.match(text)
    if plain:
        return float(plain.group(1))
    match = _UNITS.match(text)
    if not match or not any(match.groups()):
        raise DurationError()
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def format_duration(seconds: float) -> str:
    """The shortest spelling parse_duration reads back: 1800 -> `30m`, 90 -> `1m30s`, 0.5 -> `0.5s`."""
    if seconds != int(seconds):
        return f"{seconds:g}s"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = "".join(f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if n)
    return text or "0s"
