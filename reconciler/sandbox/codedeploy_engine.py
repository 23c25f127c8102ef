"""CodeDeploy blue/green for ECS: deployments, traffic shifting, stop, alarms, rollback.

Sources ([cd-ug] = AWS CodeDeploy user guide, reference aws-behaviour.md §3):
- deployment-steps-ecs: lifecycle order BeforeInstall, Install (replacement task
  set), AfterInstall, AllowTestTraffic, AfterAllowTestTraffic, BeforeAllowTraffic,
  AllowTraffic, AfterAllowTraffic, then the termination wait and Succeeded.
- deployment-configurations: the predefined CodeDeployDefault.ECS* configs and
  TimeBasedCanary / TimeBasedLinear custom configs (intervals in minutes).
- deployments-rollback-and-redeploy: a rollback reroutes traffic to the original
  task set under a new deployment id whose creator is `codeDeployRollback`.
- limits: one active deployment per deployment group.
- botocore codedeploy `DeploymentWaitType`: READY_WAIT and TERMINATION_WAIT.
Lifecycle hooks are recorded as Succeeded without invoking Lambda functions.
"""
from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reconciler.sandbox.ecs_engine import STEP_SECONDS, Clock, EcsSimulator, SimService, SimTaskSet

LIFECYCLE = (
    "BeforeInstall", "Install", "AfterInstall", "AllowTestTraffic", "AfterAllowTestTraffic",
    "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic",
)
ACTIVE_STATUSES = ("Created", "Queued", "InProgress", "Baking", "Ready")


def _all_at_once() -> dict[str, Any]:
    return {"type": "AllAtOnce"}


def _canary(percent: int, minutes: int) -> dict[str, Any]:
    return {"type": "TimeBasedCanary", "timeBasedCanary": {"canaryPercentage": percent, "canaryInterval": minutes}}


def _linear(percent: int, minutes: int) -> dict[str, Any]:
    return {"type": "TimeBasedLinear", "timeBasedLinear": {"linearPercentage": percent, "linearInterval": minutes}}


#: [cd-ug] deployment-configurations-create / deployment-configurations (ECS table).
PREDEFINED_ECS_CONFIGS: dict[str, dict[str, Any]] = {
    "CodeDeployDefault.ECSAllAtOnce": _all_at_once(),
    "CodeDeployDefault.ECSLinear10PercentEvery1Minutes": _linear(10, 1),
    "CodeDeployDefault.ECSLinear10PercentEvery3Minutes": _linear(10, 3),
    "CodeDeployDefault.ECSCanary10Percent5Minutes": _canary(10, 5),
    "CodeDeployDefault.ECSCanary10Percent15Minutes": _canary(10, 15),
}


def shift_plan(routing: dict[str, Any]) -> list[tuple[float, int]]:
    """[(sandbox seconds after the previous shift, percent on replacement), ...]."""
    kind = routing.get("type", "AllAtOnce")
    if kind == "TimeBasedCanary":
        cfg = routing["timeBasedCanary"]
        return [(0.0, int(cfg["canaryPercentage"])), (cfg["canaryInterval"] * 60.0, 100)]
    if kind == "TimeBasedLinear":
        cfg = routing["timeBasedLinear"]
        step, plan, pct = int(cfg["linearPercentage"]), [], 0
        while pct < 100:
            pct = min(100, pct + step)
            plan.append((0.0 if not plan else cfg["linearInterval"] * 60.0, pct))
        return plan
    return [(0.0, 100)]


