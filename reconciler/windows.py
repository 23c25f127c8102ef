"""Sync windows: may automated sync run now? Pure; the clock is passed in.

Argo CD's model (gitops-reconcilers.md §1, Argo CD sync_windows.md): each window opens at
its cron schedule (in its time zone) and stays open for its duration; a window with
`services` applies to those services only.
- an open deny window holds sync (deny wins over allow);
- when allow windows exist, sync runs only while one of them is open;
- `manualSync: true` lets a manual sync (`reconciler sync --override-window`) through:
  during a deny window when every open deny window allows it, outside allow windows when
  one of them allows it.
Cron expressions are croniter's (5 fields, the standard syntax), never our own parser.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from reconciler.model import SyncWindow


@dataclass(frozen=True)
class Verdict:
    blocked: bool
    manual_override: bool = True     # a manual sync may go ahead (with --override-window when blocked)
    reason: str = ""                 # "production frozen until Mon 09:00 JST"
    until: float | None = None       # epoch seconds when it may run again (when known)


OPEN = Verdict(blocked=False)


def schedule_problem(schedule: str) -> str | None:
    if not croniter.is_valid(schedule):
        return f"{schedule!r} is not a cron expression (minute hour day-of-month month day-of-week)"
    return None


def zone_problem(name: str) -> str | None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"{name!r} is not an IANA time zone (e.g. UTC, Europe/Paris, Asia/Tokyo)"
    return None


def _local(now: float, window: SyncWindow) -> dt.datetime:
    return dt.datetime.fromtimestamp(now, ZoneInfo(window.time_zone))


def open_until(window: SyncWindow, now: float) -> float | None:
    """When the window closes, if it is open at `now` (its latest start ≤ now < start + duration)."""
    # croniter's get_prev is strictly before its base: a start at exactly `now` counts as open.
    start = croniter(window.schedule, _local(now, window) + dt.timedelta(seconds=1)).get_prev(dt.datetime)
    end = start.timestamp() + window.duration_seconds
    return end if start.timestamp() <= now < end else None


def next_open(window: SyncWindow, now: float) -> float:
    return float(croniter(window.schedule, _local(now, window)).get_next(dt.datetime).timestamp())


def applies(window: SyncWindow, service: str) -> bool:
    return not window.services or service in window.services


def verdict(environment: str, windows: Iterable[SyncWindow], service: str, now: float) -> Verdict:
    mine = [w for w in windows if applies(w, service)]
    deny = [(w, end) for w in mine if w.kind == "deny" and (end := open_until(w, now)) is not None]
    if deny:
        window, until = max(deny, key=lambda item: item[1])
        return Verdict(True, all(w.manual_sync for w, _ in deny),
                       f"{environment} frozen until {when(until, window.time_zone, now)}", until)
    allow = [w for w in mine if w.kind == "allow"]
    if allow and not any(open_until(w, now) is not None for w in allow):
        window = min(allow, key=lambda w: next_open(w, now))
        until = next_open(window, now)
        return Verdict(True, any(w.manual_sync for w in allow),
                       f"{environment} outside its sync windows until {when(until, window.time_zone, now)}", until)
    return OPEN


def when(ts: float, zone: str, now: float) -> str:
    """"Mon 09:00 JST"; with the date when it is a week or more away."""
    local = dt.datetime.fromtimestamp(ts, ZoneInfo(zone))
    fmt = "%a %H:%M %Z" if ts - now < 6 * 86400 else "%a %Y-%m-%d %H:%M %Z"
    return local.strftime(fmt)


def in_force(windows: Iterable[SyncWindow], now: float) -> list[dict[str, Any]]:
    """The windows open at `now`, for `reconciler plan` and /status."""
    out = []
    for w in windows:
        end = open_until(w, now)
        if end is not None:
            out.append({"kind": w.kind, "schedule": w.schedule, "timeZone": w.time_zone,
                        "until": dt.datetime.fromtimestamp(end, dt.UTC).isoformat().replace("+00:00", "Z"),
                        "untilLocal": when(end, w.time_zone, now), "services": list(w.services),
                        "manualSync": w.manual_sync})
    return out
