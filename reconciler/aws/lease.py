"""Leader lease in DynamoDB: only the holder applies; a standby takes over on expiry.

Every transition is a conditional write ([ddb-dg] Condition expressions), so two
replicas can never both believe they won the same term:
  acquire  UpdateItem if absent, expired, or already ours; `epoch` + 1 (ADD)
  renew    UpdateItem if still ours in the same epoch (extends `expires_at`)
  release  UpdateItem if still ours in the same epoch: no holder, expired (a standby takes over
           at once); the item stays, so the epoch keeps growing (deleting it would restart the
           count at 1, and work of an old term of a replica that takes the lease again would pass)
The epoch is the fencing token: it grows with every acquisition, so work started
under an older epoch can tell that the lease moved (reconciler.daemon.leader.Fence).
Expiry compares wall-clock seconds written by different hosts; the margin that
absorbs clock skew is the gap between `duration` and the renew interval, and
the holder stops acting as leader `safety` seconds before its own expiry.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from reconciler.aws.clients import AwsClients
from reconciler.aws.errors import AwsConflict
from reconciler.aws.state_table import table_client

LEASE_PK = "lease"


@dataclass(frozen=True)
class LeaseInfo:
    holder: str
    expires_at: float
    epoch: int = 0


class DynamoLease:
    def __init__(self, clients: AwsClients, table: str, name: str, holder: str, *, duration: float = 30.0,
                 region: str | None = None, clock: Callable[[], float] = time.time) -> None:
        self.table, self.name, self.holder, self.duration = table, name, holder, duration
        self._ddb = table_client(clients, region)
        self._clock = clock
        self._valid_until = 0.0
        #: The epoch of our current (or last) term; 0 before the first acquisition.
        self.epoch = 0

    @property
    def _key(self) -> dict[str, dict[str, str]]:
        return {"pk": {"S": LEASE_PK}, "sk": {"S": self.name}}

    def held(self, safety: float = 0.0) -> bool:
        """True while our last successful write still covers now (minus `safety`)."""
        return self._clock() < self._valid_until - safety

    def acquire(self) -> bool:
        """Take the lease if it is free, expired or already ours. Raises AwsError on other failures."""
        now = self._clock()
        expires = now + self.duration
        try:
            resp = self._ddb.update_item(
                TableName=self.table, Key=self._key,
                UpdateExpression="SET holder = :me, expires_at = :exp, acquired_at = :now, #ttl = :ttl "
                                 "ADD epoch :one",
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now OR holder = :me",
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues={":now": {"N": repr(now)}, ":me": {"S": self.holder},
                                           ":exp": {"N": repr(expires)}, ":one": {"N": "1"},
                                           ":ttl": {"N": str(int(expires + 3600))}},
                ReturnValues="ALL_NEW")
        except AwsConflict:  # ConditionalCheckFailedException: someone else holds it
            self._valid_until = 0.0
            return False
        self.epoch = int(resp["Attributes"]["epoch"]["N"])
        self._valid_until = expires
        return True

    def renew(self) -> bool:
        now = self._clock()
        expires = now + self.duration
        try:
            self._ddb.update_item(
                TableName=self.table, Key=self._key,
                UpdateExpression="SET expires_at = :exp, #ttl = :ttl",
                ConditionExpression="holder = :me AND epoch = :epoch",
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues={":exp": {"N": repr(expires)}, ":me": {"S": self.holder},
                                           ":epoch": {"N": str(self.epoch)},
                                           ":ttl": {"N": str(int(expires + 3600))}})
        except AwsConflict:
            self._valid_until = 0.0
            return False
        self._valid_until = expires
        return True

    def release(self) -> None:
        """Give the lease up now, so a standby need not wait for expiry. Never raises for 'not ours'."""
        self._valid_until = 0.0
        try:
            self._ddb.update_item(TableName=self.table, Key=self._key,
                                  UpdateExpression="SET expires_at = :zero REMOVE holder",
                                  ConditionExpression="holder = :me AND epoch = :epoch",
                                  ExpressionAttributeValues={":me": {"S": self.holder}, ":zero": {"N": "0"},
                                                             ":epoch": {"N": str(self.epoch)}})
        except AwsConflict:
            pass

    def current(self) -> LeaseInfo | None:
        item = self._ddb.get_item(TableName=self.table, Key=self._key, ConsistentRead=True).get("Item")
        if not item or "holder" not in item:  # never taken, or released
            return None
        return LeaseInfo(holder=item["holder"]["S"], expires_at=float(item["expires_at"]["N"]),
                         epoch=int(item.get("epoch", {}).get("N", "0")))
