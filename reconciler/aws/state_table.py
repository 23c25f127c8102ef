"""The daemon's DynamoDB table: leader lease plus small durable key/value state.

One table, key schema `pk` (HASH, S) + `sk` (RANGE, S), TTL attribute `ttl`:
  pk="lease"               sk=<lease name>   the leader lease (reconciler.aws.lease)
  pk="dedup#<instance>"    sk=<dedup key>    notify's DedupStore (reported states)
  pk="threads#<instance>"  sk=<thread key>   notify's ThreadStore (Slack thread ts)
  pk="audit#<instance>"    sk=<time>#<id>    the audit trail (reconciler.aws.audit)
  pk="approvals#<instance>" sk=<env>          pending approval requests (reconciler.daemon.approvals)
so a restarted or newly elected replica neither re-sends nor loses threads
(notifications-engine #462). Calls: GetItem, PutItem, DeleteItem, Query
([bc-dynamodb] service-2.json), all on this one table.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from reconciler.aws.clients import AwsClients
from reconciler.aws.errors import AwsError
from reconciler.events import ThreadRef
from reconciler.log import get_logger

log = get_logger(__name__)

DEFAULT_TTL_SECONDS = 30 * 24 * 3600


def table_client(clients: AwsClients, region: str | None) -> Any:
    return clients.client("dynamodb", region=region)


class StateTable:
    """String values under (namespace, key), with an optional expiry (DynamoDB TTL)."""

    def __init__(self, clients: AwsClients, table: str, *, region: str | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.table = table
        self._ddb = table_client(clients, region)
        self._clock = clock

    def get(self, namespace: str, key: str) -> str | None:
        resp = self._ddb.get_item(TableName=self.table, Key=self._key(namespace, key), ConsistentRead=True)
        item = resp.get("Item")
        if not item:
            return None
        ttl = item.get("ttl", {}).get("N")
        if ttl and float(ttl) < self._clock():  # TTL deletion is lazy (up to days): filter ourselves
            return None
        return item.get("value", {}).get("S")

    def put(self, namespace: str, key: str, value: str, ttl_seconds: float | None = DEFAULT_TTL_SECONDS) -> None:
        item = {**self._key(namespace, key), "value": {"S": value}}
        if ttl_seconds:
            item["ttl"] = {"N": str(int(self._clock() + ttl_seconds))}
        self._ddb.put_item(TableName=self.table, Item=item)

    def delete(self, namespace: str, key: str) -> None:
        self._ddb.delete_item(TableName=self.table, Key=self._key(namespace, key))

    def keys(self, namespace: str, prefix: str = "") -> list[str]:
        expr = "pk = :pk" + (" AND begins_with(sk, :prefix)" if prefix else "")
        values: dict[str, Any] = {":pk": {"S": namespace}}
        if prefix:
            values[":prefix"] = {"S": prefix}
        found: list[str] = []
        kwargs: dict[str, Any] = {"TableName": self.table, "KeyConditionExpression": expr,
                                  "ExpressionAttributeValues": values, "ProjectionExpression": "sk"}
        while True:
            resp = self._ddb.query(**kwargs)
            found.extend(i["sk"]["S"] for i in resp.get("Items", []))
            if not resp.get("LastEvaluatedKey"):
                return found
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def items(self, namespace: str, prefix: str = "") -> list[tuple[str, str]]:
        """(key, value) of every unexpired item under `namespace` (and `prefix`), in key order."""
        expr = "pk = :pk" + (" AND begins_with(sk, :prefix)" if prefix else "")
        values: dict[str, Any] = {":pk": {"S": namespace}}
        if prefix:
            values[":prefix"] = {"S": prefix}
        kwargs: dict[str, Any] = {"TableName": self.table, "KeyConditionExpression": expr,
                                  "ExpressionAttributeValues": values, "ConsistentRead": True}
        found: list[tuple[str, str]] = []
        now = self._clock()
        while True:
            resp = self._ddb.query(**kwargs)
            for item in resp.get("Items", []):
                ttl = item.get("ttl", {}).get("N")
                if ttl and float(ttl) < now:
                    continue  # TTL deletion is lazy: filter ourselves
                found.append((item["sk"]["S"], item.get("value", {}).get("S", "")))
            if not resp.get("LastEvaluatedKey"):
                return found
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    @staticmethod
    def _key(namespace: str, key: str) -> dict[str, Any]:
        return {"pk": {"S": namespace}, "sk": {"S": key}}


class DynamoDedupStore:
    """notify's DedupStore over StateTable. Failures degrade to 'not seen' (a duplicate beats silence)."""

    def __init__(self, table: StateTable, instance: str) -> None:
        self._table = table
        self._ns = f"dedup#{instance}"

    def seen(self, key: str) -> bool:
        try:
            return self._table.get(self._ns, key) is not None
        except AwsError as exc:
            log.warning("dedup_store_unreadable", error=str(exc))
            return False

    def remember(self, key: str) -> None:
        try:
            self._table.put(self._ns, key, "1")
        except AwsError as exc:
            log.warning("dedup_store_unwritable", error=str(exc))

    def forget(self, prefix: str) -> None:
        try:
            for key in self._table.keys(self._ns, prefix):
                self._table.delete(self._ns, key)
        except AwsError as exc:
            log.warning("dedup_store_unwritable", error=str(exc))


class DynamoThreadStore:
    """notify's ThreadStore over StateTable: Slack parent messages survive restarts."""

    def __init__(self, table: StateTable, instance: str) -> None:
        self._table = table
        self._ns = f"threads#{instance}"

    def get(self, key: str) -> ThreadRef | None:
        try:
            raw = self._table.get(self._ns, key)
        except AwsError as exc:
            log.warning("thread_store_unreadable", error=str(exc))
            return None
        if not raw or " " not in raw:
            return None
        channel, ts = raw.split(" ", 1)
        return ThreadRef(channel=channel, ts=ts)

    def put(self, key: str, ref: ThreadRef) -> None:
        try:
            self._table.put(self._ns, key, f"{ref.channel} {ref.ts}", ttl_seconds=7 * 24 * 3600)
        except AwsError as exc:
            log.warning("thread_store_unwritable", error=str(exc))

    def forget(self, key: str) -> None:
        try:
            self._table.delete(self._ns, key)
        except AwsError as exc:
            log.warning("thread_store_unwritable", error=str(exc))
