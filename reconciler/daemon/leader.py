"""Keeps (or waits for) the leader lease in a background thread.

Without a lease table the replica is always the leader (a single-replica
service). The holder stops acting as leader `safety` seconds before its lease
would expire, so a slow renewal can never overlap with a standby's takeover.
"""
from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Callable, Iterator
from typing import Protocol

from reconciler.aws.errors import AwsError
from reconciler.log import get_logger

log = get_logger(__name__)

#: Services whose non-read calls change what runs (ECS, CodeDeploy, auto scaling). Their service
#: ids as botocore names them in `before-send.<service>.<Operation>` events.
FENCED_SERVICES = frozenset({"ecs", "codedeploy", "application-auto-scaling"})
READ_PREFIXES = ("Describe", "List", "Get", "BatchGet")
_TERM: contextvars.ContextVar[int | None] = contextvars.ContextVar("lease_term", default=None)


class LeaseLost(AwsError):
    """A write was about to go out after the lease moved (or was given up): it never leaves."""


class Lease(Protocol):
    holder: str
    epoch: int

    def held(self, safety: float = 0.0) -> bool: ...

    def acquire(self) -> bool: ...

    def renew(self) -> bool: ...

    def release(self) -> None: ...


class Leadership:
    def __init__(self, lease: Lease | None, renew_interval: float = 10.0, *,
                 on_gain: Callable[[], None] = lambda: None) -> None:
        self.lease = lease
        self.renew_interval = renew_interval
        self.safety = renew_interval / 2
        self.on_gain = on_gain
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._was_leader = False
        #: True once the lease table answered (we hold the lease or know who does).
        self.contact_ok = lease is None

    def is_leader(self) -> bool:
        if self._stop.is_set():
            return False
        return self.lease is None or self.lease.held(self.safety)

    def tick(self) -> None:
        """One acquire-or-renew attempt (the thread calls this every renew_interval)."""
        if self.lease is None:
            leader = True
        else:
            try:
                leader = self.lease.renew() if self.lease.held() else self.lease.acquire()
                self.contact_ok = True
            except AwsError as exc:
                self.contact_ok = False
                log.warning("lease_unreachable", error=str(exc))
            leader = self.is_leader()
        if leader and not self._was_leader:
            log.info("leader_acquired", holder=self.lease.holder if self.lease else None)
            self._was_leader = True
            self.on_gain()
        elif not leader and self._was_leader:
            log.warning("leader_lost", holder=self.lease.holder if self.lease else None)
            self._was_leader = False

    def start(self) -> None:
        self.tick()
        self._thread = threading.Thread(target=self._run, name="lease", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.renew_interval):
            self.tick()

    def stop(self, release: bool = True) -> None:
        """Stop renewing and give the lease up, so a standby takes over without waiting for expiry."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if release and self.lease is not None:
            try:
                self.lease.release()
                log.info("lease_released", holder=self.lease.holder)
            except AwsError as exc:
                log.warning("lease_release_failed", error=str(exc))


class Fence:
    """Fencing for every AWS write: checked immediately before each HTTP attempt (botocore's
    `before-send`, so a write still in botocore's retries is stopped too), against the lease
    epoch the running work started under. When the lease moved, the write never leaves."""

    def __init__(self, leadership: Leadership) -> None:
        self.leadership = leadership

    def _epoch(self) -> int | None:
        lease = self.leadership.lease
        return lease.epoch if lease is not None else None

    @contextlib.contextmanager
    def term(self) -> Iterator[None]:
        """Run work under the current epoch (apply's worker threads inherit it via contextvars)."""
        token = _TERM.set(self._epoch())
        try:
            yield
        finally:
            _TERM.reset(token)

    def valid(self) -> bool:
        """Still the leader, in the term the running work started under."""
        term = _TERM.get()
        return self.leadership.is_leader() and (term is None or term == self._epoch())

    def check(self, service: str, action: str) -> None:
        """A CallCounter listener: raises LeaseLost before a write leaves without a valid lease."""
        if service not in FENCED_SERVICES or action.startswith(READ_PREFIXES):
            return
        if not self.valid():
            log.warning("write_fenced", service=service, action=action, term=_TERM.get(), epoch=self._epoch())
            raise LeaseLost("not sent: the leader lease moved or was given up", service=service, action=action,
                            code="LeaseLost")
