"""The Notifier: a ReportSink that never blocks reconciling.

`emit` only puts the event on a bounded queue; one worker thread deduplicates,
routes and batches, and hands each delivery to its destination's own worker
(a lane), which renders and delivers, retrying 5xx/network errors with
exponential backoff and honouring 429 `Retry-After`: a slow or rate-limited
Slack holds back only its own messages, never another destination's. What cannot be delivered (queue full,
retries exhausted) is dropped, counted and logged, without secrets.
"""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from reconciler.events import ReportEvent
from reconciler.log import get_logger, redact
from reconciler.notify.aggregate import DEFAULT_COMMITS_PER_ENVIRONMENT, CommitAggregates
from reconciler.notify.batching import Batch, Batcher, group_of
from reconciler.notify.config import Route
from reconciler.notify.dedup import DedupStore, InMemoryDedupStore, event_key, superseded
from reconciler.notify.destinations import Destination
from reconciler.notify.errors import DeliveryError
from reconciler.notify.routing import route

log = get_logger("reconciler.notify")
_STOP = object()
_FLUSH = object()  # send held batches now (flush/close)
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
        batch_seconds: float = 0.0,
        commits_per_environment: int = DEFAULT_COMMITS_PER_ENVIRONMENT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._destinations = dict(destinations)
        self._routes = tuple(routes)
        self._dedup: DedupStore = dedup if dedup is not None else InMemoryDedupStore()
        self._enabled = enabled
        self._retry = retry
        self._on_drop = on_drop
        self.stats = Stats()
        # sync events of one commit wait up to `batch_seconds` of quiet to be sent as one
        self._batcher = Batcher(batch_seconds)
        # every batch's event sums up its whole commit so far (a big commit comes in waves)
        self._aggregates = CommitAggregates(commits_per_environment)
        self._clock = clock
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, queue_size))
        self._idle = threading.Condition()
        self._pending = 0
        self._closed = False
        self._abort = threading.Event()  # set when close() gives up: stop waiting, drop the rest
        self._queue_size = max(1, queue_size)
        self._lanes: dict[str, _Lane] = {}
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
        """Send held batches now and wait until every queued event is handled; True if in time."""
        try:
            self._queue.put_nowait(_FLUSH)
        except queue.Full:
            pass  # the worker is busy anyway; batches go out when their window ends
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
        for lane in list(self._lanes.values()):
            lane.stop()
        return drained

    # -- worker side ---------------------------------------------------------
    def _done(self) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    def _run(self) -> None:
        while True:
            due = self._batcher.next_due()
            try:
                item = self._queue.get(timeout=None if due is None else max(0.0, due - self._clock()))
            except queue.Empty:
                item = None
            if item is _STOP:
                self._send_batches(everything=True)
                return
            if isinstance(item, ReportEvent):
                self._take(item)
            self._send_batches(everything=item is _FLUSH)

    def _take(self, event: ReportEvent) -> None:
        held = False
        try:
            if self._abort.is_set():
                self._drop("closed", "*", event)
                return
            group = group_of(event) if self._batcher.enabled else None
            key = self._admit(event)
            if key is None:
                return
            if group is not None:
                self._batcher.add(group, event, key, self._clock())
                held = True  # done when its batch is sent
            else:
                self._dispatch(event, [key])
        except Exception as exc:  # the worker must survive anything
            log.error("notify_worker_error", error_type=type(exc).__name__, kind=event.kind)
        finally:
            if not held:
                self._done()

    def _send_batches(self, everything: bool = False) -> None:
        for batch in self._batcher.pop_due(self._clock(), everything):
            self._send_batch(batch)

    def _send_batch(self, batch: Batch) -> None:
        event = batch.first
        try:
            event = self._aggregates.merge(batch)
            if self._abort.is_set():
                self._drop("closed", "*", event)
            else:
                if event is not batch.first:
                    log.info("notify_batched", kind=event.kind, environment=event.environment,
                             events=batch.count, new_services=len(batch.services), services=len(event.services))
                self._dispatch(event, batch.keys)
        except Exception as exc:  # the worker must survive anything
            log.error("notify_worker_error", error_type=type(exc).__name__, kind=event.kind)
        finally:
            for _ in range(batch.count):
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

    def _dispatch(self, event: ReportEvent, keys: list[str]) -> None:
        targets = route(self._routes, event)
        if not targets:
            return
        ticket = _Ticket(len(targets), lambda: self._forget(keys))
        for name, ev in targets:
            lane = self._lanes.get(name)
            if lane is None:
                lane = self._lanes[name] = _Lane(name, self._deliver, self._queue_size)
            with self._idle:
                self._pending += 1
            if not lane.put(ev, lambda ok: (ticket.finish(ok), self._done())):
                self._done()
                self._drop("queue_full", name, ev)
                ticket.finish(False)

    def _forget(self, keys: list[str]) -> None:
        for key in keys:
            try:  # nobody heard it: let the next cycle report this state again
                self._dedup.forget(key)
            except Exception:
                pass

    def _deliver(self, name: str, event: ReportEvent) -> bool:
        dest = self._destinations.get(name)
        if dest is None:
            self._drop("delivery_failed", name, event, "unknown destination")
            return False
        if self._abort.is_set():
            self._drop("closed", name, event)
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


class _Ticket:
    """One event's deliveries to all its destinations: calls `none_delivered` if every one failed."""

    def __init__(self, count: int, none_delivered: Callable[[], None]) -> None:
        self._lock = threading.Lock()
        self._left, self._delivered, self._none_delivered = count, False, none_delivered

    def finish(self, ok: bool) -> None:
        with self._lock:
            self._left -= 1
            self._delivered = self._delivered or ok
            last = self._left == 0 and not self._delivered
        if last:
            self._none_delivered()


class _Lane:
    """One destination's bounded queue and worker thread, in order."""

    def __init__(self, name: str, deliver: Callable[[str, ReportEvent], bool], size: int) -> None:
        self.name, self._deliver = name, deliver
        self._queue: queue.Queue[object] = queue.Queue(maxsize=size)
        self._thread = threading.Thread(target=self._run, name=f"notify-{name}", daemon=True)
        self._thread.start()

    def put(self, event: ReportEvent, done: Callable[[bool], object]) -> bool:
        try:
            self._queue.put_nowait((event, done))
            return True
        except queue.Full:
            return False

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            event, done = item  # type: ignore[misc]
            ok = False
            try:
                ok = self._deliver(self.name, event)
            except Exception as exc:  # the lane must survive anything
                log.error("notify_worker_error", error_type=type(exc).__name__, kind=event.kind)
            finally:
                done(ok)

    def stop(self) -> None:
        try:
            self._queue.put(_STOP, timeout=1.0)
        except queue.Full:
            return
        self._thread.join(timeout=1.0)
