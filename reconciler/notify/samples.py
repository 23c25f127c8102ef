"""Sample report events, one per kind: the rendered examples in docs/notifications.md
and the fixtures of the rendering tests come from here."""
from __future__ import annotations

from reconciler.events import SYNC_STATUS_OF_KIND, CommitInfo, EventKind, ImageChange, ReportEvent, ServiceReport
from reconciler.model import FieldChange

COMMIT = CommitInfo(
    sha="3f9c2a71d0be44c5a8e1f0c9b7d6e5a4f3b2c1d0",
    title="orders: bump to 1.4.2, raise desired count",
    author="Jane Doe",
    timestamp="2026-05-04T10:12:00Z",
    url="https://gitlab.example.com/platform/deploy/-/commit/3f9c2a71d0be44c5a8e1f0c9b7d6e5a4f3b2c1d0",
)
IMAGE_PATH = "taskDefinition/containerDefinitions/web/image"


def service(name: str = "orders", env: str = "prod", **kw: object) -> ServiceReport:
    base: dict[str, object] = dict(
        changes=(FieldChange(IMAGE_PATH, f"registry.example.com/{name}:1.4.2", f"registry.example.com/{name}:1.4.1"),
                 FieldChange("service/desiredCount", 4, 2)),
        images=(ImageChange("web", f"registry.example.com/{name}:1.4.1", f"registry.example.com/{name}:1.4.2"),),
        deployment_id="ecs-svc/5129071298740129834",
        strategy="rolling",
    )
    base.update(kw)
    return ServiceReport(environment=env, service=name, **base)  # type: ignore[arg-type]


def event(kind: EventKind, **kw: object) -> ReportEvent:
    """One realistic event of `kind` (keyword arguments override fields)."""
    svc: dict[str, ServiceReport] = {
        "sync_started": service(status="in_progress"),
        "sync_succeeded": service(status="succeeded", duration_seconds=184.0),
        "sync_failed": service(status="failed", duration_seconds=612.0, stopped_reasons=(
            "Essential container in task exited", "CannotPullContainerError: pull image manifest has been retried 5 time(s)"),
            message="ECS deployment circuit breaker: tasks failed to start."),
        "sync_rolled_back": service(status="rolled_back", duration_seconds=420.0, rolled_back=True,
                                    stopped_reasons=("Essential container in task exited",),
                                    message="ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1"),
        "window_held": service(status="held", deployment_id=None,
                             message="automated sync waits: prod frozen until Mon 09:00 JST"),
        "drift_detected": service(images=(), deployment_id=None, action="report-only",
                                  changes=(FieldChange("service/desiredCount", 4, 7),)),
        "drift_resolved": service(images=(), deployment_id=None, changes=()),
        "approval_needed": service(status="pending"),
        "service_unmanaged": service(images=(), deployment_id=None, changes=()),
    }
    base: dict[str, object] = {"environment": "prod", "commit": COMMIT}
    if kind in svc:
        base["services"] = (svc[kind],)
    if kind.startswith("drift_"):
        base["commit"] = None
    if kind == "manifest_invalid":
        base["issues"] = (
            "prod/orders/service.yaml:12: $.desiredCount: -1 is less than the minimum of 0",
            "prod/orders/taskdef.yaml:30: $.containerDefinitions[0].image: 'latest' tag is not allowed",
        )
    if kind == "reconciler_degraded":
        base.update(commit=None, reason="git unreachable: fatal: unable to access remote (timeout after 30s)")
    if kind == "reconciler_recovered":
        base.update(commit=None, reason="git reachable again")
    if kind == "sync_failed":
        base["reason"] = "1 of 1 services failed"
    if kind == "service_unmanaged":
        base["reason"] = "no longer declared in git; left running in AWS, not deleted"
    base.update(kw)
    return ReportEvent(kind=kind, **base)  # type: ignore[arg-type]


def many_services(kind: EventKind = "sync_succeeded", n: int = 40) -> ReportEvent:
    """One commit touching `n` services: a summary parent plus a thread of details."""
    status = SYNC_STATUS_OF_KIND.get(kind)
    return ReportEvent(kind=kind, environment="prod", commit=COMMIT, services=tuple(
        service(f"svc-{i:02d}", status=status, duration_seconds=60.0 + i) for i in range(n)))
