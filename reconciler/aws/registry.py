"""The live replicas of one instance: each heartbeats an item in the state table.

  pk="replicas#<instance>"  sk=<holder>  value={"expires_at": <unix seconds>, "layout": <shard split>}
The replicas that count are the unexpired ones; each says which shard layout it runs with
(`RECONCILER_SHARD_SPLIT`, canonical; a replica of a version that did not say counts as ""). The expiry is the float in the value, compared
by the reader (DynamoDB's own TTL deletes lazily, within days, and in whole seconds), so a
replica that stopped heartbeating drops out exactly one lease duration after its last beat,
as its shard leases expire (reconciler.daemon.leader.ShardLeadership).
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable

from reconciler.aws.state_table import StateTable

#: How long DynamoDB keeps a dead replica's item after it expired (only to clean up).
CLEANUP_SECONDS = 3600.0


class ReplicaRegistry:
    def __init__(self, table: StateTable, instance: str, holder: str, *, duration: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.table, self.holder, self.duration = table, holder, duration
        self._ns = f"replicas#{instance}"
        self._clock = clock

    def heartbeat(self, layout: str = "") -> None:
        """Say this replica is alive for another `duration` seconds, running shard `layout`. Raises AwsError."""
        expires = self._clock() + self.duration
        self.table.put(self._ns, self.holder, json.dumps({"expires_at": expires, "layout": layout}),
                       ttl_seconds=self.duration + CLEANUP_SECONDS)

    def live(self) -> dict[str, str]:
        """The holders whose heartbeat has not expired, with the shard layout each runs. Raises AwsError."""
        now = self._clock()
        found = {}
        for holder, raw in self.table.items(self._ns):
            try:
                value = json.loads(raw)
                expires = float(value["expires_at"])
                layout = str(value.get("layout") or "")
            except (ValueError, TypeError, KeyError, AttributeError):
                continue  # not an item we wrote: never counted as a replica
            if expires > now:
                found[holder] = layout
        return dict(sorted(found.items()))

    def leave(self) -> None:
        """Drop out at once (on shutdown), so the others take our shards without waiting."""
        self.table.delete(self._ns, self.holder)
