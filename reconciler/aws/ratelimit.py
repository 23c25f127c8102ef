"""A token bucket shared by every replica through one item of the state table (GCRA).

ECS's RegisterTaskDefinition limit (burst 20, 1/s per account and Region, aws-behaviour.md §5)
binds all replicas together. Dividing the rate by the number of replicas keeps them inside it,
but a replica with most of the work then runs at its share while the others idle. Here the
replicas reserve registration slots in one item instead (the generic cell rate algorithm):
  pk="ratelimit#<instance>"  sk=<name>  tat=<theoretical arrival time, unix seconds>
A reservation reads `tat`, moves it on by 1/rate with a conditional write (so two replicas
never take the same slot), and the caller waits until its slot: a full bucket lets `burst`
calls through at once, then one every 1/rate seconds, whoever makes them. Two calls per
registration (GetItem, UpdateItem), at most one registration per second: nothing next to
the lease traffic. When the table cannot be reached the `fallback` (this replica's share of
the rate, reconciler.aws.taskdefs.TokenBucket.share) paces instead.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

from reconciler.aws.clients import AwsClients
from reconciler.aws.errors import AwsConflict, AwsError
from reconciler.aws.state_table import table_client
from reconciler.aws.taskdefs import Pacer
from reconciler.log import get_logger

log = get_logger(__name__)

#: Conditional-write conflicts (another replica reserved first) retried before the fallback paces.
MAX_CONFLICTS = 20


class SharedBucket:
    def __init__(self, clients: AwsClients, table: str, instance: str, name: str, *, rate: float, burst: int,
                 fallback: Pacer, region: str | None = None, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0 or burst <= 0:
            raise ValueError("rate and burst must be positive")
        self.table, self.rate, self.burst, self.fallback = table, rate, burst, fallback
        self._key = {"pk": {"S": f"ratelimit#{instance}"}, "sk": {"S": name}}
        self._ddb = table_client(clients, region)
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()  # one reservation at a time from this replica: conflicts only between replicas

    def _reserve(self) -> float | None:
        """Take the next slot; returns how long to wait for it, or None when the table failed us."""
        with self._lock:
            for _ in range(MAX_CONFLICTS):
                try:
                    item = self._ddb.get_item(TableName=self.table, Key=self._key, ConsistentRead=True).get("Item")
                    old = item["tat"]["N"] if item and "tat" in item else None
                    now = self._clock()
                    tat = max(float(old) if old is not None else 0.0, now)
                    new = tat + 1.0 / self.rate
                    condition = "attribute_not_exists(tat)" if old is None else "tat = :old"
                    values = {":new": {"N": repr(new)}, **({":old": {"N": old}} if old is not None else {})}
                    self._ddb.update_item(TableName=self.table, Key=self._key, UpdateExpression="SET tat = :new",
                                          ConditionExpression=condition, ExpressionAttributeValues=values)
                except AwsConflict:
                    continue  # another replica took that slot: read again
                except (AwsError, KeyError, ValueError) as exc:
                    log.warning("shared_rate_unavailable", error=str(exc))
                    return None
                # GCRA: allowed once `new` is within burst/rate of now.
                return max(0.0, new - self.burst / self.rate - now)
        log.warning("shared_rate_contended", conflicts=MAX_CONFLICTS)
        return None

    def acquire(self) -> float:
        wait = self._reserve()
        if wait is None:
            return self.fallback.acquire()
        if wait > 0:
            self._sleep(wait)
        return wait
