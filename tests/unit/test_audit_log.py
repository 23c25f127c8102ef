"""The audit trail in the state table: written with a TTL, listed newest first, filtered."""
from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from reconciler.aws.audit import DynamoAuditLog
from reconciler.aws.clients import AwsClients
from reconciler.aws.state_table import StateTable
from reconciler.chatops.audit import AuditRecord, render_text

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


def test_records_listed_newest_first_and_expire(clients) -> None:
    now = [1_700_000_000.0]
    table = StateTable(clients, TABLE, clock=lambda: now[0])
    log = DynamoAuditLog(table, "ecs-reconciler", ttl_seconds=3600, clock=lambda: now[0])
    log.record(AuditRecord("deploy", "accepted", actor_id="U0DANA", actor_name="dana", channel="C0DEPLOY",
                           environment="staging", service="web", resulting_commit="a" * 40))
    now[0] += 10
    log.record(AuditRecord("approve", "refused", actor_id="U0EVE", environment="production", commit="b" * 40,
                           plan_hash="c" * 64, reason="you may not approve"))
    records = log.history()
    assert [r.action for r in records] == ["approve", "deploy"]
    assert records[1].resulting_commit == "a" * 40 and records[1].at == "2023-11-14T22:13:20.000Z"
    assert [r.action for r in log.history(environment="staging", service="web")] == ["deploy"]
    text = render_text(records)
    assert "dana" in text and "refused" in text and "you may not approve" in text
    items = boto3.client("dynamodb", region_name="eu-west-1").scan(TableName=TABLE)["Items"]
    assert sorted(int(i["ttl"]["N"]) - 1_700_000_000 for i in items) == [3600, 3610]
    now[0] += 3595  # the first one's TTL passed (DynamoDB deletes lazily; we filter)
    assert [r.action for r in log.history()] == ["approve"]
