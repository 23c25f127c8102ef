"""Fencing: the lease epoch grows with every acquisition; a write is checked immediately before
each HTTP attempt and never leaves once the lease moved; the lease is released only after the
loop stopped."""
from __future__ import annotations

import threading

from test_lease_dynamo import TABLE, Clock, clients  # noqa: F401 - fixture

from reconciler.aws.lease import DynamoLease
from reconciler.daemon.leader import Leadership


def test_epoch_grows_with_every_acquisition_and_fences_the_old_term(clients) -> None:
    clock = Clock()
    a = DynamoLease(clients, TABLE, "prod", "a", duration=30, clock=clock)
    b = DynamoLease(clients, TABLE, "prod", "b", duration=30, clock=clock)
    assert a.acquire() and a.epoch == 1
    assert a.renew() and a.epoch == 1  # renewing keeps the term
    clock.t += 31
    assert b.acquire() and b.epoch == 2
    assert a.current().epoch == 2
    clock.t += 31
    assert a.acquire() and a.epoch == 3  # the same holder again: still a new term


class RecordingLease:
    holder, epoch = "me", 1

    def __init__(self) -> None:
        self.released = 0

    def held(self, safety: float = 0.0) -> bool:
        return True

    def acquire(self) -> bool:
        return True

    def renew(self) -> bool:
        return True

    def release(self) -> None:
        self.released += 1


def test_lease_is_released_only_after_the_loop_stopped() -> None:
    from reconciler.daemon.loop import CycleResult
    from reconciler.daemon.runner import Daemon
    from reconciler.daemon.wakeup import Wakeup

    started, finish = threading.Event(), threading.Event()

    class Busy:  # a cycle still waiting on a deployment when SIGTERM comes
        def cycle(self, *, full: bool) -> CycleResult:
            started.set()
            finish.wait(10)
            return CycleResult(full=True, ok=True)

    lease = RecordingLease()
    leadership = Leadership(lease, renew_interval=10)
    daemon = Daemon(Busy(), Wakeup(), leadership, shutdown_timeout=5.2)  # type: ignore[arg-type]
    daemon._loop = threading.Thread(target=daemon.loop, daemon=True)
    daemon._loop.start()
    assert started.wait(5)
    daemon.request_stop()
    daemon.shutdown()
    assert lease.released == 0 and not leadership.is_leader()  # not released, but no longer acting
    finish.set()
    daemon._loop.join(5)

    idle = Leadership(lease := RecordingLease(), renew_interval=10)
    stopped = Daemon(Busy(), Wakeup(), idle, shutdown_timeout=1)  # type: ignore[arg-type]
    stopped.shutdown()
    assert lease.released == 1
