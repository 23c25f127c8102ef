"""Report events: the one interface between the reconciler and the notify layer.

The daemon and `reconciler sync` emit these; `reconciler.notify` renders and
delivers them. They carry facts only (no formatting), and a `dedup_key` that
holds no timestamps or durations, so the same state is reported once.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, get_args

from reconciler.model import FieldChange

EventKind = Literal[
    "sync_started",
    "sync_succeeded",
    "sync_failed",
    "sync_rolled_back",
    "window_held",
    "drift_detected",
    "drift_resolved",
    "manifest_invalid",
    "approval_needed",
    "reconciler_degraded",
    "reconciler_recovered",
    "service_unmanaged",
]
#: Every kind, for configuration checks (notify routes) and tests: derived from the Literal,
#: so a new kind is known everywhere at once.
EVENT_KINDS: frozenset[str] = frozenset(get_args(EventKind))
#: A service's sync status (ServiceReport.status) and the kind of event that reports it: apply
#: emits by it, notify batches and summarises by it.
SYNC_KIND_OF_STATUS: Mapping[str, EventKind] = {
    "in_progress": "sync_started",
    "succeeded": "sync_succeeded",
    "failed": "sync_failed",
    "rolled_back": "sync_rolled_back",
}
SYNC_STATUS_OF_KIND: Mapping[str, str] = {kind: status for status, kind in SYNC_KIND_OF_STATUS.items()}


@dataclass(frozen=True)
class ThreadRef:
    """A posted chat parent message (Slack needs the channel *ID*, not its name, to update it).

    Lives here, below both `reconciler.notify` (which threads replies under it) and
    `reconciler.aws.state_table` (which keeps it across restarts), so neither imports the other.
    """

    channel: str
    ts: str


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    title: str = ""
    author: str = ""
    timestamp: str = ""       # ISO-8601
    url: str | None = None    # link to the commit page, when the repo URL allows one

    @property
    def short(self) -> str:
        return self.sha[:8]


@dataclass(frozen=True)
class ImageChange:
    container: str
    old: str | None
    new: str


@dataclass(frozen=True)
class ServiceReport:
    """What happened to one service within an event."""

    environment: str
    service: str
    changes: tuple[FieldChange, ...] = ()
    images: tuple[ImageChange, ...] = ()
    deployment_id: str | None = None
    strategy: str | None = None            # rolling | blue-green
    status: str | None = None              # succeeded | failed | rolled_back | in_progress
    duration_seconds: float | None = None
    stopped_reasons: tuple[str, ...] = ()  # failing tasks' stoppedReason
    rolled_back: bool = False
    message: str = ""                      # human explanation, e.g. AWS's rolloutStateReason
    action: str | None = None              # drift: "self-heal" | "report-only"
    digests: tuple[tuple[str, str], ...] = ()  # (image, digest its tag resolved to before deploying)


@dataclass(frozen=True)
class ReportEvent:
    kind: EventKind
    environment: str | None = None
    commit: CommitInfo | None = None
    services: tuple[ServiceReport, ...] = ()
    issues: tuple[str, ...] = ()           # manifest_invalid: "file:line: path: reason"
    reason: str = ""                       # degraded/recovered/failed: why
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def dedup_key(self) -> str:
        """Stable identity of the reported state: no time, no duration."""
        if self.extra.get("dedup_key"):
            return str(self.extra["dedup_key"])
        svc = ",".join(sorted(f"{s.environment}/{s.service}" for s in self.services))
        detail = ""
        if self.kind == "drift_detected":
            detail = "|".join(sorted(c.path + "=" + repr(c.live) for s in self.services for c in s.changes))
        elif self.kind == "manifest_invalid":
            detail = "|".join(sorted(self.issues))
        elif self.kind in ("reconciler_degraded", "reconciler_recovered"):
            detail = self.reason
        elif self.kind.startswith("sync_"):
            # A self-heal re-sync of an already reported commit is a new deployment: report it.
            detail = "|".join(sorted(s.deployment_id or "" for s in self.services))
        sha = self.commit.sha if self.commit else ""
        return f"{self.kind}:{self.environment or ''}:{svc}:{sha}:{detail}"


class ReportSink(Protocol):
    """Where report events go. Implementations must never block reconciling."""

    def emit(self, event: ReportEvent) -> None: ...


class NullSink:
    def emit(self, event: ReportEvent) -> None:  # noqa: D102 - deliberately drops
        return None


class ListSink:
    """Collects events in memory (tests, and `reconciler sync` summaries)."""

    def __init__(self) -> None:
        self.events: list[ReportEvent] = []

    def emit(self, event: ReportEvent) -> None:
        self.events.append(event)
