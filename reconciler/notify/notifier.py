"""The Notifier: a ReportSink that never blocks reconciling.

`emit` only puts the event on a bounded queue; one worker thread deduplicates,
routes, renders and delivers, retrying 5xx/network errors with exponential
backoff and honouring 429 `Retry-After`. What cannot be delivered (queue full,
retries exhausted) is dropped, counted and logged, without secrets.
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from reconciler.events import ReportEvent
from reconciler.log import get_logger, redact
from reconciler.notify.config import Route
from reconciler.notify.dedup import DedupStore, InMemoryDedupStore, event_key, superseded
from reconciler.notify.destinations import Destination
from reconciler.notify.errors import DeliveryError
from reconciler.notify.routing import route

log = get_logger("reconciler.notify")
_STOP = object()
#: on_drop(reason, destination): reason is queue_full | delivery_failed | closed
DropHook = Callable[[str, str], None]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 60.0  # also caps a server's Retry-After

    def delay(self, attempt: int, error: DeliveryError) -> float:
        wanted = error.retry_after if error.retry_after is not None else self.backoff_seconds * 2 ** (attempt - 1)
        return min(wanted, self.max_backoff_seconds)


class Stats:
    """Plain counters the daemon exports as metrics (thread-safe)."""

    FIELDS = ("emitted", "skipped_not_leader", "deduplicated", "delivered", "retried",
              "dropped_queue_full", "dropped_failed", "dropped_closed")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = dict.fromkeys(self.FIELDS, 0)

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._values[name] += n

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._values)

    @property
    def dropped(self) -> int:
        s = self.snapshot()
        return s["dropped_queue_full"] + s["dropped_failed"] + s["dropped_closed"]


class Notifier:
    """Implements reconciler.events.ReportSink."""

    def __init__(
        self,
        destinations: Mapping[str, Destination],
        routes: Sequence[Route],
        *,
        dedup: DedupStore | None = None,
        enabled: Callable[[], bool] = lambda: True,
        queue_size: int = 1000,
        retry: RetryPolicy = RetryPolicy(),
        on_drop: DropHook | None = None,
    ) -> None:
        self._destinations = dict(destinations)
        self._routes = tuple(routes)
        self._dedup: DedupStore = dedup if dedup is not None else InMemoryDedupStore()
        self._enabled = enabled
        self._retry = retry
        self._on_drop = on_drop
        self.stats = Stats()
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, queue_size))
        self._idle = threading.Condition()
        self._pending = 0
        self._closed = False
        self._abort = threading.Event()  # set when close() gives up: stop waiting, drop the rest
        self._worker = threading.Thread(target=self._run, name="notify-worker", daemon=True)
        self._worker.start()

    # -- caller side -------------------------------------------------------
    def emit(self, event: ReportEvent) -> None:
        """Queue `event` and return at once; never raises, never waits."""
        try:
            if not self._enabled():
                self.stats.add("skipped_not_leader")
                return
        except Exception:  # a broken leadership check must not break reconciling
            self.stats.add("skipped_not_leader")
            return
        if self._closed:
            self._drop("closed", "*", event)
            return
        with self._idle:
            self._pending += 1
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self._done()
            self._drop("queue_full", "*", event)
            return
        self.stats.add("emitted")

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued event is handled; True if that happened in time."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self, timeout: float = 10.0) -> bool:
        """Deliver what is queued within `timeout`, then stop; True when fully drained."""
        self._closed = True
        drained = self.flush(timeout)
        if not drained:
            self._abort.set()  # interrupt backoff waits; the rest is dropped and counted
        try:
            self._queue.put(_STOP, timeout=1.0)
        except queue.Full:
            pass
        self._worker.join(timeout=1.0)
        return drained

    # -- worker side ---------------------------------------------------------
    def _done(self) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            assert isinstance(item, ReportEvent)
            try:
                if self._abort.is_set():
                    self._drop("closed", "*", item)
                else:
                    self._process(item)
            except Exception as exc:  # the worker must survive anything
                log.error("notify_worker_error", error_type=type(exc).__name__, kind=item.kind)
            finally:
                self._done()

    def _admit(self, event: ReportEvent) -> str | None:
        """The dedup key when `event` is a new state; None when already reported."""
        key = event_key(event)
        try:
            if self._dedup.seen(key):
                self.stats.add("deduplicated")
                return None
            for prefix in superseded(event):
                self._dedup.forget(prefix)
            self._dedup.remember(key)
        except Exception as exc:  # store down: a duplicate beats a lost report
            log.warning("notify_dedup_unavailable", error_type=type(exc).__name__)
        return key

    def _process(self, event: ReportEvent) -> None:
        key = self._admit(event)
        if key is None:
            return
        targets = route(self._routes, event)
        delivered = [self._deliver(name, ev) for name, ev in targets]
        if targets and not any(delivered):
            try:  # nobody heard it: let the next cycle report this state again
                self._dedup.forget(key)
            except Exception:
                pass

    def _deliver(self, name: str, event: ReportEvent) -> bool:
        dest = self._destinations.get(name)
        if dest is None:
            self._drop("delivery_failed", name, event, "unknown destination")
            return False
        error = DeliveryError("not attempted", retryable=False)
        for attempt in range(1, self._retry.max_attempts + 1):
            try:
                dest.send(event)
                self.stats.add("delivered")
                return True
            except DeliveryError as exc:
                error = exc
            except Exception as exc:  # unknown failure: its text may hold a URL, keep the type only
                error = DeliveryError(type(exc).__name__, retryable=True)
            if not error.retryable or attempt == self._retry.max_attempts:
                break
            self.stats.add("retried")
            delay = self._retry.delay(attempt, error)
            log.info("notify_retry", destination=name, kind=event.kind, attempt=attempt,
                     delay_seconds=delay, error=redact(str(error)))
            if self._abort.wait(delay):
                break
        self._drop("delivery_failed", name, event, str(error))
        return False

    def _drop(self, reason: str, destination: str, event: ReportEvent, error: str = "") -> None:
        self.stats.add({"queue_full": "dropped_queue_full", "closed": "dropped_closed"}.get(reason, "dropped_failed"))
        log.warning("notify_dropped", reason=reason, destination=destination, kind=event.kind,
                    environment=event.environment, error=redact(error))
        if self._on_drop is not None:
            try:
                self._on_drop(reason, destination)
            except Exception:
                pass
