"""Edge-triggered noise control: one message per state change, never per interval.

Keys are `ReportEvent.dedup_key` (no timestamps or durations). When a state
ends, its key is forgotten so the next occurrence is reported again: a drift
resolving forgets that service's drift keys, a recovery forgets the
degradation. The store is a Protocol; the daemon persists it in DynamoDB so a
restart does not re-send everything.
"""
from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from reconciler.events import ReportEvent


class DedupStore(Protocol):
    def seen(self, key: str) -> bool: ...

    def remember(self, key: str) -> None: ...

    def forget(self, prefix: str) -> None:
        """Forget every key starting with `prefix`."""
        ...


class InMemoryDedupStore:
    """Bounded in size and age (single-replica mode runs for months): the oldest keys go first.
    Forgetting a key at worst repeats one old report; growing forever ends the process."""

    def __init__(self, max_keys: int = 10_000, max_age: float = 7 * 24 * 3600,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._keys: collections.OrderedDict[str, float] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._max_keys, self._max_age, self._clock = max_keys, max_age, clock

    def _expire(self) -> None:
        horizon = self._clock() - self._max_age
        while self._keys and (len(self._keys) > self._max_keys or next(iter(self._keys.values())) < horizon):
            self._keys.popitem(last=False)

    def seen(self, key: str) -> bool:
        with self._lock:
            self._expire()
            return key in self._keys

    def remember(self, key: str) -> None:
        with self._lock:
            self._keys[key] = self._clock()
            self._keys.move_to_end(key)
            self._expire()

    def forget(self, prefix: str) -> None:
        with self._lock:
            for key in [k for k in self._keys if k.startswith(prefix)]:
                del self._keys[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._keys)


def event_key(event: ReportEvent) -> str:
    """The dedup key; `extra["dedup_key"]` overrides it (e.g. a self-heal re-sync of the same commit).

    A drift is the same drift whatever commit git is at when it is seen (a commit
    to another service, or a restart at a newer commit, must not re-report it), so
    drift keys leave the commit out."""
    override = event.extra.get("dedup_key")
    if override:
        return str(override)
    if event.kind in ("drift_detected", "drift_resolved") and event.commit is not None:
        return replace(event, commit=None).dedup_key
    return event.dedup_key


def _service_prefixes(event: ReportEvent, kinds: tuple[str, ...]) -> list[str]:
    # Matches the layout of ReportEvent.dedup_key: kind:env:svc-list:sha:detail.
    env = event.environment or ""
    return [f"{kind}:{env}:{s.environment}/{s.service}:" for s in event.services for kind in kinds]


def superseded(event: ReportEvent) -> list[str]:
    """Prefixes of keys that this event ends, to forget before remembering it."""
    env = event.environment or ""
    if event.kind in ("drift_detected", "drift_resolved"):
        # A new drift replaces the previous one (A → B → A reports all three), and a
        # resolution re-arms drift reporting for the service.
        return _service_prefixes(event, ("drift_detected", "drift_resolved"))
    if event.kind in ("reconciler_degraded", "reconciler_recovered"):
        other = "reconciler_recovered" if event.kind == "reconciler_degraded" else "reconciler_degraded"
        own = [f"{event.kind}:{env}:"] if event.kind == "reconciler_recovered" else []
        return [f"{other}:{env}:"] + own
    return []
