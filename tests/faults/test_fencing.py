"""Fencing against the sandbox over HTTP: a write checked immediately before each HTTP attempt
never leaves once the lease moved (the sandbox never sees it); reads are never fenced. A fenced
attempt is no AWS call: the daemon counts it in reconciler_fenced_writes_total only."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from gitserver import GitDaemon, ManifestRepo  # noqa: E402
from test_daemon_helpers import LEASE_TABLE as TABLE  # noqa: E402
from test_daemon_helpers import DaemonProcess, create_state_table, set_image, synced  # noqa: E402
from test_notify_daemon_helpers import metric, single_service_repo  # noqa: E402

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
    clients.counter.add_guard(fence.check)
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


def test_a_fenced_write_is_not_counted_as_an_aws_call(sandbox, clients, daemons, tmp_path: Path) -> None:
    """A leader whose lease moved while its UpdateService was on the wire (held 3 s by the sandbox's
    injected latency, then answered 500 unapplied; the lease is taken meanwhile by a replica whose
    clock runs ahead): botocore's retry of it is fenced, never reaches AWS, and is not an AWS call
    in /metrics (1 attempt sent, 1 fenced)."""
    with GitDaemon(tmp_path / "srv") as server:
        repo = ManifestRepo.create(tmp_path / "srv", "manifests", tmp_path / "work")
        single_service_repo(repo)
        a = DaemonProcess(tmp_path, "a", sandbox, server.url("manifests"), environment="staging",
                          state_table=TABLE, lease_duration="4", lease_renew_interval="1", poll_interval="0.3")
        daemons.append(a.start())
        a.wait_for(synced("staging/web", commit=repo.head()), "first sync", deadline=90)
        ecs = sandbox.client("ecs")
        before = ecs.describe_services(cluster="staging", services=["web"])["services"][0]["deployments"]
        sent = metric(a, "reconciler_aws_calls_total", service="ecs", action="UpdateService")

        sandbox.add_latency("UpdateService", 3.0)
        sandbox.server_error("UpdateService", 1)
        set_image(repo, "staging", "web", "1.5.0")
        repo.commit("web 1.5.0")
        end = time.monotonic() + 60
        while sandbox.held("UpdateService") < 1:
            assert time.monotonic() < end, "UpdateService never arrived"
            time.sleep(0.05)
        ahead = DynamoLease(clients, TABLE, "ecs-reconciler", "b", duration=3600, clock=lambda: time.time() + 60)
        assert ahead.acquire()  # a's renewal (every 1 s) now fails: a stops leading
        a.wait_for(lambda s: s.get("leader") is False, "a steps down")
        end = time.monotonic() + 30
        while not (fenced := [e for e in a.log_events() if e.get("event") == "write_fenced"]):
            assert time.monotonic() < end, a.log_tail()
            time.sleep(0.1)
        assert [e["action"] for e in fenced] == ["UpdateService"], fenced
        assert metric(a, "reconciler_fenced_writes_total", service="ecs", action="UpdateService") == 1
        # The attempt that reached AWS (answered 500) is a call; its fenced retry is not.
        assert metric(a, "reconciler_aws_calls_total", service="ecs", action="UpdateService") == sent + 1
        after = ecs.describe_services(cluster="staging", services=["web"])["services"][0]["deployments"]
        assert [d["id"] for d in after] == [d["id"] for d in before]  # AWS never saw it
