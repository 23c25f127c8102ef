"""ECS-native BLUE_GREEN / LINEAR / CANARY service deployments (the ECS deployment controller).

Sources (reference ecs-native-deployments.md; [DG:x] = ECS developer guide page x,
[BC] = botocore 1.43.11 ecs model):
- Stage order RECONCILE_SERVICE, PRE_SCALE_UP, SCALE_UP, POST_SCALE_UP,
  TEST_TRAFFIC_SHIFT, POST_TEST_TRAFFIC_SHIFT, (PRE_PRODUCTION_TRAFFIC_SHIFT,
  PRODUCTION_TRAFFIC_SHIFT) per step, POST_PRODUCTION_TRAFFIC_SHIFT, BAKE_TIME,
  CLEAN_UP [DG:blue-green-deployment-how-it-works, DG:deployment-type-linear];
  RECONCILE_SERVICE only when the deployment starts with more than one active revision.
- LINEAR moves production traffic in equal stepPercent steps with
  stepBakeTimeInMinutes between them (none after the step reaching 100 %);
  CANARY moves canaryPercent, bakes canaryBakeTimeInMinutes, then 100 %
  [DG:deployment-type-linear, DG:canary-deployment]; defaults 10 %/6 min and
  5 %/10 min [BC LinearConfiguration, CanaryConfiguration]; bakeTimeInMinutes
  after production reaches 100 % for all three strategies.
- Traffic moves by changing the weights of the production (and test) listener
  rule that forwards to both target groups [DG:migrate-codedeploy-to-ecs-bluegreen];
  green registers in the alternate target group [DG:alb-resources-for-blue-green].
- Hooks: PAUSE hooks get a hookId `ecs-pause-…`, status AWAITING_ACTION, wait for
  ContinueServiceDeployment or their timeout (default 1440 min, action ROLLBACK);
  hooks of one stage run in parallel and any rollback rolls the deployment back;
  PRE_PRODUCTION/PRODUCTION hooks run at every step with a new hookId
  [DG:pause-lifecycle-hooks, DG:continue-service-deployment,
  API:DeploymentLifecycleHookTimeoutConfiguration]. Lambda hooks answer
  SUCCEEDED / FAILED / IN_PROGRESS (+callBackDelay, default 30 s); anything else
  rolls back [DG:lambda-lifecycle-hooks].
- Status transitions [DG:service-deployment]: failure detection with rollback ->
  ROLLBACK_IN_PROGRESS -> ROLLBACK_SUCCESSFUL; without rollback STOP_REQUESTED ->
  STOPPED; a user rollback (StopServiceDeployment ROLLBACK) ROLLBACK_REQUESTED ->
  ROLLBACK_IN_PROGRESS -> ROLLBACK_SUCCESSFUL; a new deployment stops the old one
  (STOP_REQUESTED -> STOPPED). Circuit breaker threshold 0.5 × desired clamped
  [BC ServiceDeploymentCircuitBreaker]; CloudWatch alarms roll back
  [DG:blue-green-deployment-implementation].
- A stage lasts at most 24 h, then the deployment fails and rolls back
  [DG:blue-green-deployment-how-it-works].

OUR CHOICES (undocumented by AWS; all of them live in this block):
- Each stage takes at least one scheduler pass (15 sandbox seconds).
- `lifecycleStage` reads PRE_PRODUCTION_TRAFFIC_SHIFT while those hooks run (the
  value is a hook stage but not in the 1.43.11 lifecycleStage enum) and
  PRODUCTION_TRAFFIC_SHIFT during step bakes.
- `lifecycleHookDetails` keeps every hook execution of the deployment (newest
  last), so a failed or timed-out hook stays visible after the rollback; hooks
  cut short by a rollback are dropped.
- Lambda hook hookIds are `ecs-hook-…`; an unconfigured function answers SUCCEEDED.
- The first deployment of a new service (no source revision) serves from the
  primary target group in one step; its failure with rollback is ROLLBACK_FAILED.
- RECONCILE_SERVICE stops the tasks of revisions other than the one serving most
  production traffic and returns all traffic to it.
- After a successful deployment the service's load balancer records the swap:
  `targetGroupArn` is the green group, `alternateTargetGroupArn` the old one
  (user reports, reference §2.2).
- StopServiceDeployment without stopType means ROLLBACK; ABORT stops where it is.
- A rollback re-points traffic in one pass, then removes green in the next;
  Lambda hooks are not re-invoked during rollback.
- Circuit breaker and alarms are watched for the whole deployment.
- ROLLING deployments get service-deployment records too (a service deployment is created by
  CreateService and by every UpdateService that starts a deployment, whatever the strategy
  [DG:service-deployment]); the rolling scheduler (ecs_engine) moves them: IN_PROGRESS at once
  (no lifecycle stages, `lifecycleStage` absent: our choice), SUCCESSFUL when the deployment
  completes, and on a circuit-breaker trip ROLLBACK_IN_PROGRESS -> ROLLBACK_SUCCESSFUL when the
  rollback deployment completes, or STOP_REQUESTED -> STOPPED without rollback
  [DG:service-deployment transitions; aws-behaviour.md §2 circuit breaker]. The target revision
  id is the deployment id's number (reference §3.4).
"""
from __future__ import annotations

