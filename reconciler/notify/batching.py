"""One commit, many services, one report: hold per-service sync events of a commit.

The applier reports each service on its own (started, then succeeded/failed),
so a commit touching 30 services arrives as ~60 events. The notifier holds sync
events of one (environment, commit) until `window` seconds pass without a new
one, then sends the batch as ONE event (built by `aggregate.CommitAggregates`,
which also folds in the commit's earlier batches). Slack then shows one summary
parent with the details in its thread instead of an alert storm. Pure: the
caller passes the clock.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from reconciler.events import SYNC_STATUS_OF_KIND, ReportEvent, ServiceReport

STATUS_OF_KIND = SYNC_STATUS_OF_KIND  # the sync kinds batch together (reconciler.events maps them)
#: (environment, commit sha, self-heal?): a self-heal re-sync is its own family
GroupKey = tuple[str, str, bool]


def group_of(event: ReportEvent) -> GroupKey | None:
    """Which batch `event` joins; None when it is sent on its own."""
    if event.kind not in STATUS_OF_KIND or event.commit is None or not event.environment or not event.services:
        return None
    return (event.environment, event.commit.sha, event.extra.get("action") == "self-heal")


def service_id(s: ServiceReport) -> str:
    return f"{s.environment}/{s.service}"


@dataclass
class Batch:
    """Sync events of one group held together; `services` is the latest report of each."""

    group: GroupKey
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
            self.services[service_id(s)] = replace(s, status=s.status or STATUS_OF_KIND[event.kind])


class Batcher:
    """Holds batches until `window` seconds pass without a new member (at most `max_wait`,
    5× the window by default, so a steady trickle of events still goes out)."""

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
            batch = self._batches[group] = Batch(group=group, first=event, started_at=now, last_at=now)
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
