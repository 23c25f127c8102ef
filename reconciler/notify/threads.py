"""Which Slack thread an event belongs to, and where thread timestamps live.

One thread per deployment: all events of a commit in an environment share it
(started, then succeeded/failed), drift of one service has its own thread until
it resolves, and degraded/recovered of the reconciler share one. The store is
a Protocol so the daemon can keep the timestamps in DynamoDB and threads
survive restarts (Argo CD loses them: notifications-engine #462).
"""
from __future__ import annotations

import threading
from typing import Protocol

from reconciler.events import ReportEvent, ThreadRef

__all__ = ["InMemoryThreadStore", "ThreadRef", "ThreadStore", "closes_thread", "thread_key"]


class ThreadStore(Protocol):
    def get(self, key: str) -> ThreadRef | None: ...

    def put(self, key: str, ref: ThreadRef) -> None: ...

    def forget(self, key: str) -> None: ...


class InMemoryThreadStore:
    """Thread timestamps for one process (tests, `reconciler sync`)."""

    def __init__(self) -> None:
        self._refs: dict[str, ThreadRef] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> ThreadRef | None:
        with self._lock:
            return self._refs.get(key)

    def put(self, key: str, ref: ThreadRef) -> None:
        with self._lock:
            self._refs[key] = ref

    def forget(self, key: str) -> None:
        with self._lock:
            self._refs.pop(key, None)


def thread_key(event: ReportEvent) -> str | None:
    """Stable grouping key (no time in it); None when the event stands alone."""
    env = event.environment or ""
    if "thread_key" in event.extra:
        return str(event.extra["thread_key"])
    if event.kind.startswith("sync_") and event.extra.get("action") == "self-heal" and event.commit:
        # A self-heal re-sync gets its own parent: updating the commit's deploy thread would replace
        # the commit's summary with the self-heal picture.
        names = ",".join(sorted(f"{s.environment}/{s.service}" for s in event.services))
        return f"self-heal:{env}:{event.commit.sha}:{names}"
    if event.kind.startswith("sync_") or event.kind == "approval_needed":
        if event.commit:
            return f"deploy:{env}:{event.commit.sha}"
        ids = sorted(s.deployment_id for s in event.services if s.deployment_id)
        return f"deploy:{env}:{ids[0]}" if len(ids) == 1 else None
    if event.kind.startswith("drift_") and len(event.services) == 1:
        s = event.services[0]
        return f"drift:{s.environment}/{s.service}"
    if event.kind == "manifest_invalid" and event.commit:
        return f"manifest:{env}:{event.commit.sha}"
    if event.kind in ("reconciler_degraded", "reconciler_recovered"):
        return f"health:{env}"
    return None


def closes_thread(event: ReportEvent) -> bool:
    """After these, the next event of the same key starts a fresh thread."""
    return event.kind in ("drift_resolved", "reconciler_recovered")
