"""Notifier: dedup, leader-only, routing, retries and drops, with in-process destinations."""
from __future__ import annotations

import threading

import pytest

from reconciler.events import ReportEvent
from reconciler.model import FieldChange
from reconciler.notify import DeliveryError, InMemoryDedupStore, Notifier, RetryPolicy, Route
from reconciler.notify.samples import event, many_services, service

FAST = RetryPolicy(max_attempts=3, backoff_seconds=0.001, max_backoff_seconds=0.01)


class Recorder:
    """A destination that records events and fails as scripted."""

    def __init__(self, name: str = "rec", failures: list[DeliveryError | Exception] | None = None) -> None:
        self.name = name
        self.events: list[ReportEvent] = []
        self.attempts = 0
        self._failures = list(failures or [])

    def send(self, ev: ReportEvent) -> None:
        self.attempts += 1
        if self._failures:
            raise self._failures.pop(0)
        self.events.append(ev)


def make(dest: Recorder, **kw) -> Notifier:
    kw.setdefault("retry", FAST)
    return Notifier({dest.name: dest}, [Route(destinations=(dest.name,))], **kw)


def drift(live: int) -> ReportEvent:
    return event("drift_detected", services=(service(images=(), action="report-only",
                                                     changes=(FieldChange("service/desiredCount", 4, live),)),))


def test_same_drift_is_reported_once_across_cycles_and_restarts() -> None:
    store = InMemoryDedupStore()  # the daemon's DynamoDB store survives restarts the same way
    rec = Recorder()
    n = make(rec, dedup=store)
    for _ in range(5):
        n.emit(drift(7))
    assert n.flush(5)
    n.close()
    restarted = make(rec, dedup=store)
    restarted.emit(drift(7))
    assert restarted.flush(5)
    assert len(rec.events) == 1
    assert restarted.stats.snapshot()["deduplicated"] == 1


def test_changed_drift_and_drift_after_resolution_are_reported_again() -> None:
    rec = Recorder()
    n = make(rec)
    for ev in [drift(7), drift(9), drift(7), event("drift_resolved"), event("drift_resolved"), drift(7)]:
        n.emit(ev)
    assert n.flush(5)
    kinds = [(e.kind, e.services[0].changes[0].live if e.services[0].changes else None) for e in rec.events]
    assert kinds == [("drift_detected", 7), ("drift_detected", 9), ("drift_detected", 7),
                     ("drift_resolved", None), ("drift_detected", 7)]


def test_degraded_once_until_recovered() -> None:
    rec = Recorder()
    n = make(rec)
    for kind in ["reconciler_degraded", "reconciler_degraded", "reconciler_recovered",
                 "reconciler_recovered", "reconciler_degraded"]:
        n.emit(event(kind))
    assert n.flush(5)
    assert [e.kind for e in rec.events] == ["reconciler_degraded", "reconciler_recovered", "reconciler_degraded"]


def test_dedup_key_override_in_extra() -> None:
    rec = Recorder()
    n = make(rec)
    n.emit(event("sync_started"))
    n.emit(event("sync_started"))  # same commit, same services: one report
    n.emit(event("sync_started", extra={"dedup_key": "sync_started:prod:self-heal-2"}))
    assert n.flush(5)
    assert len(rec.events) == 2


def test_only_the_leader_sends() -> None:
    leader = threading.Event()
    rec = Recorder()
    n = make(rec, enabled=leader.is_set)
    n.emit(event("sync_started"))
    leader.set()
    n.emit(event("sync_succeeded"))
    assert n.flush(5)
    assert [e.kind for e in rec.events] == ["sync_succeeded"]
    assert n.stats.snapshot()["skipped_not_leader"] == 1


def test_retries_transient_errors_then_delivers() -> None:
    rec = Recorder(failures=[DeliveryError("HTTP 503", retryable=True), ConnectionResetError("boom")])
    n = make(rec)
    n.emit(event("sync_succeeded"))
    assert n.flush(5)
    assert rec.attempts == 3 and len(rec.events) == 1
    assert n.stats.snapshot()["retried"] == 2


def test_retry_after_is_honoured_and_capped() -> None:
    policy = RetryPolicy(max_attempts=3, backoff_seconds=1, max_backoff_seconds=30)
    assert policy.delay(1, DeliveryError("429", retryable=True, retry_after=7)) == 7
    assert policy.delay(1, DeliveryError("429", retryable=True, retry_after=900)) == 30
    assert policy.delay(3, DeliveryError("503", retryable=True)) == 4


