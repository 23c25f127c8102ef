"""How triggers wake the loop: an event with reasons, never a sleeping poll."""
from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable

from reconciler.source.hooks import PushHint


class Wakeup:
    """Triggers call `notify`; the loop `wait`s with a timeout and gets every reason since."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._reasons: list[str] = []
        self._hints: list[PushHint] = []

    def notify(self, reason: str, hint: PushHint | None = None) -> None:
        with self._cond:
            self._reasons.append(reason)
            if hint is not None:
                self._hints.append(hint)
            self._cond.notify_all()

    def pending(self, reasons: frozenset[str]) -> tuple[bool, list[PushHint]]:
        """Peek without clearing: whether one of `reasons` is waiting, and the hints so far.

        Lets a long drift scan notice a push that arrived meanwhile and step aside.
        """
        with self._cond:
            return bool(reasons.intersection(self._reasons)), list(self._hints)

    def wait(self, timeout: float | None) -> tuple[list[str], list[PushHint]]:
        """Block until notified or `timeout`; returns and clears (reasons, hints)."""
        with self._cond:
            if not self._reasons:
                self._cond.wait(timeout)
            reasons, hints = self._reasons, self._hints
            self._reasons, self._hints = [], []
            return reasons, hints


class DeliveryLog:
    """Remembers webhook delivery ids for `ttl` seconds (bounded), so retries wake the loop once."""

    def __init__(self, ttl: float = 3600.0, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl, self._max, self._clock = ttl, max_entries, clock
        self._seen: collections.OrderedDict[str, float] = collections.OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, delivery_id: str) -> bool:
        now = self._clock()
        with self._lock:
            while self._seen and (len(self._seen) >= self._max or next(iter(self._seen.values())) < now - self._ttl):
                self._seen.popitem(last=False)
            if delivery_id in self._seen:
                return False
            self._seen[delivery_id] = now
            return True
