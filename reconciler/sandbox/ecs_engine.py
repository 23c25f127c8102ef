"""ECS service scheduler simulation: rolling deployments, circuit breaker, task sets.

Pure state machine driven by an injected clock; the HTTP layer (`api.py`) renders
its objects as ECS responses. Behaviour follows the ECS developer guide:
- deployment-type-ecs: a new task definition (or forceNewDeployment) creates a new
  PRIMARY deployment, the old one turns ACTIVE; batch bounds are
  floor(desired × maximumPercent/100) running+pending tasks and
  ceil(desired × minimumHealthyPercent/100) healthy tasks; the old deployment
  drains and disappears; then the steady-state event and rolloutState COMPLETED.
- deployment-circuit-breaker: failure threshold clamp(ceil(0.5 × desired), min, 200)
  (min is 3 in the current API reference, API_DeploymentCircuitBreaker.html; 10
  in the 2023 guide: it is a setting); a FAILED deployment launches no more
  tasks; with rollback the last COMPLETED deployment's task definition returns.
- service-event-messages and ecs_cwe_events: event and rolloutStateReason texts.
- botocore ecs `Service.events`: at most 100 events, newest first.
"""
from __future__ import annotations

import heapq
import math
import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

#: Sandbox seconds between two scheduler passes; a task started in one pass is
#: RUNNING (or STOPPED, if its image cannot be pulled) at the next.
STEP_SECONDS = 15.0
MAX_EVENTS = 100
STOPPED_TASK_RETENTION = 3600.0  # AWS lists stopped tasks for about an hour

ImageCheck = Callable[[str], "str | None"]


class Clock(Protocol):
    def now(self) -> float: ...


class RollingRecords(Protocol):
    """Service-deployment records of ROLLING deployments (service_deployments.py keeps them)."""

    def rolling_started(self, svc: SimService, group: SimDeployment, at: float) -> None: ...
    def rolling_completed(self, svc: SimService, group: SimDeployment, at: float) -> None: ...
    def rolling_failed(self, svc: SimService, group: SimDeployment, back: SimDeployment | None,
                       at: float) -> None: ...


def breaker_threshold(desired: int, minimum: int = 3) -> int:
    """clamp(ceil(0.5 × desired), minimum, 200): deployment-circuit-breaker.html."""
    return max(minimum, min(200, math.ceil(0.5 * desired)))


@dataclass
class SimTask:
    arn: str
    id: str
    cluster_arn: str
    task_definition: str
    containers: list[tuple[str, str]]
    group: str
    started_by: str
    launch_type: str | None
    created_at: float
    cpu: str | None = None
    memory: str | None = None
    last_status: str = "PROVISIONING"
    desired_status: str = "RUNNING"
    started_at: float | None = None
    stopped_at: float | None = None
    stopped_reason: str | None = None
    stop_code: str | None = None
    container_reason: str | None = None

    @property
    def running(self) -> bool:
        return self.last_status == "RUNNING"

    @property
    def pending(self) -> bool:
        return self.last_status in ("PROVISIONING", "PENDING")


@dataclass
class TaskGroup:
    """What deployments and task sets share: a task definition and its tasks."""

    id: str
    task_definition: str
    containers: list[tuple[str, str]]
    created_at: float
    updated_at: float
    launch_type: str | None = None
    platform_version: str | None = None
    network_configuration: dict[str, Any] | None = None
    capacity_provider_strategy: list[dict[str, Any]] | None = None
    tasks: list[SimTask] = field(default_factory=list)
    failed_tasks: int = 0

    @property
    def running(self) -> int:
        return sum(1 for t in self.tasks if t.running)

    @property
    def pending(self) -> int:
        return sum(1 for t in self.tasks if t.pending)


@dataclass
class SimDeployment(TaskGroup):
    desired_count: int = 0
    status: str = "PRIMARY"
    rollout_state: str = "IN_PROGRESS"
    rollout_state_reason: str = ""
    stuck_reported: bool = False


