"""Outcome of applying a plan: one ServiceResult per service, aggregated in ApplyResult."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["succeeded", "failed", "rolled_back", "in_progress", "skipped", "noop"]
#: Statuses that make the whole apply fail (exit 1).
FAILING: frozenset[str] = frozenset({"failed", "rolled_back"})


@dataclass(frozen=True)
class ServiceResult:
    environment: str
    service: str
    action: str
    status: Status
    deployment_id: str | None = None
    task_definition_arn: str | None = None
    registered: bool = False          # a new task definition revision was registered
    message: str = ""
    stopped_reasons: tuple[str, ...] = ()
    rolled_back: bool = False
    duration_seconds: float = 0.0
    image_digests: tuple[tuple[str, str], ...] = ()   # (image as written, digest it resolved to)

    @property
    def key(self) -> str:
        return f"{self.environment}/{self.service}"

    @property
    def ok(self) -> bool:
        return self.status not in FAILING

    def to_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment, "service": self.service, "action": self.action,
            "status": self.status, "deploymentId": self.deployment_id,
            "taskDefinitionArn": self.task_definition_arn, "registered": self.registered,
            "message": self.message, "stoppedReasons": list(self.stopped_reasons),
            "rolledBack": self.rolled_back, "durationSeconds": round(self.duration_seconds, 3),
            "imageDigests": dict(self.image_digests),
        }


@dataclass(frozen=True)
class ApplyResult:
    services: tuple[ServiceResult, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> list[str]:
        return [r.key for r in self.services if not r.ok]

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def registered(self) -> int:
        return sum(1 for r in self.services if r.registered)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "failed": self.failed, "services": [r.to_json() for r in self.services]}


@dataclass(frozen=True)
class Outcome:
    """What one deployment wait concluded (rolling or CodeDeploy)."""

    status: Status
    deployment_id: str | None = None
    message: str = ""
    stopped_reasons: tuple[str, ...] = ()
    rolled_back: bool = False


def unknown(deployment_id: str | None, error: str) -> Outcome:
    """AWS could not be read while following: the deployment's outcome is unknown, never "failed".
    It goes on in AWS; the next cycle follows it, or records it once it completed."""
    return Outcome("in_progress", deployment_id, f"outcome unknown, still following: AWS unreadable ({error})")


def released(deployment_id: str | None) -> Outcome:
    """A wait given up because this process may no longer act (SIGTERM, leadership lost): the
    deployment keeps running in AWS and whoever leads next follows it."""
    return Outcome("in_progress", deployment_id,
                   "no longer followed here (shutting down or leadership lost); it continues in AWS")
