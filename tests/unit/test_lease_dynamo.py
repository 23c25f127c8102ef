"""Leader lease and state table on DynamoDB (moto in-process): conditional writes, expiry, takeover."""
from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from reconciler.aws.clients import AwsClients
from reconciler.aws.lease import DynamoLease
from reconciler.aws.state_table import DynamoDedupStore, DynamoThreadStore, StateTable
from reconciler.daemon.leader import Leadership

TABLE = "ecs-reconciler-state"


@pytest.fixture
def clients(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        boto3.client("dynamodb", region_name="eu-west-1").create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}])
        yield AwsClients()


class Clock:
    def __init__(self) -> None:
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t


def test_only_one_holder_then_takeover_after_expiry(clients) -> None:
    clock = Clock()
    a = DynamoLease(clients, TABLE, "prod", "replica-a", duration=30, clock=clock)
    b = DynamoLease(clients, TABLE, "prod", "replica-b", duration=30, clock=clock)
    assert a.acquire() and a.held()
    assert not b.acquire() and not b.held()
    clock.t += 20
    assert a.renew()                       # renewal extends the lease
    clock.t += 20
    assert not b.acquire()                 # still within a's renewed term
    assert a.current().holder == "replica-a"
    clock.t += 11                          # a stopped renewing: expired
    assert not a.held()
    assert b.acquire()
    assert not a.renew()                   # a learns it lost the lease
    assert a.current().holder == "replica-b"


def test_release_lets_standby_in_at_once(clients) -> None:
    clock = Clock()
    a = DynamoLease(clients, TABLE, "prod", "a", clock=clock)
    b = DynamoLease(clients, TABLE, "prod", "b", clock=clock)
    assert a.acquire()
    b.release()                            # releasing a lease we do not hold changes nothing
    assert a.current().holder == "a"
    a.release()
    assert a.current() is None and b.acquire()


def test_leadership_gain_loss_and_safety_margin(clients) -> None:
    clock = Clock()
    gained: list[str] = []
    lead = Leadership(DynamoLease(clients, TABLE, "x", "a", duration=30, clock=clock), renew_interval=10,
                      on_gain=lambda: gained.append("a"))
    other = DynamoLease(clients, TABLE, "x", "b", duration=30, clock=clock)
    lead.tick()
    assert lead.is_leader() and gained == ["a"] and lead.contact_ok
    clock.t += 26                           # within 5 s (renew_interval/2) of expiry: stop acting
    assert not lead.is_leader()
    clock.t += 5
    assert other.acquire()
    lead.tick()
    assert not lead.is_leader() and gained == ["a"]
    lead.stop(release=True)
    assert other.current().holder == "b"    # stop() released nothing of b's


def test_state_table_dedup_and_threads(clients) -> None:
    from reconciler.notify.threads import ThreadRef

    clock = Clock()
    table = StateTable(clients, TABLE, clock=clock)
    dedup = DynamoDedupStore(table, "ecs-reconciler")
    dedup.remember("drift_detected:staging:staging/web:sha:a")
    dedup.remember("drift_detected:staging:staging/api:sha:b")
    assert dedup.seen("drift_detected:staging:staging/web:sha:a")
    dedup.forget("drift_detected:staging:staging/web:")
    assert not dedup.seen("drift_detected:staging:staging/web:sha:a")
    assert dedup.seen("drift_detected:staging:staging/api:sha:b")
    threads = DynamoThreadStore(table, "ecs-reconciler")
    threads.put("deploy:staging:abc", ThreadRef("C012", "1700000000.000100"))
    assert threads.get("deploy:staging:abc") == ThreadRef("C012", "1700000000.000100")
    threads.forget("deploy:staging:abc")
    assert threads.get("deploy:staging:abc") is None
    table.put("ns", "k", "v", ttl_seconds=10)
    clock.t += 11
    assert table.get("ns", "k") is None     # expired items are ignored before DynamoDB deletes them
