"""Generic JSON: the event's facts as stable, documented JSON for any receiver.

Field names are camelCase and never removed (receivers parse them); values are
raw (not escaped) because the receiver decides how to display them.
"""
from __future__ import annotations

from typing import Any

from reconciler.events import ReportEvent, ServiceReport
from reconciler.notify import content
from reconciler.notify.threads import thread_key

SCHEMA_VERSION = 1


def _service(s: ServiceReport) -> dict[str, Any]:
    return {
        "environment": s.environment,
        "service": s.service,
        "status": s.status,
        "strategy": s.strategy,
        "deploymentId": s.deployment_id,
        "durationSeconds": s.duration_seconds,
        "images": [{"container": i.container, "old": i.old, "new": i.new} for i in s.images],
        "changes": [c.to_json() for c in s.changes],
        "stoppedReasons": list(s.stopped_reasons),
        "rolledBack": s.rolled_back,
        "message": s.message,
        "action": s.action,
    }


def render_generic(event: ReportEvent) -> dict[str, Any]:
    c = event.commit
    return {
        "schemaVersion": SCHEMA_VERSION,
        "kind": event.kind,
        "title": content.title(event),
        "summary": content.subject(event),
        "severity": content.SEVERITY.get(event.kind, "accent"),
        "environment": event.environment,
        "dedupKey": event.dedup_key,
        "threadKey": thread_key(event),
        "commit": None if c is None else {
            "sha": c.sha, "short": c.short, "title": c.title, "author": c.author,
            "timestamp": c.timestamp, "url": c.url,
        },
        "services": [_service(s) for s in event.services],
        "issues": list(event.issues),
        "reason": event.reason,
        "extra": dict(event.extra),
    }
