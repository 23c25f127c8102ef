"""Fault injection state shared by the Python API and the admin HTTP endpoint."""
from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class Faults:
    """What to break next. All methods are thread-safe (the server is threaded)."""

    throttles: dict[str, int] = field(default_factory=dict)
    latencies: dict[str, float] = field(default_factory=dict)
    failing_images: set[str] = field(default_factory=set)
    #: action -> [(times left, after_apply)]: answer 500 InternalFailure, before or after doing the work
    server_errors: dict[str, list[list[int | bool]]] = field(default_factory=dict)
    #: What the faults did, for tests that act at a precise moment (kill a client while its write is
    #: held, or once a write was refused): requests held in an injected delay right now, and server
    #: errors answered so far, per action. Our choice (observability of the sandbox only).
    held: collections.Counter[str] = field(default_factory=collections.Counter)
    errors_answered: collections.Counter[str] = field(default_factory=collections.Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def throttle(self, action: str, times: int) -> None:
        with self._lock:
            self.throttles[action] = self.throttles.get(action, 0) + int(times)

    def add_latency(self, action: str, seconds: float) -> None:
        with self._lock:
            self.latencies[action] = float(seconds)

    def fail_image(self, image: str) -> None:
        with self._lock:
            self.failing_images.add(image)

    def server_error(self, action: str, times: int, *, after_apply: bool = False) -> None:
        with self._lock:
            self.server_errors.setdefault(action, []).append([int(times), bool(after_apply)])

    def take_server_error(self, action: str) -> bool | None:
        """None: answer normally; False: 500 without doing the work; True: do it, then answer 500."""
        with self._lock:
            queue = self.server_errors.get(action) or []
            while queue and int(queue[0][0]) <= 0:
                queue.pop(0)
            if not queue:
                return None
            queue[0][0] = int(queue[0][0]) - 1
            self.errors_answered[action] += 1
            return bool(queue[0][1])

    @contextlib.contextmanager
    def holding(self, action: str) -> Iterator[None]:
        """Counts a request of `action` as held while it waits out its injected delay."""
        with self._lock:
            self.held[action] += 1
        try:
            yield
        finally:
            with self._lock:
                self.held[action] -= 1

    def observed(self, action: str) -> tuple[int, int]:
        """(requests held in a delay now, server errors answered so far) for `action`."""
        with self._lock:
            return self.held[action], self.errors_answered[action]

    def take_throttle(self, action: str) -> bool:
        """True if this call of `action` must be throttled (consumes one)."""
        with self._lock:
            left = self.throttles.get(action, 0)
            if left <= 0:
                return False
            self.throttles[action] = left - 1
            return True

    def latency(self, action: str) -> float:
        with self._lock:
            return self.latencies.get(action, 0.0)

    def image_fails(self, image: str) -> bool:
        with self._lock:
            return image in self.failing_images

    def reset(self) -> None:
        with self._lock:
            self.throttles.clear()
            self.latencies.clear()
            self.failing_images.clear()
            self.server_errors.clear()
