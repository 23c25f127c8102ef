"""The ECS-native controller: BLUE_GREEN, LINEAR and CANARY deployments run by ECS itself.

UpdateService (or CreateService) starts the deployment; it is then followed by its
ServiceDeployment ARN (`currentServiceDeployment`), never by free text: stage, step,
hook states, status and rollback come from DescribeServiceDeployments
(reference ecs-native-deployments.md §3). A deployment already in flight is found
with ListServiceDeployments and followed; a second one is never started over it.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from reconciler.apply.clock import Clock
from reconciler.apply.deployments import CODE_DEPLOY, Deployments, DeployRequest, Running, Started, controller_kind
from reconciler.apply.native_status import (
    awaiting_hook,
    describe_position,
    outcome_of,
    position_key,
    step_line,
    step_of,
)
from reconciler.apply.progress import Progress
from reconciler.apply.result import Outcome, released
from reconciler.apply.rolling import MAX_REASONS, add_stop_reason
from reconciler.aws.ecs_write import EcsWriter
from reconciler.aws.service_deployments import ServiceDeployments
from reconciler.manifests.ecs_deployments import native_strategy
from reconciler.model import ServiceSpec

#: Deployments.controller kind for services whose deploymentConfiguration.strategy is native.
ECS_NATIVE = "ECS_NATIVE"


def uses_native(spec_service: Mapping[str, Any] | None, live: Mapping[str, Any] | None) -> bool:
    """Git's strategy when there is a spec (UpdateService sends it with the deployment), else the live one."""
    if spec_service is not None:
        return native_strategy(spec_service) is not None
    return live is not None and native_strategy(live) is not None


def maybe_in_flight(live: Mapping[str, Any]) -> bool:
    """A cheap hint from DescribeServices that a native deployment may still run (two revisions or
    deployments side by side); the controller confirms with ListServiceDeployments."""
    if native_strategy(live) is None:
        return False
    return len(live.get("deployments") or []) > 1 or len(live.get("currentServiceRevisions") or []) > 1


def native_kind(spec: ServiceSpec | None, live: Mapping[str, Any] | None) -> str:
    """`controller_kind`, plus ECS_NATIVE for ECS-controller services with a native strategy."""
    kind = controller_kind(spec, live)
    if kind != CODE_DEPLOY and uses_native(spec.service if spec is not None else None, live):
        return ECS_NATIVE
    return kind


def with_native(deployments: Deployments, controller: NativeController) -> Deployments:
    """The same controllers plus the ECS-native one, chosen by `native_kind`."""
    return Deployments({**deployments.controllers, ECS_NATIVE: controller}, kind=native_kind)


def milestones(dep: Mapping[str, Any], reported: int) -> tuple[list[tuple[str, str]], int]:
    """What chat reports once per change, as (key, line): every traffic step reached since step
    `reported` (a poll slower than the steps still reports each one), a pause, a rollback; never
    a stage or a poll on its own. Returns them and the step now reported."""
    out: list[tuple[str, str]] = []
    step = step_of(dep)
    for number in range(reported + 1, step.number + 1):
        out.append((f"step {number}", step_line(dep, number)))
    hook = awaiting_hook(dep)
    if hook is not None:
        out.append((f"hook {hook.get('hookId')}", describe_position(dep)))
    if str(dep.get("status") or "").startswith("ROLLBACK"):
        out.append(("rollback", describe_position(dep)))
    return out, max(reported, step.number)


#: deploymentConfiguration members git may drop, and the value that clears them: UpdateService
#: changes only the members it is given (sandbox; AWS documents no merge rule), so a dropped
#: hook list or alarm block is sent explicitly empty.
_CLEARED = {"lifecycleHooks": [], "alarms": {"alarmNames": [], "enable": False, "rollback": False}}


def keep_live_pair(load_balancers: Any, live: Mapping[str, Any]) -> Any:
    """A load balancer sent with the same target group pair as the live one keeps the live order:
    ECS swaps primary and alternate after each blue/green deployment (reference §2.2), and sending
    git's order back would fight that (the Terraform "does not alternate" report)."""
    if not isinstance(load_balancers, list):
        return load_balancers
    live_pairs = {}
    for lb in live.get("loadBalancers") or []:
        alternate = (lb.get("advancedConfiguration") or {}).get("alternateTargetGroupArn")
        if alternate and lb.get("targetGroupArn"):
            live_pairs[frozenset((lb["targetGroupArn"], alternate))] = (lb["targetGroupArn"], alternate)
    out = []
    for lb in load_balancers:
        advanced = dict(lb.get("advancedConfiguration") or {}) if isinstance(lb, Mapping) else {}
        pair = frozenset((lb.get("targetGroupArn"), advanced.get("alternateTargetGroupArn"))) if advanced else None
        if pair in live_pairs:
            primary, alternate = live_pairs[pair]
            lb = {**lb, "targetGroupArn": primary, "advancedConfiguration": {**advanced,
                                                                             "alternateTargetGroupArn": alternate}}
        out.append(lb)
    return out