def test_permanent_error_is_not_retried_and_drop_is_counted() -> None:
    drops: list[tuple[str, str]] = []
    rec = Recorder(failures=[DeliveryError("HTTP 404", retryable=False)])
    n = make(rec, on_drop=lambda reason, dest: drops.append((reason, dest)))
    n.emit(event("sync_failed"))
    assert n.flush(5)
    assert rec.attempts == 1
    assert drops == [("delivery_failed", "rec")]
    assert n.stats.dropped == 1


def test_undelivered_state_is_reported_again_next_cycle() -> None:
    rec = Recorder(failures=[DeliveryError("x", retryable=False)])
    n = make(rec)
    n.emit(drift(7))
    assert n.flush(5)  # deliveries run on the destination's own worker: the next cycle comes later
    n.emit(drift(7))
    assert n.flush(5)
    assert len(rec.events) == 1  # the first was dropped, so its dedup key was forgotten


def test_full_queue_drops_and_counts_without_blocking() -> None:
    gate = threading.Event()

    class Slow(Recorder):
        def send(self, ev: ReportEvent) -> None:
            gate.wait(5)
            super().send(ev)

    rec = Slow()
    n = make(rec, queue_size=2)
    for i in range(6):
        n.emit(event("sync_started", extra={"dedup_key": f"k{i}"}))
    gate.set()
    assert n.flush(5)
    s = n.stats.snapshot()
    assert s["dropped_queue_full"] >= 3 and s["dropped_queue_full"] + len(rec.events) == 6


def test_close_gives_up_on_stuck_retries_and_counts_the_rest() -> None:
    rec = Recorder(failures=[DeliveryError("503", retryable=True)] * 10)
    n = Notifier({"rec": rec}, [Route(destinations=("rec",))],
                 retry=RetryPolicy(max_attempts=5, backoff_seconds=30, max_backoff_seconds=30))
    n.emit(event("sync_started"))
    n.emit(event("sync_succeeded"))
    assert n.close(timeout=0.2) is False
    assert n.flush(5)
    assert n.stats.dropped == 2
    n.emit(event("sync_failed"))
    assert n.stats.snapshot()["dropped_closed"] == 2


def test_routing_by_environment_service_glob_and_kind() -> None:
    a, b, c = Recorder("a"), Recorder("b"), Recorder("c")
    routes = [
        Route(destinations=("a",), environment="prod", services="svc-0*"),
        Route(destinations=("b",), environment="prod", kinds=frozenset({"sync_failed"})),
        Route(destinations=("c", "a"), environment="*"),
    ]
    n = Notifier({"a": a, "b": b, "c": c}, routes, retry=FAST)
    n.emit(many_services(n=12))
    n.emit(event("reconciler_degraded", environment=None))
    assert n.flush(5)
    assert [len(e.services) for e in a.events] == [10, 0]  # narrowed to svc-00..09; then the global event
    assert b.events == []
    assert [len(e.services) for e in c.events] == [12, 0]


@pytest.mark.parametrize("broken", ["seen", "enabled"])
def test_broken_hooks_never_raise_into_the_caller(broken: str) -> None:
    class BrokenStore(InMemoryDedupStore):
        def seen(self, key: str) -> bool:
            raise RuntimeError("dynamodb down")

    def boom() -> bool:
        raise RuntimeError("lease table down")

    rec = Recorder()
    n = make(rec, dedup=BrokenStore() if broken == "seen" else None,
             enabled=boom if broken == "enabled" else (lambda: True))
    n.emit(event("sync_started"))
    assert n.flush(5)
    assert len(rec.events) == (1 if broken == "seen" else 0)


def test_a_slow_destination_holds_back_only_its_own_reports() -> None:
    """One worker per destination: Slack answering 429 with Retry-After (or hanging) does not
    delay the reports of another destination."""
    release = threading.Event()

    class Stuck(Recorder):
        def send(self, ev: ReportEvent) -> None:
            release.wait(10)
            super().send(ev)

    slow, fast = Stuck("slow"), Recorder("fast")
    n = Notifier({"slow": slow, "fast": fast}, [Route(destinations=("slow", "fast"))], retry=FAST)
    for live in (1, 2, 3):
        n.emit(drift(live))
    deadline = threading.Event()
    for _ in range(100):
        if len(fast.events) == 3:
            break
        deadline.wait(0.02)
    assert len(fast.events) == 3 and slow.events == []
    release.set()
    assert n.flush(5)
    assert len(slow.events) == 3
    n.close()


def test_in_memory_dedup_store_is_bounded_in_size_and_age() -> None:
    now = [0.0]
    store = InMemoryDedupStore(max_keys=100, max_age=3600, clock=lambda: now[0])
    for i in range(1000):
        store.remember(f"k{i}")
    assert len(store) == 100 and store.seen("k999") and not store.seen("k0")
    now[0] = 3601
    store.remember("fresh")
    assert len(store) == 1 and store.seen("fresh")
