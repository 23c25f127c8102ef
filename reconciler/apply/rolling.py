"""Follow an ECS rolling deployment by its id until rolloutState says how it ended.

Never the services_stable waiter: it ignores rolloutState and reports success
after a circuit-breaker rollback (aws-behaviour.md §2; ecs-deploy-tools.md §6.1).
The deployment is judged by its own rolloutState, the task definition of the
PRIMARY deployment and, once it dropped out of `deployments`, its ServiceDeployment
record (status, rollback, circuit breaker; [DG:service-deployment]); the free-text
rolloutStateReason is quoted in reports, never parsed.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from reconciler.apply.clock import Clock
from reconciler.apply.native_status import ROLLING_BACK, cause
from reconciler.apply.progress import Progress
from reconciler.apply.result import Outcome, released, unknown
from reconciler.aws.ecs_write import EcsWriter
from reconciler.aws.errors import AwsError
from reconciler.log import get_logger
from reconciler.model import Environment

MAX_REASONS = 5
log = get_logger(__name__)


class RollingHistory(Protocol):
    """Reads the ServiceDeployment of a rolling deployment (reconciler.aws.service_deployments)."""

    def of_rolling(self, env: Environment, service: str, deployment_id: str) -> Mapping[str, Any] | None: ...


def primary_deployment(service: Mapping[str, Any]) -> dict[str, Any] | None:
    for dep in service.get("deployments") or []:
        if dep.get("status") == "PRIMARY":
            return dict(dep)
    return None


def in_flight(service: Mapping[str, Any]) -> dict[str, Any] | None:
    """The PRIMARY deployment when it is still rolling out."""
    primary = primary_deployment(service)
    if primary and primary.get("rolloutState") == "IN_PROGRESS":
        return primary
    return None


def progress_line(dep: Mapping[str, Any]) -> str:
    line = f"running {dep.get('runningCount', 0)}/{dep.get('desiredCount', 0)}, failed {dep.get('failedTasks', 0)}"
    if dep.get("pendingCount"):
        line += f", pending {dep['pendingCount']}"
    return line


def stopped_reasons(ecs: EcsWriter, env: Environment, service: str, deployment_id: str | None,
                    task_definition: str | None) -> tuple[str, ...]:
    """Why the deployment's tasks stopped (task stoppedReason and container reasons), deduplicated."""
    reasons: list[str] = []
    for task in ecs.stopped_tasks(env, service):
        ours = (deployment_id and task.get("startedBy") == deployment_id) or (
            task_definition and task.get("taskDefinitionArn") == task_definition)
        if not ours:
            continue
        add_stop_reason(reasons, task)
    return tuple(reasons[:MAX_REASONS])


def add_stop_reason(reasons: list[str], task: Mapping[str, Any]) -> None:
    """Append why one task stopped (its stoppedReason and its containers' own reasons), once."""
    parts = [str(task["stoppedReason"])] if task.get("stoppedReason") else []
    parts += [f"{c.get('name')}: {c['reason']}" for c in task.get("containers", [])
              if c.get("reason") and c["reason"] != task.get("stoppedReason")]
    text = "; ".join(parts)
    if text and text not in reasons:
        reasons.append(text)


def _breaker_rolls_back(service: Mapping[str, Any]) -> bool:
    breaker = (service.get("deploymentConfiguration") or {}).get("deploymentCircuitBreaker") or {}
    return bool(breaker.get("enable") and breaker.get("rollback"))