@dataclass
class SimCdDeployment:
    id: str
    application: str
    group: str
    group_config: dict[str, Any]
    config_name: str
    routing: dict[str, Any]
    revision: dict[str, Any]
    service: SimService
    task_definition: str
    containers: list[tuple[str, str]]
    created_at: float
    #: The AppSpec's NetworkConfiguration / CapacityProviderStrategy, in ECS camelCase.
    network_configuration: dict[str, Any] | None = None
    capacity_provider_strategy: list[dict[str, Any]] | None = None
    creator: str = "user"
    description: str | None = None
    status: str = "Created"
    phase: str = "start"
    next_at: float | None = None
    start_time: float | None = None
    complete_time: float | None = None
    error: dict[str, str] | None = None
    rollback_info: dict[str, str] | None = None
    messages: list[str] = field(default_factory=list)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    plan: list[tuple[float, int]] = field(default_factory=list)
    weight: int = 0
    original: SimTaskSet | None = None
    replacement: SimTaskSet | None = None
    target_status: str = "Pending"
    updated_at: float = 0.0
    deadline: float | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class CodeDeploySimulator:
    """Runs CodeDeploy ECS deployments against the ECS simulator's task sets."""

    def __init__(self, clock: Clock, ecs: EcsSimulator) -> None:
        self.clock = clock
        self.ecs = ecs
        self.deployments: dict[str, SimCdDeployment] = {}
        self.custom_configs: dict[str, dict[str, Any]] = {}
        self.fired_alarms: set[str] = set()
        #: Resolves a target group name to its ARN (wired to ELBv2 by the API layer).
        self.target_group_arn: Callable[[str], str | None] = lambda name: None
        self.lock = threading.RLock()
        self._rng = random.Random()

    def routing_for(self, config_name: str) -> dict[str, Any] | None:
        if config_name in PREDEFINED_ECS_CONFIGS:
            return PREDEFINED_ECS_CONFIGS[config_name]
        custom = self.custom_configs.get(config_name)
        return custom["trafficRoutingConfig"] if custom else None

    def active_in_group(self, application: str, group: str) -> SimCdDeployment | None:
        return next((d for d in self.deployments.values()
                     if d.application == application and d.group == group and d.active), None)

    def _new_id(self) -> str:
        return "d-" + "".join(self._rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(9))

    def create(self, **kwargs: Any) -> SimCdDeployment:
        now = self.clock.now()
        with self.lock:
            dep = SimCdDeployment(id=self._new_id(), created_at=now, updated_at=now, **kwargs)
            dep.plan = shift_plan(dep.routing)
            dep.events = {name: {"lifecycleEventName": name, "status": "Pending"} for name in LIFECYCLE}
            dep.next_at = now + STEP_SECONDS
            self.deployments[dep.id] = dep
            return dep

    # ----- time ------------------------------------------------------------
    def tick(self) -> None:
        now = self.clock.now()
        with self.lock:
            for dep in list(self.deployments.values()):
                while dep.next_at is not None and dep.next_at <= now:
                    at, dep.next_at = dep.next_at, None
                    getattr(self, f"_phase_{dep.phase}")(dep, at)

    def _event(self, dep: SimCdDeployment, name: str, status: str, at: float) -> None:
        event = dep.events[name]
        if status == "InProgress" or "startTime" not in event:
            event["startTime"] = at
        if status in ("Succeeded", "Failed", "Skipped"):
            event["endTime"] = at
        event["status"] = status
        dep.updated_at = at

    def _phase_start(self, dep: SimCdDeployment, at: float) -> None:
        dep.status, dep.start_time, dep.target_status = "InProgress", at, "InProgress"
        svc = dep.service
        dep.original = next((ts for ts in svc.task_sets if ts.status == "PRIMARY"), None)
        self._event(dep, "BeforeInstall", "Succeeded", at)
        self._event(dep, "Install", "InProgress", at)
        tg_pairs = (dep.group_config.get("loadBalancerInfo") or {}).get("targetGroupPairInfoList") or []
        tgs = [tg.get("name") for tg in (tg_pairs[0].get("targetGroups") if tg_pairs else [])]
        lbs = [dict(lb) for lb in svc.attributes.get("loadBalancers", [])]
        if lbs and len(tgs) > 1 and tgs[1]:
            lbs[0]["targetGroupArn"] = self.target_group_arn(tgs[1]) or _swap_tg_name(lbs[0].get("targetGroupArn", ""), tgs[1])
        dep.replacement = self.ecs.create_task_set(
            svc, dep.task_definition, dep.containers, external_id=dep.id, load_balancers=lbs,
            network_configuration=dep.network_configuration, capacity_provider_strategy=dep.capacity_provider_strategy)
        dep.replacement.scale = 100.0
        dep.messages.append(f"Created replacement task set {dep.replacement.id} with task definition {dep.task_definition}.")
        dep.phase, dep.next_at = "install", at + 2 * STEP_SECONDS

    def _phase_install(self, dep: SimCdDeployment, at: float) -> None:
        self.ecs.tick()
        ts = dep.replacement
        assert ts is not None
        if ts.failed_tasks:
            reason = next((t.stopped_reason for t, _ in self.ecs.stopped if t.started_by == dep.id and t.stopped_reason), "tasks failed to start")
            self._event(dep, "Install", "Failed", at)
            self._fail(dep, at, "ECS_UPDATE_ERROR",
                       f"The ECS replacement task set {ts.id} failed to reach a steady state: {reason}",
                       rollback_event="DEPLOYMENT_FAILURE", status="Failed")
            return
        if ts.stability_status != "STEADY_STATE":
            dep.next_at = at + STEP_SECONDS
            return
        for name in ("Install", "AfterInstall", "AllowTestTraffic", "AfterAllowTestTraffic", "BeforeAllowTraffic"):
            self._event(dep, name, "Succeeded", at)
        ready = ((dep.group_config.get("blueGreenDeploymentConfiguration") or {}).get("deploymentReadyOption") or {})
        if ready.get("actionOnTimeout") == "STOP_DEPLOYMENT":
            dep.status, dep.target_status, dep.phase = "Ready", "Ready", "ready_wait"
            dep.deadline = at + float(ready.get("waitTimeInMinutes", 0)) * 60.0
            dep.messages.append("Waiting for ContinueDeployment(READY_WAIT) before rerouting production traffic.")
            dep.next_at = dep.deadline if ready.get("waitTimeInMinutes") else None
            return
        self._begin_shift(dep, at)

    def _phase_ready_wait(self, dep: SimCdDeployment, at: float) -> None:
        # The wait timed out without ContinueDeployment: CodeDeploy stops the deployment.
        self._fail(dep, at, "TIMEOUT", "The deployment timed out while waiting for traffic rerouting to be started.",
                   rollback_event="DEPLOYMENT_FAILURE", status="Stopped")

    def _begin_shift(self, dep: SimCdDeployment, at: float) -> None:
        dep.status, dep.target_status, dep.phase = "InProgress", "InProgress", "shift"
        self._event(dep, "AllowTraffic", "InProgress", at)
        dep.next_at = at + dep.plan[0][0]

    def _phase_shift(self, dep: SimCdDeployment, at: float) -> None:
        _, pct = dep.plan.pop(0)
        dep.weight = pct
        original = dep.original.id if dep.original else "none"
        dep.messages.append(
            f"Traffic shifted: {pct}% to replacement task set {dep.replacement.id if dep.replacement else ''}, "
            f"{100 - pct}% to original task set {original}."
        )
        dep.updated_at = at
        if dep.plan:
            dep.next_at = at + dep.plan[0][0]
            return
        self._event(dep, "AllowTraffic", "Succeeded", at)
        self._event(dep, "AfterAllowTraffic", "Succeeded", at)
        assert dep.replacement is not None
        self.ecs.set_primary_task_set(dep.service, dep.replacement)
        dep.target_status = "Succeeded"
        bg = dep.group_config.get("blueGreenDeploymentConfiguration") or {}
        wait = float((bg.get("terminateBlueInstancesOnDeploymentSuccess") or {}).get("terminationWaitTimeInMinutes", 0))
        dep.phase, dep.next_at = "terminate", at + wait * 60.0

    def _phase_terminate(self, dep: SimCdDeployment, at: float) -> None:
        if dep.original is not None:
            self.ecs.delete_task_set(dep.service, dep.original, f"Task set {dep.original.id} deleted by CodeDeploy deployment {dep.id}")
        dep.status, dep.complete_time, dep.phase = "Succeeded", at, "done"
        dep.messages.append("Deployment succeeded: the original task set was terminated.")
        dep.updated_at = at

    def _phase_rollback(self, dep: SimCdDeployment, at: float) -> None:
        dep.status, dep.start_time, dep.target_status = "InProgress", at, "InProgress"
        for name in LIFECYCLE:
            self._event(dep, name, "Succeeded" if name in ("AllowTraffic", "Install") else "Skipped", at)
        dep.phase, dep.next_at = "rollback_done", at + STEP_SECONDS

    def _phase_rollback_done(self, dep: SimCdDeployment, at: float) -> None:
        dep.status, dep.target_status, dep.complete_time, dep.phase = "Succeeded", "Succeeded", at, "done"
        dep.messages.append("Rollback succeeded: production traffic is served by the original task set.")
        dep.updated_at = at

    # ----- interruptions ---------------------------------------------------
    def _fail(self, dep: SimCdDeployment, at: float, code: str, message: str, *,
              rollback_event: str | None, status: str, force_rollback: bool | None = None) -> None:
        dep.status, dep.complete_time, dep.phase, dep.next_at = status, at, "done", None
        dep.target_status = "Failed"
        dep.error = {"code": code, "message": message}
        for event in dep.events.values():
            if event["status"] in ("Pending", "InProgress"):
                event["status"] = "Skipped" if event["status"] == "Pending" else "Failed"
                event.setdefault("startTime", at)
                event["endTime"] = at
        auto = dep.group_config.get("autoRollbackConfiguration") or {}
        wants = force_rollback if force_rollback is not None else (
            bool(auto.get("enabled")) and rollback_event in (auto.get("events") or [])
        )
        if wants:
            self._rollback(dep, at)

    def _rollback(self, dep: SimCdDeployment, at: float) -> None:
        """Reroute traffic to the original task set and record a codeDeployRollback deployment."""
        svc = dep.service
        if dep.original is not None:
            if dep.original not in svc.task_sets:
                svc.task_sets.append(dep.original)
            self.ecs.set_primary_task_set(svc, dep.original)
        if dep.replacement is not None:
            self.ecs.delete_task_set(svc, dep.replacement, f"Task set {dep.replacement.id} deleted by rollback of {dep.id}")
        dep.weight = 0
        back = self.create(
            application=dep.application, group=dep.group, group_config=dep.group_config,
            config_name=dep.config_name, routing=dep.routing, revision=dep.revision, service=svc,
            task_definition=dep.original.task_definition if dep.original else dep.task_definition,
            containers=dep.original.containers if dep.original else dep.containers,
            creator="codeDeployRollback",
        )
        back.phase, back.next_at = "rollback", at
        back.original = dep.original
        back.weight = 0
        back.rollback_info = {"rollbackTriggeringDeploymentId": dep.id}
        dep.rollback_info = {
            "rollbackDeploymentId": back.id,
            "rollbackMessage": f"Deployment {dep.id} rolled back: traffic rerouted to the original task set.",
        }
        dep.messages.append(f"Rolling back in deployment {back.id}.")

    def stop(self, dep: SimCdDeployment, auto_rollback: bool | None) -> None:
        now = self.clock.now()
        with self.lock:
            auto = dep.group_config.get("autoRollbackConfiguration") or {}
            group_wants = bool(auto.get("enabled")) and "DEPLOYMENT_STOP_ON_REQUEST" in (auto.get("events") or [])
            self._fail(dep, now, "MANUAL_STOP", "The deployment was stopped by a user request.",
                       rollback_event=None, status="Stopped",
                       force_rollback=group_wants if auto_rollback is None else auto_rollback)

    def fire_alarm(self, name: str) -> list[str]:
        """Fail every active deployment whose group watches alarm `name` ([cd-ug] monitoring-create-alarms)."""
        now = self.clock.now()
        hit = []
        with self.lock:
            self.fired_alarms.add(name)
            for dep in list(self.deployments.values()):
                alarms = dep.group_config.get("alarmConfiguration") or {}
                names = [a.get("name") for a in alarms.get("alarms") or []]
                if dep.active and alarms.get("enabled") and name in names and dep.creator != "codeDeployRollback":
                    self._fail(dep, now, "ALARM_ACTIVE",
                               "One or more alarms have been activated according to the Amazon CloudWatch metrics "
                               f"you selected, and the affected deployments have been stopped. Activated alarms: <{name}>",
                               rollback_event="DEPLOYMENT_STOP_ON_ALARM", status="Failed")
                    hit.append(dep.id)
        return hit

    def continue_(self, dep: SimCdDeployment, wait_type: str) -> None:
        now = self.clock.now()
        with self.lock:
            if wait_type == "READY_WAIT" and dep.phase == "ready_wait":
                self._begin_shift(dep, now)
            elif wait_type == "TERMINATION_WAIT" and dep.phase == "terminate":
                dep.next_at = now
            else:
                raise ValueError(f"The deployment {dep.id} is not waiting for {wait_type}.")

    def traffic_weights(self, dep: SimCdDeployment) -> dict[str, float]:
        weights: dict[str, float] = {}
        if dep.original is not None:
            weights[dep.original.id] = float(100 - dep.weight)
        if dep.replacement is not None and dep.replacement in dep.service.task_sets:
            weights[dep.replacement.id] = float(dep.weight)
        return weights


def _swap_tg_name(arn: str, name: str) -> str:
    """Target group ARN of the green group: same account/region, the pair's second name."""
    parts = arn.split(":targetgroup/")
    if len(parts) != 2:
        return arn
    return f"{parts[0]}:targetgroup/{name}/{parts[1].split('/')[-1]}"