import copy
import random
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reconciler.manifests.ecs_deployments import production_steps
from reconciler.sandbox.ecs_engine import SimDeployment, SimService, breaker_threshold

NATIVE_STRATEGIES = ("BLUE_GREEN", "LINEAR", "CANARY")
LIFECYCLE_STAGES = (
    "RECONCILE_SERVICE", "PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", "CLEAN_UP",
)
HOOK_STAGES = frozenset({
    "RECONCILE_SERVICE", "PRE_SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT",
})
ONGOING = ("PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS")
COMPLETED = ("SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED")
STAGE_LIMIT_SECONDS = 24 * 3600.0
DEFAULT_HOOK_TIMEOUT_MINUTES = 1440
DEFAULT_CALLBACK_SECONDS = 30.0

AlarmState = Callable[[str], "str | None"]
SetWeights = Callable[[str, dict[str, int]], None]


def strategy_of(svc: SimService) -> str:
    if svc.controller != "ECS":
        return ""
    return str(svc.deployment_configuration.get("strategy") or "ROLLING")


def is_native(svc: SimService) -> bool:
    return strategy_of(svc) in NATIVE_STRATEGIES


@dataclass
class SimRevision:
    """A ServiceRevision: what one deployment's tasks run, and the target group serving them."""

    arn: str
    service: SimService
    group: SimDeployment
    created_at: float
    attributes: dict[str, Any]
    target_group: str | None = None
    listener_rule: str | None = None


@dataclass
class SimHook:
    hook_id: str
    target_type: str
    target_arn: str | None
    stage: str
    status: str
    started_at: float
    expires_at: float
    timeout_action: str
    hook_details: Any = None
    invocations: int = 0
    next_invoke_at: float | None = None

    @property
    def open(self) -> bool:
        return self.status in ("AWAITING_ACTION", "IN_PROGRESS")


@dataclass
class SimServiceDeployment:
    arn: str
    service: SimService
    created_at: float
    config: dict[str, Any]
    target: SimRevision
    sources: list[SimRevision]
    steps: list[tuple[float, float]]
    phases: list[tuple[str, int]]
    status: str = "PENDING"
    status_reason: str | None = None
    stage: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    stopped_at: float | None = None
    updated_at: float = 0.0
    index: int = 0
    entered: bool = False
    stage_started_at: float = 0.0
    wait_until: float | None = None
    prod_weight: float = 0.0
    test_weight: float = 0.0
    hooks: list[SimHook] = field(default_factory=list)
    rollback: dict[str, Any] | None = None
    rollback_phase: int = 0
    rollback_group: SimDeployment | None = None   # ROLLING: the deployment the circuit breaker started
    failure_count: int = 0
    breaker_status: str = "DISABLED"
    alarms_status: str = "DISABLED"
    triggered_alarms: list[str] = field(default_factory=list)

    @property
    def ongoing(self) -> bool:
        return self.status in ONGOING

    @property
    def source(self) -> SimRevision | None:
        return self.sources[0] if self.sources else None


