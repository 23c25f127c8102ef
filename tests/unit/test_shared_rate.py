"""The RegisterTaskDefinition bucket shared by all replicas through the state table (moto
in-process, injected clock): slots are handed out in order whoever asks, the burst once, then
one per 1/rate; an unreachable table falls back to this replica's share."""
from __future__ import annotations

from test_lease_dynamo import TABLE, Clock, clients  # noqa: F401 - fixture

from reconciler.aws.ratelimit import SharedBucket


class Counting:
    def __init__(self) -> None:
        self.calls = 0

    def acquire(self) -> float:
        self.calls += 1
        return 0.0


def test_replicas_share_one_bucket_and_never_exceed_its_rate_together(clients) -> None:
    clock = Clock()
    slept: list[float] = []
    buckets = [SharedBucket(clients, TABLE, "inst", "register", rate=1.0, burst=5, fallback=Counting(),
                            clock=clock, sleep=slept.append) for _ in range(3)]
    waits = [buckets[i % 3].acquire() for i in range(8)]  # three replicas asking in turn, all at once
    assert waits == [0, 0, 0, 0, 0, 1.0, 2.0, 3.0]  # the burst, then one slot per second, in order
    assert slept == [1.0, 2.0, 3.0]
    clock.t += 10  # the bucket refills (up to the burst, never more)
    assert [buckets[2].acquire() for _ in range(6)] == [0, 0, 0, 0, 0, 1.0]


def test_a_replica_alone_uses_the_whole_rate(clients) -> None:
    clock = Clock()
    bucket = SharedBucket(clients, TABLE, "inst", "register", rate=2.0, burst=2, fallback=Counting(),
                          clock=clock, sleep=lambda s: None)
    assert [bucket.acquire() for _ in range(4)] == [0, 0, 0.5, 1.0]  # not a third: nobody else registers


def test_an_unreachable_table_falls_back_to_the_local_share(clients) -> None:
    fallback = Counting()
    bucket = SharedBucket(clients, "no-such-table", "inst", "register", rate=1.0, burst=5, fallback=fallback,
                          clock=Clock(), sleep=lambda s: None)
    bucket.acquire()
    assert fallback.calls == 1
