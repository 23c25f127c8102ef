"""Read an ECS ServiceDeployment (DescribeServiceDeployments item): where it is, and how it ended.

Only structured fields are read, never `statusReason` text ([bc-ecs] ServiceDeployment:
status, lifecycleStage, lifecycleHookDetails, targetServiceRevision
.requestedProductionTrafficWeight, alarms.triggeredAlarmNames, deploymentCircuitBreaker,
rollback). The step is derived from the requested production weight and the configured
steps (there is no step field, reference ecs-native-deployments.md §3.2).
Status groups [DG:service-deployment]: SUCCESSFUL is done; ROLLBACK_SUCCESSFUL and
ROLLBACK_FAILED end a rolled-back (failed) deployment; STOPPED ended it without rollback.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reconciler.manifests.ecs_deployments import production_steps

DONE = frozenset({"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"})
ROLLING_BACK = frozenset({"ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"})


@dataclass(frozen=True)
class Step:
    number: int      # 1-based; 0 before production traffic moved
    count: int
    percent: float   # production traffic on the new revision


def step_of(dep: Mapping[str, Any]) -> Step:
    config = dep.get("deploymentConfiguration") or {}
    steps = [pct for pct, _ in production_steps(config)]
    percent = float((dep.get("targetServiceRevision") or {}).get("requestedProductionTrafficWeight") or 0.0)
    number = sum(1 for pct in steps if pct <= percent + 1e-6)
    return Step(number, len(steps), percent)


def step_line(dep: Mapping[str, Any], number: int) -> str:
    """"LINEAR step 2/4: 50 %": step `number` of the configured steps."""
    config = dep.get("deploymentConfiguration") or {}
    steps = [pct for pct, _ in production_steps(config)]
    strategy = str(config.get("strategy") or "BLUE_GREEN")
    return f"{strategy} step {number}/{len(steps)}: {_pct(steps[number - 1])}"


def awaiting_hook(dep: Mapping[str, Any]) -> dict[str, Any] | None:
    """The PAUSE hook waiting for ContinueServiceDeployment, if any."""
    return next((dict(h) for h in dep.get("lifecycleHookDetails") or [] if h.get("status") == "AWAITING_ACTION"), None)


def _clock(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%H:%M")
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC).strftime("%H:%M")
    return str(value or "?")


def _pct(value: float) -> str:
    return f"{value:g} %"


def bake_minutes(dep: Mapping[str, Any]) -> float | None:
    """How long the current position bakes: BAKE_TIME's bakeTimeInMinutes, or the bake after the
    traffic step just reached (CANARY/LINEAR); None when it does not bake, 0.0 when AWS's default applies."""
    config = dep.get("deploymentConfiguration") or {}
    stage = dep.get("lifecycleStage")
    if stage == "BAKE_TIME":
        return float(config.get("bakeTimeInMinutes") or 0.0)
    step = step_of(dep)
    if stage != "PRODUCTION_TRAFFIC_SHIFT" or step.number == 0:
        return None
    percent, bake = production_steps(config)[step.number - 1]
    return bake / 60.0 if bake > 0 and abs(percent - step.percent) < 1e-6 else None


def position_key(dep: Mapping[str, Any]) -> tuple[str, float]:
    """Stage and production weight: a new key is a new position, whose bake starts counting."""
    return (str(dep.get("lifecycleStage") or ""),
            float((dep.get("targetServiceRevision") or {}).get("requestedProductionTrafficWeight") or 0.0))


def describe_position(dep: Mapping[str, Any], baked_seconds: float | None = None) -> str:
    """One line for chat and status: "CANARY step 1/2: 10 % (PRODUCTION_TRAFFIC_SHIFT)",
    "LINEAR step 2/4: 50 %", "paused at POST_TEST_TRAFFIC_SHIFT, expires 14:05, hook ecs-pause-…",
    and while a position bakes, when the caller knows for how long (`baked_seconds`: the
    ServiceDeployment has no field for it, so the follower counts from when it first saw the
    position): "CANARY step 1/2: 10 % → baking 4 of 10 min", "BLUE_GREEN: baking 4 of 10 min"."""
    config = dep.get("deploymentConfiguration") or {}
    strategy = str(config.get("strategy") or "BLUE_GREEN")
    stage = str(dep.get("lifecycleStage") or "PENDING")
    hook = awaiting_hook(dep)
    if hook is not None:
        return f"{strategy}: paused at {stage}, expires {_clock(hook.get('expiresAt'))}, hook {hook.get('hookId')}"
    status = str(dep.get("status") or "")
    if status in ROLLING_BACK:
        return f"{strategy}: rolling back ({stage})"
    step = step_of(dep)
    total = bake_minutes(dep) if baked_seconds is not None and status not in DONE else None
    if total is not None:
        baking = f"baking {int((baked_seconds or 0.0) // 60)}" + (f" of {total:g} min" if total else " min")
        return f"{strategy}: {baking}" if stage == "BAKE_TIME" else f"{step_line(dep, step.number)} → {baking}"
    if step.number == 0:
        return f"{strategy}: {stage}"
    return f"{step_line(dep, step.number)} ({stage})"


def cause(dep: Mapping[str, Any]) -> str:
    """Why it failed, from structured fields: alarms, circuit breaker, hooks; "" when none says."""
    parts: list[str] = []
    alarms = dep.get("alarms") or {}
    if alarms.get("triggeredAlarmNames"):
        parts.append(f"alarm {', '.join(alarms['triggeredAlarmNames'])} in ALARM")
    breaker = dep.get("deploymentCircuitBreaker") or {}
    if breaker.get("status") == "TRIGGERED":
        parts.append(f"circuit breaker: {breaker.get('failureCount', 0)} failed tasks "
                     f"(threshold {breaker.get('threshold', '?')})")
    for hook in dep.get("lifecycleHookDetails") or []:
        if hook.get("status") in ("FAILED", "TIMED_OUT"):
            kind = "PAUSE hook" if hook.get("targetType") == "PAUSE" else f"hook {hook.get('targetArn') or ''}".strip()
            verb = "timed out" if hook["status"] == "TIMED_OUT" else (
                "answered ROLLBACK" if hook.get("targetType") == "PAUSE" else "failed")
            parts.append(f"{kind} {hook.get('hookId')} {verb}")
    return "; ".join(parts)


def outcome_of(dep: Mapping[str, Any]) -> tuple[str, str, bool] | None:
    """(status, message, rolled_back) once the deployment ended, else None.

    status is the apply's: "succeeded", "rolled_back" or "failed"."""
    status = str(dep.get("status") or "")
    if status not in DONE:
        return None
    if status == "SUCCESSFUL":
        return "succeeded", "service deployment completed", False
    why = cause(dep)
    target = (dep.get("rollback") or {}).get("serviceRevisionArn")
    if status == "ROLLBACK_SUCCESSFUL":
        back = f" (ECS rolled back to {str(target).rsplit('/', 1)[-1]})" if target else " (ECS rolled back)"
        return "rolled_back", (why or "rolled back") + back, True
    if status == "ROLLBACK_FAILED":
        return "failed", (why or "failed") + "; the rollback failed too", True
    return "failed", why or "service deployment stopped (a newer deployment replaced it, or it was stopped)", False
