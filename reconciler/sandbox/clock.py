"""The sandbox clock: sandbox time runs `speed` times faster than real time.

Deployments in the sandbox progress on this clock, so tests can run a rolling
deploy in a fraction of a second while the demo runs at a watchable pace. The
real-time source is injectable so unit tests of the state machines never sleep.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

#: Sandbox epoch: a fixed, recognisable start keeps events deterministic-looking.
DEFAULT_START = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class SandboxClock:
    """now() = start + real elapsed × speed + manual advances (seconds since epoch)."""

    def __init__(
        self,
        speed: float = 60.0,
        start: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self.speed = speed
        self._monotonic = monotonic
        self._real_start = monotonic()
        self._start = time.time() if start is None else start
        self._advanced = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            elapsed = self._monotonic() - self._real_start
            return self._start + elapsed * self.speed + self._advanced

    def set_speed(self, speed: float) -> None:
        """Change the speed from now on (0 freezes the clock); sandbox time never jumps."""
        if speed < 0:
            raise ValueError("speed must be >= 0")
        with self._lock:
            real = self._monotonic()
            self._start += (real - self._real_start) * self.speed
            self._real_start = real
            self.speed = speed

    def advance(self, seconds: float) -> float:
        """Jump the sandbox clock forward; returns the new time."""
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._advanced += seconds
        return self.now()


class ManualClock(SandboxClock):
    """A clock that only moves when told: for unit tests of the state machines."""

    def __init__(self, start: float = DEFAULT_START) -> None:
        super().__init__(speed=0.0, start=start, monotonic=lambda: 0.0)
