"""Fencing against the sandbox over HTTP: a write checked immediately before each HTTP attempt
never leaves once the lease moved (the sandbox never sees it); reads are never fenced."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from test_daemon_helpers import LEASE_TABLE as TABLE  # noqa: E402
from test_daemon_helpers import create_state_table  # noqa: E402

from reconciler.aws.clients import AwsClients  # noqa: E402
from reconciler.aws.lease import DynamoLease  # noqa: E402
from reconciler.daemon.leader import Fence, Leadership, LeaseLost  # noqa: E402

pytestmark = pytest.mark.e2e


class Clock:
    def __init__(self) -> None:
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clients(sandbox, monkeypatch):
    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    create_state_table(sandbox)
    return AwsClients()


def test_fence_refuses_writes_after_the_lease_moved_reads_pass(clients) -> None:
    clock = Clock()
    lease = DynamoLease(clients, TABLE, "prod", "a", duration=30, clock=clock)
    leadership = Leadership(lease, renew_interval=10)
    leadership.tick()
    fence = Fence(leadership)
    clients.counter.add_listener(fence.check)
    ecs = clients.client("ecs")
    with fence.term():
        ecs.create_cluster(clusterName="before")  # leader, current term: sent
        clock.t += 31  # our lease lapsed; a standby takes over (epoch 2)
        assert DynamoLease(clients, TABLE, "prod", "b", duration=30, clock=clock).acquire()
        with pytest.raises(LeaseLost):
            ecs.create_cluster(clusterName="after")
        assert ecs.list_clusters()["clusterArns"]  # reads are never fenced
        clock.t += 31
        leadership.tick()  # we lead again, in a newer term than this work started under
        assert leadership.is_leader() and lease.epoch == 3
        with pytest.raises(LeaseLost):
            ecs.create_cluster(clusterName="stale-term")
        assert not fence.valid()
    with fence.term():
        ecs.create_cluster(clusterName="new-term")
    names = sorted(a.rsplit("/", 1)[-1] for a in ecs.list_clusters()["clusterArns"])
    assert {"before", "new-term"} <= set(names) and not {"after", "stale-term"} & set(names), names
