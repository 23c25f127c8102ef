"""The daemon process: a loop thread woken by triggers, and a clean SIGTERM.

The loop runs in its own thread so that the main thread can always honour
SIGTERM within ECS's stop timeout: stop taking new work, give the running
cycle a bounded time, release the lease and leave; deployments already
started keep running in AWS and are followed by whoever leads next.
"""
from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from reconciler.daemon.leader import Leadership
from reconciler.daemon.loop import CycleResult, Reconciler
from reconciler.daemon.wakeup import Wakeup
from reconciler.log import get_logger

log = get_logger(__name__)

FULL_REASONS = frozenset({"leader", "drift"})
#: Triggers that say git moved (webhook.py, sqs_consumer.py).
GIT_REASONS = frozenset({"webhook", "sqs"})


class Service(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


class Daemon:
    def __init__(self, reconciler: Reconciler, wakeup: Wakeup, leadership: Leadership, *,
                 poll_interval: float = 60.0, poll_jitter: float = 0.1, drift_interval: float = 300.0,
                 shutdown_timeout: float = 20.0, services: tuple[Service, ...] = (),
                 on_cycle: Callable[[CycleResult, float], None] = lambda r, started: None,
                 close: Callable[[float], Any] = lambda timeout: None,
                 clock: Callable[[], float] = time.time, rng: random.Random | None = None,
                 unready_after: int = 5) -> None:
        self.reconciler, self.wakeup, self.leadership = reconciler, wakeup, leadership
        self.poll_interval, self.poll_jitter, self.drift_interval = poll_interval, poll_jitter, drift_interval
        self.shutdown_timeout = shutdown_timeout
        self.services = services
        self.on_cycle, self.close = on_cycle, close
        self.clock = clock
        self.rng = rng or random.Random()
        self._stop = threading.Event()
        self._completed_cycle = False
        #: /readyz answers 503 once this many cycles in a row failed (crashed or could not read git/AWS).
        self.unready_after = unready_after
        self.failed_cycles = 0
        self._loop: threading.Thread | None = None
        reconciler.interrupted = self.push_pending

    def push_pending(self, scanning: str) -> bool:
        """A push trigger is waiting whose commit is not `scanning` (or does not say which)."""
        waiting, hints = self.wakeup.pending(GIT_REASONS)
        return waiting and (not hints or any(h.after != scanning for h in hints))

    # -- state -------------------------------------------------------------------
    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def ready(self) -> tuple[bool, str]:
        if self.stopping:
            return False, "shutting down"
        if not self._completed_cycle:
            return False, "no reconcile cycle completed yet"
        if not self.leadership.contact_ok:
            return False, "lease table unreachable"
        if self.failed_cycles >= self.unready_after:
            return False, f"{self.failed_cycles} reconcile cycles failed in a row"
        return True, "leader" if self.leadership.is_leader() else "standby"

    def request_stop(self, *_: Any) -> None:
        """Signal handler: safe to call from any thread, any number of times."""
        if not self._stop.is_set():
            self._stop.set()
            self.wakeup.notify("stop")

    # -- the loop ------------------------------------------------------------------------
    def _next_poll(self) -> float:
        return self.clock() + self.poll_interval * (1 + self.poll_jitter * self.rng.random())

    def loop(self) -> None:
        next_full = self.clock()
        next_poll = self.clock()
        next_retry: float | None = None
        preempted = False
        while not self.stopping:
            due = min(next_poll, next_full, next_retry if next_retry is not None else float("inf"))
            reasons, _hints = self.wakeup.wait(max(0.0, due - self.clock()))
            if self.stopping:
                break
            now = self.clock()
            # The push a drift scan stepped aside for goes first, as a push (scoped) cycle; the scan,
            # still due, runs right after it.
            full = (now >= next_full and not preempted) or bool(FULL_REASONS.intersection(reasons))
            started = time.monotonic()
            result = self.reconciler.cycle(full=full)  # never raises: the cycle catches and reports
            self.failed_cycles = 0 if result.ok else self.failed_cycles + 1
            preempted = result.preempted
            if result.full:
                next_full = now + self.drift_interval
                self._completed_cycle = True
            next_retry = result.next_retry_at
            next_poll = self._next_poll()
            if result.crashed and result.next_retry_at is not None:
                # Backed off: neither the poll nor a due drift scan retries before the delay.
                next_poll = next_full = max(next_full, result.next_retry_at)
                next_retry = None
            self.on_cycle(result, started)

    # -- process lifetime --------------------------------------------------------------------
    def run(self) -> int:
        for service in self.services:
            service.start()
        self.leadership.start()
        self._loop = threading.Thread(target=self.loop, name="reconcile-loop", daemon=True)
        self._loop.start()
        while not self._stop.wait(0.5):
            if not self._loop.is_alive():
                log.error("loop_exited_unexpectedly")
                self._stop.set()
        return self.shutdown()

    def shutdown(self) -> int:
        deadline = time.monotonic() + self.shutdown_timeout
        log.info("shutdown_started", timeout=self.shutdown_timeout)
        self.wakeup.notify("stop")
        if self._loop is not None:
            # Leave a few seconds for releasing the lease and flushing reports.
            self._loop.join(timeout=max(0.0, deadline - time.monotonic() - 5.0))
            if self._loop.is_alive():
                log.warning("shutdown_leaving_deployments_running",
                            reason="cycle still waiting on deployments; they continue in AWS")
        for service in reversed(self.services):
            try:
                service.stop()
            except Exception as exc:  # noqa: BLE001 - keep shutting down
                log.warning("service_stop_failed", error=str(exc))
        # The lease is given up only once the loop has stopped: while a cycle may still write, a
        # standby must not take over early. Stopping marks us not-leader at once (the fence then
        # refuses every write); a loop still running lets the lease expire instead.
        still_running = self._loop is not None and self._loop.is_alive()
        self.leadership.stop(release=not still_running)
        self.close(max(0.5, min(3.0, deadline - time.monotonic() - 1.0)))
        log.info("shutdown_complete")
        return 0
