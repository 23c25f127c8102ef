"""Health of one ECS service, Argo CD's vocabulary mapped onto ECS fields.

Healthy / Progressing / Degraded / Missing (gitops-reconcilers.md §1): from the
PRIMARY deployment's rolloutState (ECS developer guide, deployment-type-ecs),
running vs desired tasks, and for CODE_DEPLOY services the task sets.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

Health = Literal["Healthy", "Progressing", "Degraded", "Missing", "Unknown"]
#: Worst first, for aggregating.
ORDER: tuple[Health, ...] = ("Degraded", "Missing", "Unknown", "Progressing", "Healthy")


def service_health(service: Mapping[str, Any] | None) -> Health:
    if service is None:
        return "Missing"
    if service.get("status") not in (None, "ACTIVE"):
        return "Missing" if service.get("status") == "INACTIVE" else "Progressing"
    desired = int(service.get("desiredCount") or 0)
    running = int(service.get("runningCount") or 0)
    deployments = service.get("deployments") or []
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    if primary is not None:
        state = primary.get("rolloutState")
        if state == "FAILED":
            return "Degraded"
        if state == "IN_PROGRESS" or len(deployments) > 1:
            return "Progressing"
    task_sets = service.get("taskSets") or []
    if any(ts.get("status") == "ACTIVE" for ts in task_sets):
        return "Progressing"  # a CodeDeploy replacement task set is live
    if running >= desired:
        return "Healthy"
    return "Progressing" if int(service.get("pendingCount") or 0) > 0 else "Degraded"


def worst(values: list[Health]) -> Health:
    return min(values, key=ORDER.index) if values else "Healthy"