class ServiceDeploymentSimulator:
    """Service deployments and revisions of ECS-controller services using a native strategy."""

    def __init__(self, ecs: Any, alarm_state: AlarmState, set_weights: SetWeights,
                 read_weights: Callable[[str], dict[str, int]] = lambda arn: {}) -> None:
        self.ecs = ecs
        self.alarm_state = alarm_state
        self.set_weights = set_weights
        self.read_weights = read_weights
        self.deployments: dict[str, SimServiceDeployment] = {}
        self.revisions: dict[str, SimRevision] = {}
        #: service ARN -> its revisions, oldest first (every deployment has one, rolling ones too)
        self.revisions_of: dict[str, list[SimRevision]] = {}
        #: service ARN -> its deployments, oldest first
        self.by_service: dict[str, list[SimServiceDeployment]] = {}
        #: Lambda function ARN -> answers, one per invocation (the last one repeats)
        self.lambda_answers: dict[str, list[dict[str, Any]]] = {}
        self._rng = random.Random()

    # ----- ids ---------------------------------------------------------------
    def _token(self, n: int) -> str:
        return "".join(self._rng.choice(string.ascii_letters + string.digits) for _ in range(n))

    def current(self, svc: SimService) -> SimServiceDeployment | None:
        deps = self.by_service.get(svc.arn) or []
        return deps[-1] if deps else None

    def ongoing(self, svc: SimService) -> SimServiceDeployment | None:
        dep = self.current(svc)
        return dep if dep is not None and dep.ongoing else None

    def serving_revisions(self, svc: SimService) -> list[SimRevision]:
        """Revisions whose task group still belongs to the service (newest first)."""
        groups = {id(g) for g in svc.deployments}
        return [r for r in reversed(self.revisions_of.get(svc.arn) or []) if r.service is svc and id(r.group) in groups]

    # ----- starting -----------------------------------------------------------
    def begin(self, svc: SimService, group: SimDeployment, at: float) -> SimServiceDeployment:
        """A new ServiceDeployment for the PRIMARY task group `group` (CreateService / UpdateService)."""
        previous = self.ongoing(svc)
        if previous is not None:  # [DG:service-deployment] a new deployment stops the running one
            previous.status = "STOP_REQUESTED"
            self._finish(previous, at, "STOPPED", "Service deployment stopped: a newer deployment started.")
            previous.stopped_at = at
        self._adopt(svc, group, at)
        serving = [r for r in self.serving_revisions(svc) if r.group is not group]
        target = self._revision(svc, group, at)
        lb = _advanced_lb(svc)
        sources = sorted(serving, key=lambda r: -self._production_share(r))
        if lb is not None:
            primary, alternate = lb.get("targetGroupArn"), (lb.get("advancedConfiguration") or {}).get("alternateTargetGroupArn")
            if sources and sources[0].target_group in (primary, alternate):
                target.target_group = alternate if sources[0].target_group == primary else primary
            else:
                target.target_group = primary if not sources else alternate
            target.listener_rule = (lb.get("advancedConfiguration") or {}).get("productionListenerRule")
        config = dict(svc.deployment_configuration)
        steps = production_steps(config) if sources else [(100.0, 0.0)]
        phases: list[tuple[str, int]] = []
        if len(serving) > 1:
            phases.append(("RECONCILE_SERVICE", 0))
        phases += [(s, 0) for s in ("PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT",
                                   "POST_TEST_TRAFFIC_SHIFT")]
        for i, (_, bake) in enumerate(steps):
            phases += [("PRE_PRODUCTION_TRAFFIC_SHIFT", i), ("PRODUCTION_TRAFFIC_SHIFT", i)]
            if bake > 0:
                phases.append(("STEP_BAKE", i))
        phases += [("POST_PRODUCTION_TRAFFIC_SHIFT", 0), ("BAKE_TIME", 0), ("CLEAN_UP", 0)]
        dep = SimServiceDeployment(
            arn=f"arn:aws:ecs:{self.ecs.region}:{self.ecs.account}:service-deployment/{svc.cluster_name}/{svc.name}/{self._token(22)}",
            service=svc, created_at=at, updated_at=at, config=config, target=target, sources=sources,
            steps=steps, phases=phases,
        )
        breaker = config.get("deploymentCircuitBreaker") or {}
        dep.breaker_status = "MONITORING" if breaker.get("enable") else "DISABLED"
        alarms = config.get("alarms") or {}
        dep.alarms_status = "MONITORING" if alarms.get("enable") and alarms.get("alarmNames") else "DISABLED"
        self.deployments[dep.arn] = dep
        self.by_service.setdefault(svc.arn, []).append(dep)
        return dep

    def _adopt(self, svc: SimService, new: SimDeployment, at: float) -> None:
        """Task groups started before the service used a native strategy (rolling, or task sets
        moved over from CODE_DEPLOY) become revisions served by the primary target group."""
        known = {id(r.group) for r in self.revisions_of.get(svc.arn) or []}
        lb = _advanced_lb(svc) or next(iter(svc.attributes.get("loadBalancers") or []), None) or {}
        for group in svc.deployments:
            if group is new or id(group) in known:
                continue
            revision = self._revision(svc, group, at)
            revision.target_group = lb.get("targetGroupArn")

    def _revision(self, svc: SimService, group: SimDeployment, at: float) -> SimRevision:
        revision_id = group.id.split("/")[-1]  # ecs-svc/<N> <-> service-revision/.../<N> (reference §3.4)
        revision = SimRevision(
            arn=f"arn:aws:ecs:{self.ecs.region}:{self.ecs.account}:service-revision/{svc.cluster_name}/{svc.name}/{revision_id}",
            service=svc, group=group, created_at=at, attributes=_revision_attributes(svc, group),
        )
        self.revisions[revision.arn] = revision
        self.revisions_of.setdefault(svc.arn, []).append(revision)
        return revision

    def _production_share(self, revision: SimRevision) -> float:
        """Percent of production traffic the revision had when the last deployment ended."""
        last = self.current(revision.service)
        if last is None or last.status == "SUCCESSFUL":
            return 100.0 if last is None or last.target is revision else 0.0
        if last.target is revision:
            return last.prod_weight
        return 100.0 - last.prod_weight if revision in last.sources else 0.0

    # ----- ROLLING deployments (records the rolling scheduler moves) -----------
    def _rolling_record(self, svc: SimService, group: SimDeployment) -> SimServiceDeployment | None:
        return next((d for d in reversed(self.by_service.get(svc.arn) or [])
                     if d.target.group is group or d.rollback_group is group), None)

    def rolling_started(self, svc: SimService, group: SimDeployment, at: float) -> None:
        """CreateService / UpdateService started a rolling deployment: its record, IN_PROGRESS."""
        previous = self.ongoing(svc)
        if previous is not None:  # [DG:service-deployment] a new deployment stops the running one
            self._finish(previous, at, "STOPPED", "Service deployment stopped: a newer deployment started.")
            previous.stopped_at = at
        self._adopt(svc, group, at)
        sources = [r for r in self.serving_revisions(svc) if r.group is not group]
        target = self._revision(svc, group, at)
        config = copy.deepcopy(svc.deployment_configuration)
        dep = SimServiceDeployment(
            arn=f"arn:aws:ecs:{self.ecs.region}:{self.ecs.account}:service-deployment/{svc.cluster_name}/{svc.name}/{self._token(22)}",
            service=svc, created_at=at, updated_at=at, config=config, target=target, sources=sources[:1],
            steps=[], phases=[], status="IN_PROGRESS", started_at=at)
        dep.breaker_status = "MONITORING" if (config.get("deploymentCircuitBreaker") or {}).get("enable") else "DISABLED"
        self.deployments[dep.arn] = dep
        self.by_service.setdefault(svc.arn, []).append(dep)

    def rolling_completed(self, svc: SimService, group: SimDeployment, at: float) -> None:
        dep = self._rolling_record(svc, group)
        if dep is None or not dep.ongoing:
            return
        if dep.rollback_group is group:
            self._finish(dep, at, "ROLLBACK_SUCCESSFUL", dep.status_reason)
        else:
            self._finish(dep, at, "SUCCESSFUL", "Service deployment completed successfully.")
            dep.prod_weight = 100.0

    def rolling_failed(self, svc: SimService, group: SimDeployment, back: SimDeployment | None, at: float) -> None:
        """The circuit breaker failed `group`; `back` is the rollback deployment (None: no rollback)."""
        dep = self._rolling_record(svc, group)
        if dep is None or not dep.ongoing:
            return
        dep.breaker_status, dep.failure_count = "TRIGGERED", group.failed_tasks
        reason = "Service deployment rolled back: the deployment circuit breaker detected failed tasks."
        if back is None:
            dep.status, dep.status_reason = "STOP_REQUESTED", reason.replace("rolled back", "stopped")
            self._finish(dep, at, "STOPPED", dep.status_reason)
            dep.stopped_at = at
            return
        self._start_rollback(dep, at, reason, requested=False)
        dep.rollback_group = back

    # ----- the scheduler pass -------------------------------------------------
    def step(self, svc: SimService, at: float) -> bool:
        """Advance the service's deployment by one pass; False when none is ongoing."""
        dep = self.ongoing(svc)
        if dep is None:
            return False
        if dep.status == "PENDING":
            dep.status, dep.started_at = "IN_PROGRESS", at
            problem = self._networking_problem(dep)
            if problem:
                self._fail(dep, at, problem, rollback=True)
        if dep.status == "STOP_REQUESTED":
            self._finish(dep, at, "STOPPED", dep.status_reason)
            dep.stopped_at = at
            return True
        if dep.status in ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"):
            self._step_rollback(dep, at)
            return True
        self._scale(dep, at)
        if self._check_failures(dep, at):
            return True
        stage, index = dep.phases[dep.index]
        if not dep.entered:
            self._enter(dep, stage, index, at)
        if self._stage_done(dep, stage, at):
            dep.entered = False
            dep.index += 1
            if dep.index >= len(dep.phases):
                self._succeed(dep, at)
        dep.updated_at = at
        return True

    def _networking_problem(self, dep: SimServiceDeployment) -> str | None:
        """[DG:migrate-code-deploy-to-ecs-blue-green]: the deployment rolls back when the listener
        rules do not forward to both target groups."""
        lb = _advanced_lb(dep.service)
        if lb is None or dep.source is None:
            return None
        advanced = lb.get("advancedConfiguration") or {}
        pair = {lb.get("targetGroupArn"), advanced.get("alternateTargetGroupArn")}
        covered: set[Any] = set()
        for key in ("productionListenerRule", "testListenerRule"):
            if advanced.get(key):
                covered |= set(self.read_weights(str(advanced[key])))
        if pair <= covered:
            return None
        return ("Service deployment rolled back because of invalid networking configuration. Both targetGroup "
                "and alternateTargetGroup must be associated with the productionListenerRule or testListenerRule.")

    def _scale(self, dep: SimServiceDeployment, at: float) -> None:
        """Green is launched from SCALE_UP on (to the desired count) and kept there."""
        stage = dep.phases[dep.index][0]
        started = stage not in ("RECONCILE_SERVICE", "PRE_SCALE_UP")
        green = dep.target.group
        if started and green.rollout_state != "FAILED":
            need = dep.service.desired_count - green.running - green.pending
            if need > 0:
                self.ecs.launch(dep.service, green, need, at)
        dep.failure_count = max(dep.failure_count, green.failed_tasks)

    def _enter(self, dep: SimServiceDeployment, stage: str, index: int, at: float) -> None:
        dep.entered, dep.stage_started_at, dep.wait_until = True, at, None
        shown = {"STEP_BAKE": "PRODUCTION_TRAFFIC_SHIFT"}.get(stage, stage)
        dep.stage = shown
        if stage == "RECONCILE_SERVICE":
            self._reconcile(dep, at)
        elif stage == "TEST_TRAFFIC_SHIFT":
            dep.test_weight = 100.0
            self._apply_weights(dep, test=True)
        elif stage == "PRODUCTION_TRAFFIC_SHIFT":
            dep.prod_weight = dep.steps[index][0]
            self._apply_weights(dep, test=False)
        elif stage == "STEP_BAKE":
            dep.wait_until = at + dep.steps[index][1]
        elif stage == "BAKE_TIME":
            dep.wait_until = at + float(dep.config.get("bakeTimeInMinutes") or 0) * 60.0
        if stage in HOOK_STAGES:
            self._start_hooks(dep, stage, at)

    def _stage_done(self, dep: SimServiceDeployment, stage: str, at: float) -> bool:
        if stage == "SCALE_UP":
            green = dep.target.group
            if at - dep.stage_started_at >= STAGE_LIMIT_SECONDS:
                self._fail(dep, at, "Service deployment rolled back: the SCALE_UP stage exceeded 24 hours.", rollback=True)
                return False
            return green.running >= dep.service.desired_count and green.pending == 0
        if dep.wait_until is not None and at < dep.wait_until:
            return False
        if stage == "CLEAN_UP":
            for revision in dep.sources:
                self.ecs.retire(dep.service, revision.group, at, f"Scaling activity initiated by (deployment {dep.target.group.id})")
            return True
        return self._hooks_done(dep, stage, at)

    def _succeed(self, dep: SimServiceDeployment, at: float) -> None:
        svc = dep.service
        lb = _advanced_lb(svc)
        source = dep.source
        if lb is not None and source is not None and dep.target.target_group and source.target_group:
            lb["targetGroupArn"] = dep.target.target_group
            lb.setdefault("advancedConfiguration", {})["alternateTargetGroupArn"] = source.target_group
        green = dep.target.group
        green.rollout_state, green.status = "COMPLETED", "PRIMARY"
        svc.last_completed = (green.task_definition, green.containers)
        self._finish(dep, at, "SUCCESSFUL", "Service deployment completed successfully.")
        dep.stage = "CLEAN_UP"

    def _finish(self, dep: SimServiceDeployment, at: float, status: str, reason: str | None) -> None:
        dep.status, dep.finished_at, dep.updated_at = status, at, at
        dep.status_reason = reason
        if dep.breaker_status == "MONITORING":
            dep.breaker_status = "MONITORING_COMPLETE"
        if dep.alarms_status == "MONITORING":
            dep.alarms_status = "MONITORING_COMPLETE"

    # ----- traffic ---------------------------------------------------------------
    def _apply_weights(self, dep: SimServiceDeployment, *, test: bool) -> None:
        lb = _advanced_lb(dep.service)
        source = dep.source
        if lb is None or source is None or not dep.target.target_group or not source.target_group:
            return
        advanced = lb.get("advancedConfiguration") or {}
        rule = advanced.get("testListenerRule") if test else advanced.get("productionListenerRule")
        if not rule:
            return
        green = round(dep.test_weight if test else dep.prod_weight)
        self.set_weights(rule, {dep.target.target_group: green, source.target_group: 100 - green})

    def _reconcile(self, dep: SimServiceDeployment, at: float) -> None:
        keep = dep.source
        for revision in dep.sources[1:]:
            self.ecs.retire(dep.service, revision.group, at, "Service revision consolidated before the new deployment")
        dep.sources = [keep] if keep else []
        lb = _advanced_lb(dep.service)
        if keep is not None and lb is not None and keep.target_group:
            other = lb.get("targetGroupArn") if keep.target_group != lb.get("targetGroupArn") else \
                (lb.get("advancedConfiguration") or {}).get("alternateTargetGroupArn")
            for rule_key in ("productionListenerRule", "testListenerRule"):
                rule = (lb.get("advancedConfiguration") or {}).get(rule_key)
                if rule and other:
                    self.set_weights(rule, {keep.target_group: 100, other: 0})

    # ----- hooks -------------------------------------------------------------------
    def _start_hooks(self, dep: SimServiceDeployment, stage: str, at: float) -> None:
        for hook in dep.config.get("lifecycleHooks") or []:
            if stage not in (hook.get("lifecycleStages") or []):
                continue
            kind = hook.get("targetType") or "AWS_LAMBDA"
            timeout = hook.get("timeoutConfiguration") or {}
            minutes = float(timeout.get("timeoutInMinutes") or DEFAULT_HOOK_TIMEOUT_MINUTES)
            pause = kind == "PAUSE"
            dep.hooks.append(SimHook(
                hook_id=f"ecs-{'pause' if pause else 'hook'}-{uuid.uuid4().hex[:24]}", target_type=kind,
                target_arn=None if pause else hook.get("hookTargetArn"), stage=stage,
                status="AWAITING_ACTION" if pause else "IN_PROGRESS", started_at=at, expires_at=at + minutes * 60.0,
                timeout_action=timeout.get("action") or "ROLLBACK", hook_details=hook.get("hookDetails"),
                next_invoke_at=None if pause else at,
            ))

    def _hooks_done(self, dep: SimServiceDeployment, stage: str, at: float) -> bool:
        current = [h for h in dep.hooks if h.stage == stage and h.started_at >= dep.stage_started_at]
        for hook in current:
            if hook.target_type != "PAUSE" and hook.status == "IN_PROGRESS" and hook.next_invoke_at is not None \
                    and hook.next_invoke_at <= at:
                self._invoke(hook, at)
            if hook.open and at >= hook.expires_at:
                hook.status = "TIMED_OUT"
                if hook.timeout_action != "CONTINUE":
                    self._fail(dep, at, f"Service deployment rolled back: lifecycle hook {hook.hook_id} timed out.",
                               rollback=True)
                    return False
            if hook.status == "FAILED":
                self._fail(dep, at, f"Service deployment rolled back: lifecycle hook {hook.hook_id} failed.",
                           rollback=True)
                return False
        return not any(h.open for h in current)

    def _invoke(self, hook: SimHook, at: float) -> None:
        answers = self.lambda_answers.get(hook.target_arn or "") or [{"hookStatus": "SUCCEEDED"}]
        answer = answers[min(hook.invocations, len(answers) - 1)]
        hook.invocations += 1
        status = answer.get("hookStatus") if isinstance(answer, dict) else None
        if status == "IN_PROGRESS":
            hook.next_invoke_at = at + float(answer.get("callBackDelay") or DEFAULT_CALLBACK_SECONDS)
        elif status == "SUCCEEDED":
            hook.status, hook.next_invoke_at = "SUCCEEDED", None
        else:  # FAILED, or no valid hookStatus: the deployment rolls back
            hook.status, hook.next_invoke_at = "FAILED", None

    def continue_hook(self, dep: SimServiceDeployment, hook_id: str, action: str) -> None:
        """ContinueServiceDeployment; ValueError when the hook is not awaiting action."""
        hook = next((h for h in dep.hooks if h.hook_id == hook_id), None)
        if hook is None or hook.status != "AWAITING_ACTION" or dep.status != "IN_PROGRESS":
            raise ValueError(f"Lifecycle hook {hook_id} is not awaiting action in service deployment {dep.arn}.")
        at = self.ecs.clock.now()
        if action == "ROLLBACK":
            hook.status = "FAILED"
            self._start_rollback(dep, at, f"Service deployment rolled back: lifecycle hook {hook_id} was answered "
                                          "with ROLLBACK.", requested=True)
        else:
            hook.status = "SUCCEEDED"
        self.ecs.wake(dep.service)

    # ----- failures and rollback -------------------------------------------------------
    def _check_failures(self, dep: SimServiceDeployment, at: float) -> bool:
        alarms = dep.config.get("alarms") or {}
        if dep.alarms_status == "MONITORING":
            fired = [n for n in alarms.get("alarmNames") or [] if self.alarm_state(n) == "ALARM"]
            if fired:
                dep.alarms_status, dep.triggered_alarms = "TRIGGERED", fired
                self._fail(dep, at, f"Service deployment rolled back: CloudWatch alarm(s) {', '.join(fired)} in ALARM.",
                           rollback=bool(alarms.get("rollback")))
                return True
        breaker = dep.config.get("deploymentCircuitBreaker") or {}
        green = dep.target.group
        threshold = breaker_threshold(dep.service.desired_count, self.ecs.breaker_min)
        if dep.breaker_status == "MONITORING" and green.running == 0 and green.failed_tasks >= threshold:
            dep.breaker_status = "TRIGGERED"
            green.rollout_state = "FAILED"
            self._fail(dep, at, "Service deployment rolled back: the deployment circuit breaker detected "
                                f"{dep.failure_count} failed tasks.", rollback=bool(breaker.get("rollback")))
            return True
        return dep.status not in ("IN_PROGRESS",)

    def _fail(self, dep: SimServiceDeployment, at: float, reason: str, *, rollback: bool) -> None:
        if rollback:
            self._start_rollback(dep, at, reason, requested=False)
        else:
            dep.status, dep.status_reason = "STOP_REQUESTED", reason.replace("rolled back", "stopped")

    def _start_rollback(self, dep: SimServiceDeployment, at: float, reason: str, *, requested: bool) -> None:
        dep.status = "ROLLBACK_REQUESTED" if requested else "ROLLBACK_IN_PROGRESS"
        dep.status_reason = reason
        dep.rollback = {"reason": reason, "startedAt": at}
        if dep.source is not None:
            dep.rollback["serviceRevisionArn"] = dep.source.arn
        dep.hooks = [h for h in dep.hooks if not h.open]
        dep.rollback_phase, dep.updated_at = 0, at

    def stop(self, dep: SimServiceDeployment, stop_type: str) -> None:
        at = self.ecs.clock.now()
        if dep.status in ("STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"):
            return  # already stopping or rolling back [DG:stop-service-deployment]
        if stop_type == "ABORT":
            dep.status, dep.status_reason = "STOP_REQUESTED", "Service deployment stopped by a user request."
        else:
            self._start_rollback(dep, at, "Service deployment rolled back by a user request.", requested=True)
        self.ecs.wake(dep.service)

    def _step_rollback(self, dep: SimServiceDeployment, at: float) -> None:
        dep.status, dep.updated_at = "ROLLBACK_IN_PROGRESS", at
        source = dep.source
        if source is None:
            self.ecs.retire(dep.service, dep.target.group, at, "Service deployment rolled back")
            self._finish(dep, at, "ROLLBACK_FAILED", f"{dep.status_reason} No previous service revision to roll back to.")
            return
        if dep.rollback_phase == 0:  # traffic back to the source revision
            dep.stage = "PRODUCTION_TRAFFIC_SHIFT"
            dep.prod_weight = dep.test_weight = 0.0
            self._apply_weights(dep, test=False)
            self._apply_weights(dep, test=True)
            dep.rollback_phase = 1
            return
        dep.stage = "CLEAN_UP"
        dep.target.group.rollout_state = "FAILED"
        self.ecs.retire(dep.service, dep.target.group, at, f"Service deployment rolled back to {source.arn}")
        source.group.status = "PRIMARY"
        dep.service.task_definition, dep.service.containers = source.group.task_definition, source.group.containers
        self._finish(dep, at, "ROLLBACK_SUCCESSFUL", dep.status_reason)


def _advanced_lb(svc: SimService) -> dict[str, Any] | None:
    """The service's load balancer entry with advancedConfiguration (ALB/NLB traffic shifting)."""
    return next((lb for lb in svc.attributes.get("loadBalancers") or []
                 if isinstance(lb, dict) and lb.get("advancedConfiguration")), None)


def _revision_attributes(svc: SimService, group: SimDeployment) -> dict[str, Any]:
    keep = ("launchType", "capacityProviderStrategy", "platformVersion", "loadBalancers", "serviceRegistries",
            "networkConfiguration", "serviceConnectConfiguration", "volumeConfigurations")
    out = {k: copy.deepcopy(svc.attributes[k]) for k in keep if k in svc.attributes}
    out["taskDefinition"] = group.task_definition
    out["containerImages"] = [{"containerName": n, "image": i} for n, i in group.containers]
    return out
