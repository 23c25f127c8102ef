"""The audit trail in the daemon's DynamoDB state table (reconciler.aws.state_table).

  pk="audit#<instance>"  sk="<ISO time>#<id>"  value=<record JSON>  ttl=<expiry>

Records expire through DynamoDB TTL (`RECONCILER_AUDIT_TTL`); a Query on the one
partition lists them in time order. Writing never breaks the action it records: a
failed write is logged.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable

from reconciler.aws.errors import AwsError
from reconciler.aws.state_table import StateTable
from reconciler.chatops.audit import AuditRecord, select
from reconciler.log import get_logger

log = get_logger(__name__)

DEFAULT_AUDIT_TTL = 90 * 24 * 3600


class DynamoAuditLog:
    def __init__(self, table: StateTable, instance: str, *, ttl_seconds: float = DEFAULT_AUDIT_TTL,
                 clock: Callable[[], float] = time.time) -> None:
        self._table = table
        self._ns = f"audit#{instance}"
        self._ttl = ttl_seconds
        self._clock = clock

    def record(self, record: AuditRecord) -> AuditRecord:
        record = record.stamp(self._clock())
        log.info("audit", **record.to_json())
        try:
            self._table.put(self._ns, record.key, record.dumps(), ttl_seconds=self._ttl)
        except AwsError as exc:
            log.warning("audit_unwritable", error=str(exc))
        return record

    def history(self, environment: str | None = None, service: str | None = None,
                limit: int = 100) -> list[AuditRecord]:
        records = []
        for _, value in self._table.items(self._ns):
            try:
                records.append(AuditRecord.from_json(json.loads(value)))
            except (ValueError, TypeError):
                continue
        return select(records, environment, service, limit)
