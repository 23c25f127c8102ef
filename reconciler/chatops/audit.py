"""The audit trail: one record per request and per outcome (who, where, when, what, result). Pure.

Stored by reconciler.aws.audit in the daemon's DynamoDB state table; read by
`reconciler history`, `/reconciler history` and GET /status.
"""
from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal, Protocol

Result = Literal["accepted", "refused", "applied", "failed", "requested", "approved", "rejected", "superseded",
                 "expired", "ignored"]


@dataclass(frozen=True)
class AuditRecord:
    action: str                       # status, deploy, approve, approval-request, …
    result: str                       # one of Result
    at: str = ""                      # ISO 8601 UTC; set by `stamp`
    actor_id: str | None = None       # Slack user ID (or "api" / "daemon")
    actor_name: str | None = None
    channel: str | None = None
    environment: str | None = None
    service: str | None = None
    commit: str | None = None         # the commit the request was about
    plan_hash: str | None = None
    reason: str | None = None         # why refused / failed, or what happened
    resulting_commit: str | None = None  # deploy/promote: the commit pushed
    deployment: str | None = None     # rollback/continue: the deployment touched
    id: str = ""

    def stamp(self, now: float) -> AuditRecord:
        at = dt.datetime.fromtimestamp(now, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return _replace(self, at=self.at or at, id=self.id or uuid.uuid4().hex[:12])

    @property
    def key(self) -> str:
        return f"{self.at}#{self.id}"

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> AuditRecord:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in known})

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True)


def _replace(record: AuditRecord, **changes: Any) -> AuditRecord:
    from dataclasses import replace

    return replace(record, **changes)


class AuditLog(Protocol):
    def record(self, record: AuditRecord) -> AuditRecord: ...

    def history(self, environment: str | None = None, service: str | None = None,
                limit: int = 100) -> list[AuditRecord]: ...


def select(records: Iterable[AuditRecord], environment: str | None, service: str | None,
           limit: int) -> list[AuditRecord]:
    """Newest first, filtered by environment and service (a promote matches its target too)."""
    out = [r for r in records if (environment is None or r.environment == environment)
           and (service is None or r.service == service or (r.service or "").split(",").count(service))]
    out.sort(key=lambda r: r.key, reverse=True)
    return out[:limit]


class MemoryAuditLog:
    """In-process audit log for a daemon without a state table (single replica, lost on restart)."""

    def __init__(self, clock: Any) -> None:
        self._clock = clock
        self._records: list[AuditRecord] = []

    def record(self, record: AuditRecord) -> AuditRecord:
        record = record.stamp(self._clock())
        self._records.append(record)
        del self._records[:-1000]
        return record

    def history(self, environment: str | None = None, service: str | None = None,
                limit: int = 100) -> list[AuditRecord]:
        return select(self._records, environment, service, limit)


def render_text(records: Iterable[AuditRecord]) -> str:
    rows = [("WHEN", "WHO", "ACTION", "ENV/SERVICE", "RESULT", "COMMIT", "DETAIL")]
    for r in records:
        who = r.actor_name or r.actor_id or "-"
        where = "/".join(x for x in (r.environment, r.service) if x) or "-"
        commit = (r.resulting_commit or r.commit or "-")[:8]
        rows.append((r.at[:19].replace("T", " "), who, r.action, where, r.result, commit,
                     (r.reason or "") + (f" (in {r.channel})" if r.channel else "")))
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    return "\n".join(("  ".join(row[i].ljust(widths[i]) for i in range(6)) + "  " + row[6]).rstrip() for row in rows)