def explicit_removals(params: Mapping[str, Any], live: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(params)
    if "loadBalancers" in out:
        out["loadBalancers"] = keep_live_pair(out["loadBalancers"], live)
    config = out.get("deploymentConfiguration")
    if isinstance(config, Mapping):
        have = live.get("deploymentConfiguration") or {}
        out["deploymentConfiguration"] = {**{k: v for k, v in _CLEARED.items() if have.get(k) and k not in config},
                                          **config}
    return out


class NativeController:
    """`Controller` (apply.deployments) for ECS-native BLUE_GREEN / LINEAR / CANARY services."""

    strategy = "ecs-native"
    noun = "service deployment"

    def __init__(self, ecs: EcsWriter, deployments: ServiceDeployments, clock: Clock, poll_interval: float, *,
                 keep_waiting: Callable[[], bool] = lambda: True) -> None:
        self.ecs = ecs
        self.service_deployments = deployments
        self.clock = clock
        self.poll_interval = poll_interval
        self.keep_waiting = keep_waiting

    def in_flight(self, request: DeployRequest) -> Running | None:
        ongoing = self.service_deployments.ongoing(request.env, request.service)
        if not ongoing:
            return None
        brief = ongoing[0]
        return Running(str(brief["serviceDeploymentArn"]), self._target_task_definition(request, brief))

    def _target_task_definition(self, request: DeployRequest, brief: Mapping[str, Any]) -> str | None:
        # UpdateService sets the service's taskDefinition to the deployment's target at once
        # ([bc-ecs] Service.taskDefinition), so the fresh service says where it is going.
        fresh = self.ecs.describe_service(request.env, request.service) or request.live
        if fresh.get("currentServiceDeployment") == brief.get("serviceDeploymentArn"):
            return str(fresh.get("taskDefinition") or "") or None
        return None

    def start(self, request: DeployRequest, deadline: float, progress: Progress) -> Started:
        params = explicit_removals(request.params, request.live)
        if request.task_definition != str(request.live.get("taskDefinition") or ""):
            params["taskDefinition"] = request.task_definition
        if not params:
            return Started(how="unchanged")
        before = request.live.get("currentServiceDeployment")
        svc = self.ecs.update_service(request.env, request.service, params)
        current = svc.get("currentServiceDeployment")
        if current and current != before:
            return Started(str(current), "started")
        return Started(how="unchanged")

    def wait(self, request: DeployRequest, deployment_id: str, deadline: float, progress: Progress) -> Outcome:
        reported = 0
        position: tuple[tuple[str, float], float] | None = None  # (where, first seen): no AWS field says
        while True:
            dep = self.service_deployments.describe(request.env, deployment_id)
            if dep is None:
                return Outcome("failed", deployment_id, f"service deployment {deployment_id} not found")
            now = self.clock.now()
            if position is None or position[0] != position_key(dep):
                position = (position_key(dep), now)
            progress(describe_position(dep, now - position[1]), "stage")
            found, reported = milestones(dep, reported)
            for key, line in found:
                # "hook <id>": waiting at a PAUSE hook for ContinueServiceDeployment (milestones above);
                # chat shows Continue / Roll back buttons on that report (docs/chatops.md).
                progress.milestone(key, line, awaiting=key.startswith("hook "))
            ended = outcome_of(dep)
            if ended is not None:
                status, message, rolled_back = ended
                reasons = () if status == "succeeded" else self._failed_tasks(request)
                return Outcome(status, deployment_id, message, reasons, rolled_back)  # type: ignore[arg-type]
            if self.clock.now() >= deadline:
                return Outcome("failed", deployment_id, f"deadline exceeded: {describe_position(dep)}")
            if not self.keep_waiting():
                return released(deployment_id)
            self.clock.sleep(self.poll_interval)

    def _failed_tasks(self, request: DeployRequest) -> tuple[str, ...]:
        """Why the new revision's tasks failed: stopped tasks of the target task definition, except
        those the scheduler stopped itself (stopCode ServiceSchedulerInitiated: the rollback's clean-up)."""
        reasons: list[str] = []
        for task in self.ecs.stopped_tasks(request.env, request.service):
            if task.get("taskDefinitionArn") != request.task_definition or \
                    task.get("stopCode") == "ServiceSchedulerInitiated":
                continue
            add_stop_reason(reasons, task)
        return tuple(reasons[:MAX_REASONS])

    def created(self, request: DeployRequest, wait: bool, deadline: float, progress: Progress) -> Outcome:
        """CreateService starts the first service deployment (hooks run for it too)."""
        current = request.live.get("currentServiceDeployment")
        if not current:
            return Outcome("succeeded" if wait else "in_progress", None, "created")
        if not wait:
            return Outcome("in_progress", str(current), f"{self.noun} {current} started")
        outcome = self.wait(request, str(current), deadline, progress)
        return Outcome(outcome.status, outcome.deployment_id, "created" if outcome.status == "succeeded"
                       else outcome.message, outcome.stopped_reasons, outcome.rolled_back)

    # -- operator actions ---------------------------------------------------------------
    def stop(self, request: DeployRequest, deployment_id: str) -> None:
        """StopServiceDeployment(ROLLBACK): what `reconciler rollback` does while one runs."""
        self.service_deployments.stop(request.env, deployment_id, "ROLLBACK")
