"""One commit, many services, one report: merge per-service sync events of a commit.

The applier reports each service on its own (started, then succeeded/failed),
so a commit touching 30 services arrives as ~60 events. The notifier holds sync
events of one (environment, commit) for a short quiet window and sends them as
ONE event: its services are the latest report of each service, its kind the
worst state among them. Slack then shows one summary parent with the details
in its thread instead of an alert storm. Pure: the caller passes the clock.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

from reconciler.events import ReportEvent, ServiceReport

_STATUS_OF_KIND = {"sync_started": "in_progress", "sync_succeeded": "succeeded", "sync_failed": "failed",
                   "sync_rolled_back": "rolled_back"}
#: the merged event's kind: the first state any of its services is in, in this order
_PRECEDENCE = (("failed", "sync_failed"), ("rolled_back", "sync_rolled_back"), ("in_progress", "sync_started"))
GroupKey = tuple[str, str, bool]


def group_of(event: ReportEvent) -> GroupKey | None:
    """Which batch `event` joins; None when it is sent on its own."""
    if event.kind not in _STATUS_OF_KIND or event.commit is None or not event.environment or not event.services:
        return None
    return (event.environment, event.commit.sha, event.extra.get("action") == "self-heal")


@dataclass
class Batch:
    first: ReportEvent
    started_at: float
    last_at: float
    keys: list[str] = field(default_factory=list)            # members' dedup keys
    services: dict[str, ServiceReport] = field(default_factory=dict)
    count: int = 0                                           # events merged

    def add(self, event: ReportEvent, key: str, now: float) -> None:
        self.last_at = now
        self.keys.append(key)
        self.count += 1
        for s in event.services:
            status = s.status or _STATUS_OF_KIND[event.kind]
            self.services[f"{s.environment}/{s.service}"] = replace(s, status=status)

    def merged(self) -> ReportEvent:
        """The one event to send: a single member as it came, else the union of the latest reports."""
        if self.count == 1:
            return self.first
        services = tuple(self.services[k] for k in sorted(self.services))
        statuses = {s.status for s in services}
        kind = next((k for status, k in _PRECEDENCE if status in statuses), "sync_succeeded")
        bad = sum(1 for s in services if s.status in ("failed", "rolled_back"))
        reason = f"{bad} of {len(services)} services failed" if bad else ""
        digest = hashlib.sha256("\n".join(sorted(self.keys)).encode()).hexdigest()[:16]
        extra = {k: v for k, v in self.first.extra.items() if k != "dedup_key"}
        extra["dedup_key"] = f"{kind}:{self.first.environment}:batch:{self.first.commit.sha if self.first.commit else ''}:{digest}"
        return replace(self.first, kind=kind, services=services, reason=reason, extra=extra)  # type: ignore[arg-type]


class Batcher:
    """Holds batches until `window` seconds pass without a new member (at most `max_wait`)."""

    def __init__(self, window: float, max_wait: float | None = None) -> None:
        self.window = window
        self.max_wait = max_wait if max_wait is not None else 5 * window
        self._batches: dict[GroupKey, Batch] = {}

    @property
    def enabled(self) -> bool:
        return self.window > 0

    def add(self, group: GroupKey, event: ReportEvent, key: str, now: float) -> None:
        batch = self._batches.get(group)
        if batch is None:
            batch = self._batches[group] = Batch(first=event, started_at=now, last_at=now)
        batch.add(event, key, now)

    def _due_at(self, batch: Batch) -> float:
        return min(batch.last_at + self.window, batch.started_at + self.max_wait)

    def next_due(self) -> float | None:
        return min((self._due_at(b) for b in self._batches.values()), default=None)

    def pop_due(self, now: float, everything: bool = False) -> list[Batch]:
        due = [g for g, b in self._batches.items() if everything or self._due_at(b) <= now]
        return [self._batches.pop(g) for g in due]

    def __len__(self) -> int:
        return len(self._batches)