@dataclass
class SimTaskSet(TaskGroup):
    arn: str = ""
    external_id: str | None = None
    started_by: str | None = None
    status: str = "ACTIVE"
    scale: float = 100.0
    load_balancers: list[dict[str, Any]] = field(default_factory=list)
    stability_status: str = "STABILIZING"
    stability_status_at: float = 0.0


@dataclass
class SimService:
    arn: str
    name: str
    cluster_arn: str
    cluster_name: str
    desired_count: int
    task_definition: str
    containers: list[tuple[str, str]]
    controller: str
    deployment_configuration: dict[str, Any]
    created_at: float
    created_by: str
    attributes: dict[str, Any]
    cpu: str | None = None
    memory: str | None = None
    deployments: list[SimDeployment] = field(default_factory=list)
    task_sets: list[SimTaskSet] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    next_step_at: float | None = None
    steady: bool = False
    last_completed: tuple[str, list[tuple[str, str]]] | None = None
    status: str = "ACTIVE"

    @property
    def all_tasks(self) -> list[SimTask]:
        groups: list[TaskGroup] = [*self.deployments, *self.task_sets]
        return [t for g in groups for t in g.tasks]


class EcsSimulator:
    """Owns services, deployments, task sets and tasks; advances them on the clock."""

    def __init__(
        self,
        clock: Clock,
        image_check: ImageCheck,
        *,
        account: str = "123456789012",
        region: str = "eu-west-1",
        breaker_min: int = 3,
    ) -> None:
        self.clock = clock
        self.image_check = image_check
        self.account = account
        self.region = region
        self.breaker_min = breaker_min
        self.services: dict[str, SimService] = {}
        # Indexes so per-request work does not grow with the number of services:
        # (cluster name, service name) -> ARN, and the services with a pass scheduled.
        self._names: dict[tuple[str, str], str] = {}
        self._busy: dict[str, SimService] = {}
        self.stopped: list[tuple[SimTask, str]] = []  # (task, service arn) kept for ListTasks
        # Task indexes, so ListTasks(startedBy=) and DescribeTasks cost what they answer, not the
        # number of tasks: a service rollout's hook lookup made creating N services O(N²).
        #: task ARN and task id -> (task, service ARN), for every listed (live or kept stopped) task
        self._task_of: dict[str, tuple[SimTask, str]] = {}
        #: startedBy -> the services (ARNs, in creation order) that ever had a task with it
        self._started: dict[str, dict[str, None]] = {}
        #: service ARN -> its kept stopped tasks as (position in `stopped` order, task)
        self._stopped_of: dict[str, list[tuple[int, SimTask]]] = {}
        self._stop_seq = 0
        self._rank: dict[str, int] = {}  # service ARN -> its position in `services`
        self.lock = threading.RLock()
        self._rng = random.Random()
        #: Runs one pass of a native (BLUE_GREEN/LINEAR/CANARY) deployment; False when none is
        #: ongoing. Set by SandboxState to the service-deployment simulator.
        self.native_step: Callable[[SimService, float], bool] | None = None
        self.is_native: Callable[[SimService], bool] = lambda svc: False
        #: Set by SandboxState: the service-deployment records of ROLLING deployments.
        self.records: RollingRecords | None = None

    # ----- ids -------------------------------------------------------------
    def _deployment_id(self) -> str:
        return f"ecs-svc/{self._rng.randrange(10**18, 10**19)}"

    def _rolling(self, svc: SimService) -> RollingRecords | None:
        """The record keeper, for ROLLING deployments only (native ones keep their own records)."""
        return self.records if svc.controller == "ECS" and not self.is_native(svc) else None

    def _event(self, svc: SimService, at: float, message: str) -> None:
        svc.events.insert(0, {"id": str(uuid.uuid4()), "createdAt": at, "message": message})
        del svc.events[MAX_EVENTS:]

    def _schedule(self, svc: SimService, at: float | None = None) -> None:
        svc.steady = False
        if svc.next_step_at is None:
            svc.next_step_at = (self.clock.now() if at is None else at) + STEP_SECONDS
        self._busy[svc.arn] = svc

    # ----- creation and updates -------------------------------------------
    def create_service(
        self,
        *,
        arn: str,
        name: str,
        cluster_arn: str,
        cluster_name: str,
        task_definition: str,
        containers: list[tuple[str, str]],
        desired_count: int,
        controller: str,
        deployment_configuration: dict[str, Any],
        attributes: dict[str, Any],
        created_by: str,
        cpu: str | None = None,
        memory: str | None = None,
    ) -> SimService:
        now = self.clock.now()
        with self.lock:
            svc = SimService(
                arn=arn, name=name, cluster_arn=cluster_arn, cluster_name=cluster_name,
                desired_count=desired_count, task_definition=task_definition,
                containers=containers, controller=controller,
                deployment_configuration=deployment_configuration, created_at=now,
                created_by=created_by, attributes=attributes, cpu=cpu, memory=memory,
            )
            if controller == "ECS":
                svc.deployments.append(self._new_deployment(svc, task_definition, containers, now))
                records = self._rolling(svc)
                if records is not None:
                    records.rolling_started(svc, svc.deployments[0], now)
            elif controller == "CODE_DEPLOY":
                # AWS creates the service's first task set itself (deployment-type-bluegreen).
                ts = self.create_task_set(svc, task_definition, containers, external_id=None, started_by=None)
                ts.status = "PRIMARY"
            self.services[arn] = svc
            self._rank.setdefault(arn, len(self._rank))  # a re-created ARN keeps its dict position
            self._names[(cluster_name, name)] = arn
            self._schedule(svc, now)
            return svc

    def _new_deployment(
        self, svc: SimService, task_definition: str, containers: list[tuple[str, str]], now: float
    ) -> SimDeployment:
        dep_id = self._deployment_id()
        return SimDeployment(
            id=dep_id, task_definition=task_definition, containers=containers,
            created_at=now, updated_at=now, desired_count=svc.desired_count,
            launch_type=svc.attributes.get("launchType"),
            platform_version=_resolved_platform(svc.attributes),
            network_configuration=svc.attributes.get("networkConfiguration"),
            rollout_state_reason=f"ECS deployment {dep_id} in progress.",
        )

    def start_deployment(
        self, svc: SimService, task_definition: str, containers: list[tuple[str, str]]
    ) -> SimDeployment:
        """A new PRIMARY deployment; the current ones become ACTIVE (deployment-type-ecs)."""
        now = self.clock.now()
        with self.lock:
            for dep in svc.deployments:
                dep.status = "ACTIVE"
                dep.updated_at = now
            dep = self._new_deployment(svc, task_definition, containers, now)
            svc.deployments.insert(0, dep)
            svc.task_definition = task_definition
            svc.containers = containers
            records = self._rolling(svc)
            if records is not None:
                records.rolling_started(svc, dep, now)
            self._schedule(svc, now)
            return dep

    def set_desired_count(self, svc: SimService, desired: int) -> None:
        with self.lock:
            svc.desired_count = desired
            if svc.deployments:
                svc.deployments[0].desired_count = desired
            self._schedule(svc)

    # ----- task sets (CODE_DEPLOY) -----------------------------------------
    def create_task_set(
        self,
        svc: SimService,
        task_definition: str,
        containers: list[tuple[str, str]],
        *,
        external_id: str | None,
        started_by: str | None = "CODE_DEPLOY",
        load_balancers: list[dict[str, Any]] | None = None,
        network_configuration: dict[str, Any] | None = None,
        capacity_provider_strategy: list[dict[str, Any]] | None = None,
    ) -> SimTaskSet:
        now = self.clock.now()
        with self.lock:
            ts_id = self._deployment_id()
            ts = SimTaskSet(
                id=ts_id, task_definition=task_definition, containers=containers,
                created_at=now, updated_at=now,
                arn=f"arn:aws:ecs:{self.region}:{self.account}:task-set/{svc.cluster_name}/{svc.name}/{ts_id}",
                external_id=external_id, started_by=started_by,
                launch_type=svc.attributes.get("launchType"),
                platform_version=_resolved_platform(svc.attributes),
                # A task set runs with its own network and capacity providers, given by the
                # AppSpec or, for the first set, by CreateService ([bc-ecs] TaskSet members).
                network_configuration=network_configuration or svc.attributes.get("networkConfiguration"),
                capacity_provider_strategy=(capacity_provider_strategy
                                            or svc.attributes.get("capacityProviderStrategy")),
                load_balancers=load_balancers if load_balancers is not None else list(svc.attributes.get("loadBalancers", [])),
                stability_status_at=now,
            )
            svc.task_sets.append(ts)
            self._schedule(svc, now)
            return ts

    def set_primary_task_set(self, svc: SimService, ts: SimTaskSet) -> None:
        with self.lock:
            for other in svc.task_sets:
                other.status = "PRIMARY" if other is ts else "ACTIVE"
            svc.task_definition = ts.task_definition
            svc.containers = ts.containers

    def delete_task_set(self, svc: SimService, ts: SimTaskSet, reason: str) -> None:
        now = self.clock.now()
        with self.lock:
            self._stop_tasks(svc, ts, [t for t in ts.tasks if not t.desired_status == "STOPPED"], now, reason, "ServiceSchedulerInitiated")
            if ts in svc.task_sets:
                svc.task_sets.remove(ts)

    def move_to_ecs_controller(self, svc: SimService) -> None:
        """CODE_DEPLOY -> ECS [DG:update-service-parameters]: the PRIMARY task set's tasks become
        the service's PRIMARY (completed) deployment; other task sets go away."""
        now = self.clock.now()
        with self.lock:
            primary = next((ts for ts in svc.task_sets if ts.status == "PRIMARY"), None)
            dep = self._new_deployment(svc, svc.task_definition, svc.containers, now)
            dep.rollout_state, dep.rollout_state_reason = "COMPLETED", f"ECS deployment {dep.id} completed."
            if primary is not None:
                dep.tasks, primary.tasks = primary.tasks, []
                for task in dep.tasks:
                    task.started_by = dep.id
                self._started.setdefault(dep.id, {})[svc.arn] = None
            for ts in list(svc.task_sets):
                self.delete_task_set(svc, ts, f"Task set {ts.id} removed: the service moved to the ECS controller")
            svc.controller, svc.deployments = "ECS", [dep]
            svc.last_completed = (dep.task_definition, dep.containers)
            self._schedule(svc, now)

    def computed_desired(self, svc: SimService, ts: SimTaskSet) -> int:
        """ceil(desired × scale%) (botocore ecs TaskSet.computedDesiredCount)."""
        return math.ceil(svc.desired_count * ts.scale / 100.0)

    # ----- time ------------------------------------------------------------
    def tick(self) -> None:
        """Run every scheduler pass that is due on the sandbox clock.

        Only services with a pass scheduled are visited: steady services cost nothing,
        so a request against a 1000-service sandbox does not step 1000 services.
        """
        now = self.clock.now()
        with self.lock:
            for svc in list(self._busy.values()):
                while svc.next_step_at is not None and svc.next_step_at <= now:
                    at = svc.next_step_at
                    svc.next_step_at = at + STEP_SECONDS
                    if svc.controller == "ECS" and self.is_native(svc):
                        self._step_native(svc, at)
                    elif svc.controller == "ECS":
                        self._step_rolling(svc, at)
                    else:
                        self._step_task_sets(svc, at)
                if svc.next_step_at is None:
                    self._busy.pop(svc.arn, None)
            self._prune_stopped(now)

    def _prune_stopped(self, now: float) -> None:
        """Forget stopped tasks older than STOPPED_TASK_RETENTION, in `stopped` and the indexes."""
        cutoff = now - STOPPED_TASK_RETENTION
        # Stopped tasks are appended in (roughly) time order: prune only once the oldest expired.
        if not self.stopped or (self.stopped[0][0].stopped_at or now) >= cutoff:
            return
        expired = [(t, s) for t, s in self.stopped if (t.stopped_at or now) < cutoff]
        self.stopped = [(t, s) for t, s in self.stopped if (t.stopped_at or now) >= cutoff]
        gone = {id(t) for t, _ in expired}
        for task, _ in expired:
            for key in (task.arn, task.id):
                if key in self._task_of and self._task_of[key][0] is task:
                    del self._task_of[key]
        for arn in {s for _, s in expired}:
            kept = [(n, t) for n, t in self._stopped_of.get(arn, []) if id(t) not in gone]
            if kept:
                self._stopped_of[arn] = kept
            else:
                self._stopped_of.pop(arn, None)

    def _step_native(self, svc: SimService, at: float) -> None:
        """A native deployment moves its own stages; without one the service keeps its count."""
        for dep in svc.deployments:
            self._resolve_pending(svc, dep, at)
        if self.native_step is not None and self.native_step(svc, at):
            return
        if len(svc.deployments) == 1:
            self._step_rolling(svc, at)
        else:  # a stopped deployment left several revisions: the next deployment reconciles them
            svc.next_step_at = None

    def launch(self, svc: SimService, group: TaskGroup, count: int, at: float) -> list[SimTask]:
        return self._launch(svc, group, count, at)

    def retire(self, svc: SimService, group: SimDeployment, at: float, reason: str) -> None:
        """Stop every task of a deployment and drop it from the service."""
        running = [t for t in group.tasks if t.desired_status != "STOPPED"]
        self._stop_tasks(svc, group, running, at, reason, "ServiceSchedulerInitiated")
        if running:
            self._event(svc, at, f"(service {svc.name}) has stopped {len(running)} running tasks.")
        group.status = "INACTIVE"
        if group in svc.deployments:
            svc.deployments.remove(group)

    def wake(self, svc: SimService) -> None:
        """Schedule a pass now (an API call changed a deployment)."""
        self._schedule(svc)

    def _launch(self, svc: SimService, group: TaskGroup, count: int, at: float) -> list[SimTask]:
        started_by = group.external_id if isinstance(group, SimTaskSet) and group.external_id else group.id
        tasks = []
        for _ in range(count):
            task_id = uuid.uuid4().hex
            tasks.append(SimTask(
                arn=f"arn:aws:ecs:{self.region}:{self.account}:task/{svc.cluster_name}/{task_id}",
                id=task_id, cluster_arn=svc.cluster_arn, task_definition=group.task_definition,
                containers=list(group.containers), group=f"service:{svc.name}",
                started_by=started_by, launch_type=group.launch_type, created_at=at,
                cpu=svc.cpu, memory=svc.memory,
            ))
        group.tasks.extend(tasks)
        group.updated_at = at
        for task in tasks:
            self._task_of[task.arn] = self._task_of[task.id] = (task, svc.arn)
        if tasks:
            self._started.setdefault(started_by, {})[svc.arn] = None
        if tasks:
            names = " ".join(f"(task {t.id})" for t in tasks)
            self._event(svc, at, f"(service {svc.name}) has started {len(tasks)} tasks: {names}.")
        return tasks

    def _resolve_pending(self, svc: SimService, group: TaskGroup, at: float) -> None:
        """Pending tasks either pull their images and run, or stop with the pull error."""
        for task in [t for t in group.tasks if t.pending]:
            reason = next((r for r in (self.image_check(img) for _, img in task.containers) if r), None)
            if reason:
                task.container_reason = reason
                self._stop_tasks(svc, group, [task], at, reason, "TaskFailedToStart")
                group.failed_tasks += 1
            else:
                task.last_status = "RUNNING"
                task.started_at = at
                group.failed_tasks = 0  # failedTasks resets once a task runs
            group.updated_at = at

    def _stop_tasks(
        self, svc: SimService, group: TaskGroup, tasks: list[SimTask], at: float, reason: str, code: str
    ) -> None:
        for task in tasks:
            task.last_status = task.desired_status = "STOPPED"
            task.stopped_at = at
            task.stopped_reason = reason
            task.stop_code = code
            if task in group.tasks:
                group.tasks.remove(task)
            self.stopped.append((task, svc.arn))
            self._stopped_of.setdefault(svc.arn, []).append((self._stop_seq, task))
            self._stop_seq += 1
        group.updated_at = at

    def _step_rolling(self, svc: SimService, at: float) -> None:
        config = svc.deployment_configuration
        desired = svc.desired_count
        primary = svc.deployments[0]
        primary.desired_count = desired
        for dep in svc.deployments:
            self._resolve_pending(svc, dep, at)
        breaker = config.get("deploymentCircuitBreaker") or {}
        if (
            primary.rollout_state == "IN_PROGRESS" and breaker.get("enable")
            and primary.running == 0
            and primary.failed_tasks >= breaker_threshold(desired, self.breaker_min)
        ):
            primary = self._trip_breaker(svc, primary, bool(breaker.get("rollback")), at)
        # Stop old tasks while keeping ceil(desired × minimumHealthyPercent) running.
        min_healthy = math.ceil(desired * config.get("minimumHealthyPercent", 100) / 100)
        can_stop = sum(d.running for d in svc.deployments) - min_healthy
        stopped = 0
        for old in svc.deployments[1:]:
            victims = [t for t in old.tasks if t.running][: max(0, can_stop)]
            if victims:
                self._stop_tasks(svc, old, victims, at, f"Scaling activity initiated by (deployment {primary.id})", "ServiceSchedulerInitiated")
                can_stop -= len(victims)
                stopped += len(victims)
        extra = [t for t in primary.tasks if t.running][desired:] if primary.running > desired else []
        if extra:
            self._stop_tasks(svc, primary, extra, at, f"Scaling activity initiated by (deployment {primary.id})", "ServiceSchedulerInitiated")
            stopped += len(extra)
        if stopped:
            self._event(svc, at, f"(service {svc.name}) has stopped {stopped} running tasks.")
        for old in list(svc.deployments[1:]):
            # Drained deployments turn INACTIVE and drop out of the list; a FAILED one
            # stays visible (with its reason) until the rollback deployment completes.
            if not old.tasks and old.rollout_state != "FAILED":
                svc.deployments.remove(old)
        launched = 0
        if primary.rollout_state != "FAILED":
            max_total = math.floor(desired * config.get("maximumPercent", 200) / 100)
            in_flight = sum(d.running + d.pending for d in svc.deployments)
            need = desired - primary.running - primary.pending
            launched = len(self._launch(svc, primary, max(0, min(need, max_total - in_flight)), at))
        if primary.running == desired and not any(d.tasks for d in svc.deployments[1:]):
            del svc.deployments[1:]
            if primary.rollout_state == "IN_PROGRESS":
                primary.rollout_state = "COMPLETED"
                primary.rollout_state_reason = f"ECS deployment {primary.id} completed."
                primary.updated_at = at
                self._event(svc, at, f"(service {svc.name}) (deployment {primary.id}) deployment completed.")
                records = self._rolling(svc)
                if records is not None:
                    records.rolling_completed(svc, primary, at)
            if primary.rollout_state == "COMPLETED":
                svc.last_completed = (primary.task_definition, primary.containers)
            self._event(svc, at, f"(service {svc.name}) has reached a steady state.")
            svc.steady = True
            svc.next_step_at = None
        elif primary.rollout_state == "FAILED" and not any(d.pending for d in svc.deployments):
            svc.next_step_at = None  # a FAILED deployment launches no more tasks
        elif not launched and not stopped and not any(d.pending for d in svc.deployments) and not primary.stuck_reported:
            primary.stuck_reported = True
            self._event(svc, at, f"(service {svc.name}) was unable to stop or start tasks during a deployment because of the service deployment configuration. Update the minimumHealthyPercent or maximumPercent value and try again.")

    def _trip_breaker(self, svc: SimService, primary: SimDeployment, rollback: bool, at: float) -> SimDeployment:
        primary.rollout_state = "FAILED"
        primary.rollout_state_reason = "ECS deployment circuit breaker: tasks failed to start."
        primary.updated_at = at
        self._event(svc, at, f"(service {svc.name}) (deployment {primary.id}) deployment failed: tasks failed to start.")
        records = self._rolling(svc)
        if not rollback or svc.last_completed is None:
            if records is not None:
                records.rolling_failed(svc, primary, None, at)
            return primary
        task_definition, containers = svc.last_completed
        target = next((d for d in svc.deployments[1:] if d.task_definition == task_definition), None)
        back = self._new_deployment(svc, task_definition, containers, at)
        back.rollout_state_reason = (
            f"ECS deployment circuit breaker: rolling back to deploymentId {target.id if target else back.id}."
        )
        primary.status = "ACTIVE"
        svc.deployments.insert(0, back)
        svc.task_definition, svc.containers = task_definition, containers
        self._event(svc, at, f"(service {svc.name}) rolling back to deployment {target.id if target else back.id}.")
        if records is not None:
            records.rolling_failed(svc, primary, back, at)
        return back

    def _step_task_sets(self, svc: SimService, at: float) -> None:
        busy = False
        for ts in svc.task_sets:
            self._resolve_pending(svc, ts, at)
            target = self.computed_desired(svc, ts)
            running = [t for t in ts.tasks if t.running]
            if len(running) > target:
                self._stop_tasks(svc, ts, running[target:], at, "Scaling activity initiated by (deployment " + ts.id + ")", "ServiceSchedulerInitiated")
            need = target - ts.running - ts.pending
            if need > 0:
                self._launch(svc, ts, need, at)
            steady = ts.running == target and ts.pending == 0
            new_status = "STEADY_STATE" if steady else "STABILIZING"
            if new_status != ts.stability_status:
                ts.stability_status, ts.stability_status_at = new_status, at
            busy = busy or not steady
        if not busy:
            if not svc.steady:
                self._event(svc, at, f"(service {svc.name}) has reached a steady state.")
            svc.steady = True
            svc.next_step_at = None

    # ----- queries ---------------------------------------------------------
    def find_service(self, cluster_name: str, name_or_arn: str, include_inactive: bool = False) -> SimService | None:
        """By name or ARN within a cluster; INACTIVE (deleted) services only when asked."""
        arn = name_or_arn if name_or_arn.startswith("arn:") else self._names.get((cluster_name, name_or_arn))
        svc = self.services.get(arn) if arn else None
        if svc is None or svc.cluster_name != cluster_name:
            return None
        return svc if svc.status != "INACTIVE" or include_inactive else None

    def tasks(self, service: SimService | None = None) -> list[tuple[SimTask, SimService | None]]:
        """Every task with its service (live ones by service, then the kept stopped ones in the order
        they stopped); with `service`, only that service's, in the same order (ListTasks by serviceName
        without a walk over every service: O(N) per call made a 10,000-service first sync O(N²))."""
        if service is not None:
            return [(t, service) for t in service.all_tasks] + \
                [(t, service) for _, t in self._stopped_of.get(service.arn, [])]
        live = [(t, s) for s in self.services.values() for t in s.all_tasks]
        return live + [(t, self.services.get(arn)) for t, arn in self.stopped]

    def tasks_started_by(self, started_by: str) -> list[tuple[SimTask, SimService | None]]:
        """The tasks whose startedBy is `started_by`, in `tasks()` order, from the services that ever
        launched one with it (the index is only a candidate list: each task's current value decides)."""
        found = (self.services.get(arn) for arn in self._started.get(started_by, {}))
        services = sorted((s for s in found if s is not None), key=lambda s: self._rank.get(s.arn, 0))
        live = [(t, s) for s in services for t in s.all_tasks if t.started_by == started_by]
        stopped = heapq.merge(*[[(n, t, s) for n, t in self._stopped_of.get(s.arn, [])] for s in services],
                              key=lambda row: row[0])
        return live + [(t, s) for _, t, s in stopped if t.started_by == started_by]

    def find_task(self, ref: str) -> SimTask | None:
        """A live or kept stopped task by ARN or id (DescribeTasks)."""
        found = self._task_of.get(ref)
        return found[0] if found else None


def _resolved_platform(attributes: dict[str, Any]) -> str | None:
    """Fargate resolves LATEST to a concrete platform version in deployments."""
    if attributes.get("launchType") == "FARGATE":
        version = attributes.get("platformVersion") or "LATEST"
        return "1.4.0" if version == "LATEST" else version
    return None
