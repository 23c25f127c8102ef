"""Report events for one service's state changes (the notify layer aggregates them)."""
from __future__ import annotations

from dataclasses import replace

from reconciler.apply.result import ServiceResult
from reconciler.events import SYNC_KIND_OF_STATUS, CommitInfo, ImageChange, ReportEvent, ReportSink, ServiceReport
from reconciler.log import get_logger
from reconciler.plan import ServicePlan

log = get_logger(__name__)

#: The final statuses of a service's sync and the event kind of each (reconciler.events holds the mapping).
FINAL_KINDS = {status: kind for status, kind in SYNC_KIND_OF_STATUS.items() if status != "in_progress"}


def service_report(sp: ServicePlan, images: tuple[ImageChange, ...], strategy: str,
                   result: ServiceResult | None = None) -> ServiceReport:
    return ServiceReport(
        environment=sp.environment, service=sp.name, changes=sp.drift.changes, images=images,
        deployment_id=result.deployment_id if result else None, strategy=strategy,
        status=result.status if result else "in_progress",
        duration_seconds=result.duration_seconds if result else None,
        stopped_reasons=result.stopped_reasons if result else (),
        rolled_back=result.rolled_back if result else False,
        message=result.message if result else sp.reason,
        digests=result.image_digests if result else (),
    )


def emit(sink: ReportSink, kind: str, sp: ServicePlan, report: ServiceReport, commit: CommitInfo | None) -> None:
    """Never let a broken sink break a deployment."""
    try:
        sink.emit(ReportEvent(kind=kind, environment=sp.environment, commit=commit,  # type: ignore[arg-type]
                              services=(report,), extra={"action": sp.action}))
    except Exception as exc:  # noqa: BLE001 - reporting is best effort
        log.warning("report_sink_failed", service=sp.key, error=str(exc))


def emit_milestone(sink: ReportSink, sp: ServicePlan, report: ServiceReport, commit: CommitInfo | None,
                   line: str, *, awaiting: bool = False) -> None:
    """A deployment reached a step (traffic moved, a pause): one in-progress report, its own dedup key,
    so chat updates the parent and adds one reply per step. `awaiting`: it waits for a person
    (a PAUSE hook), so Slack shows Continue / Roll back buttons."""
    step = replace(report, status="in_progress", message=line)
    sha = commit.sha if commit else ""
    try:
        sink.emit(ReportEvent(kind="sync_started", environment=sp.environment, commit=commit, services=(step,),
                              extra={"action": sp.action, "dedup_key": f"step:{sp.key}:{sha}:{line}",
                                     **({"awaiting": True} if awaiting else {})}))
    except Exception as exc:  # noqa: BLE001 - reporting is best effort
        log.warning("report_sink_failed", service=sp.key, error=str(exc))