class RollingWaiter:
    def __init__(self, ecs: EcsWriter, clock: Clock, poll_interval: float, *,
                 keep_waiting: Callable[[], bool] = lambda: True, history: RollingHistory | None = None) -> None:
        self.ecs = ecs
        self.history = history
        self.clock = clock
        self.poll_interval = poll_interval
        self.keep_waiting = keep_waiting

    def wait(self, env: Environment, service: str, deployment_id: str, target_td: str, deadline: float,
             progress: Progress) -> Outcome:
        unreadable = ""
        while True:
            try:
                svc = self.ecs.describe_service(env, service)
            except AwsError as exc:
                # A failed read says nothing about the deployment: unknown, still following.
                unreadable = str(exc)
                progress(f"AWS unreadable ({exc.code or type(exc).__name__}); still following {deployment_id}")
                if self.clock.now() >= deadline or not self.keep_waiting():
                    return unknown(deployment_id, unreadable)
                self.clock.sleep(self.poll_interval)
                continue
            if svc is None:
                return Outcome("failed", deployment_id, "the service disappeared during the deployment")
            outcome = self._judge(env, service, svc, deployment_id, target_td, progress)
            if outcome is not None:
                return outcome
            if self.clock.now() >= deadline:
                return self._failed(env, service, deployment_id, target_td,
                                    f"deadline exceeded: deployment {deployment_id} still in progress")
            if not self.keep_waiting():
                return released(deployment_id)
            self.clock.sleep(self.poll_interval)

    def wait_task_set(self, env: Environment, service: str, target_td: str, deadline: float,
                      progress: Progress) -> Outcome:
        """A new CODE_DEPLOY service: AWS starts its first (PRIMARY) task set itself, with no deployment
        to follow; done when that set is STEADY_STATE at its computed count (aws-behaviour.md §3, [bc-ecs]
        TaskSet.stabilityStatus)."""
        while True:
            svc = self.ecs.describe_service(env, service)
            if svc is None:
                return Outcome("failed", None, "the service disappeared while its first task set started")
            primary = next((ts for ts in svc.get("taskSets") or [] if ts.get("status") == "PRIMARY"), None)
            if primary is not None:
                want = int(primary.get("computedDesiredCount") or 0)
                progress(f"task set {primary.get('id')}: running {primary.get('runningCount', 0)}/{want}"
                         + (f", pending {primary['pendingCount']}" if primary.get("pendingCount") else ""), "counts")
                if primary.get("stabilityStatus") == "STEADY_STATE" and int(primary.get("runningCount") or 0) >= want:
                    return Outcome("succeeded", None, f"created; task set {primary.get('id')} steady")
            if self.clock.now() >= deadline:
                return self._failed(env, service, "", target_td,
                                    "deadline exceeded: the first task set did not reach a steady state")
            if not self.keep_waiting():
                return released(None)
            self.clock.sleep(self.poll_interval)

    def _judge(self, env: Environment, service: str, svc: Mapping[str, Any], deployment_id: str, target_td: str,
               progress: Progress) -> Outcome | None:
        deployments = list(svc.get("deployments") or [])
        mine = next((d for d in deployments if d.get("id") == deployment_id), None)
        primary = primary_deployment(svc)
        if mine is not None:
            progress(progress_line(mine), "counts")
        if mine is not None and mine.get("status") == "PRIMARY":
            state = mine.get("rolloutState")
            reason = str(mine.get("rolloutStateReason") or "")
            if state == "COMPLETED":
                if mine.get("taskDefinition") != target_td:
                    return Outcome("failed", deployment_id, f"PRIMARY runs {mine.get('taskDefinition')}, "
                                                            f"not {target_td}")
                return Outcome("succeeded", deployment_id, reason)
            if state == "FAILED":
                if _breaker_rolls_back(svc) and len(deployments) > 1:
                    return None  # ECS is about to start the rollback deployment: judge it next poll
                return self._failed(env, service, deployment_id, target_td, reason or "deployment failed")
            if state is None and len(deployments) == 1 and mine.get("runningCount") == mine.get("desiredCount"):
                # No rolloutState (Classic Load Balancer): one deployment at full count is done.
                return Outcome("succeeded", deployment_id, "steady")
            return None
        # Our deployment is no longer PRIMARY: the circuit breaker rolled back, or someone deployed over it.
        # Judged by rolloutState, deployment ids and the deployment's ServiceDeployment record (its status
        # and rollback); rolloutStateReason is only quoted (aws-behaviour.md §2).
        quoted = str((mine or {}).get("rolloutStateReason") or "")
        if primary is not None and primary.get("taskDefinition") == target_td and primary.get("id") != deployment_id:
            return None if primary.get("rolloutState") == "IN_PROGRESS" else Outcome(
                "succeeded" if primary.get("rolloutState") == "COMPLETED" else "failed", primary.get("id"),
                quoted or str(primary.get("rolloutStateReason") or ""))
        record = self._record(env, service, deployment_id) if (mine or {}).get("rolloutState") != "FAILED" else None
        rolled_back = (mine or {}).get("rolloutState") == "FAILED" or (
            record is not None and (str(record.get("status")) in ROLLING_BACK or bool(record.get("rollback"))))
        if rolled_back:
            back_to = (primary or {}).get("taskDefinition")
            msg = quoted or (cause(record) if record is not None else "") or "deployment failed"
            return self._failed(env, service, deployment_id, target_td,
                                f"{msg} (ECS rolled back to {back_to})", rolled_back=True)
        return Outcome("failed", deployment_id,
                       f"superseded by deployment {(primary or {}).get('id')} of {(primary or {}).get('taskDefinition')}")

    def _record(self, env: Environment, service: str, deployment_id: str) -> Mapping[str, Any] | None:
        """The ServiceDeployment of our rolling deployment, when it dropped out of `deployments` (a
        completed rollback removes it); None without a reader or when AWS cannot be read."""
        if self.history is None:
            return None
        try:
            return self.history.of_rolling(env, service, deployment_id)
        except AwsError as exc:
            log.warning("service_deployment_unreadable", service=service, error=str(exc))
            return None

    def _failed(self, env: Environment, service: str, deployment_id: str, target_td: str, message: str,
                *, rolled_back: bool = False) -> Outcome:
        reasons = stopped_reasons(self.ecs, env, service, deployment_id, target_td)
        return Outcome("rolled_back" if rolled_back else "failed", deployment_id, message, reasons, rolled_back)
