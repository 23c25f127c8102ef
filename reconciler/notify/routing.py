"""Which destinations get an event, and which part of it (service globs)."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from fnmatch import fnmatchcase

from reconciler.events import ReportEvent
from reconciler.notify.config import Route


def _narrow(event: ReportEvent, pattern: str | None) -> ReportEvent | None:
    if pattern is None or not event.services:
        return event  # events without services (manifest, degraded) go to every route of the env
    kept = tuple(s for s in event.services if fnmatchcase(s.service, pattern))
    if not kept:
        return None
    return event if len(kept) == len(event.services) else dataclasses.replace(event, services=kept)


def route(routes: Sequence[Route], event: ReportEvent) -> list[tuple[str, ReportEvent]]:
    """(destination name, event as that destination sees it), each destination once (first route wins)."""
    out: list[tuple[str, ReportEvent]] = []
    taken: set[str] = set()
    for r in routes:
        if r.kinds is not None and event.kind not in r.kinds:
            continue
        if not fnmatchcase(event.environment or "", r.environment) and r.environment != "*":
            continue
        narrowed = _narrow(event, r.services)
        if narrowed is None:
            continue
        for name in r.destinations:
            if name not in taken:
                taken.add(name)
                out.append((name, narrowed))
    return out
