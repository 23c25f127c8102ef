"""Start, follow and finish a deployment, whatever controller the service uses.

Applying a plan and rolling a service back both deploy a task definition to a
service and then wait for the result; they do it through one `Deployments`
object, so neither knows how a controller works and neither reaches into the
other.

Shape (the contract a new controller implements):

- `DeployRequest` says what to deploy where: environment, service name, target
  task definition ARN, the service as ECS describes it (fresh), git's spec when
  there is one, extra UpdateService fields to send with the deployment, and a
  description for the deployment.
- A `Controller` (Protocol) is one way a task definition reaches a service's
  tasks. It has a `strategy` name (shown in chat reports), a `noun` for its
  deployments in progress lines ("deployment", "CodeDeploy deployment") and four
  operations:
  `in_flight` (a deployment of this service already rolling out, to follow),
  `start` (begin a deployment towards the target, or follow an equivalent one),
  `wait` (follow one deployment by its id until AWS says how it ended) and
  `created` (what happens right after CreateService).
- `Deployments` holds the controllers by kind and picks one for a service with
  `controller_kind` (AWS's `deploymentController.type`: "ECS" rolling,
  "CODE_DEPLOY" blue/green through CodeDeploy). Adding a controller (ECS-native
  blue/green, linear, canary) means implementing `Controller`, registering it
  under a new kind and teaching `controller_kind` when a service uses it; the
  applier and rollback need no change.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from reconciler.apply.bluegreen import BlueGreenDeployer
from reconciler.apply.progress import Progress
from reconciler.apply.result import Outcome, ServiceResult
from reconciler.apply.rolling import RollingWaiter, in_flight, primary_deployment
from reconciler.aws.codedeploy import CodeDeploy
from reconciler.aws.ecs_write import EcsWriter
from reconciler.desired import is_code_deploy
from reconciler.model import Environment, ServiceSpec

#: Kinds of controller, as AWS names them in `deploymentController.type`.
ECS = "ECS"
CODE_DEPLOY = "CODE_DEPLOY"


@dataclass(frozen=True)
class DeployRequest:
    """What to deploy where."""

    env: Environment
    service: str                                # service name
    task_definition: str                        # ARN of the revision to run
    live: Mapping[str, Any]                     # the service as DescribeServices returns it
    spec: ServiceSpec | None = None             # git's declaration (CodeDeploy needs its settings)
    params: Mapping[str, Any] = field(default_factory=dict)  # other UpdateService fields to send with it
    description: str = ""


@dataclass(frozen=True)
class Started:
    """How `start` went: a deployment to follow, nothing to follow, or why none could start."""

    deployment_id: str | None = None
    how: str = ""          # "started" / "followed" with an id; "unchanged" without one
    error: str = ""        # set when no deployment could start (the service result fails with it)


@dataclass(frozen=True)
class Running:
    """A deployment already rolling out and the task definition it rolls out."""

    deployment_id: str
    task_definition: str | None = None


class Controller(Protocol):
    """One deployment controller. Implement this (and register it in `Deployments`) to add one."""

    strategy: str  # shown in chat reports: "rolling", "blue-green", ...
    noun: str      # how progress lines name one of its deployments: "deployment", "CodeDeploy deployment"

    def in_flight(self, request: DeployRequest) -> Running | None:
        """A deployment of this service still rolling out (e.g. a sync killed mid-deployment), or None."""
        ...

    def start(self, request: DeployRequest, deadline: float, progress: Progress) -> Started:
        """Start a deployment towards `request.task_definition` (or follow one already going there)."""
        ...

    def wait(self, request: DeployRequest, deployment_id: str, deadline: float, progress: Progress) -> Outcome:
        """Follow the deployment until AWS says how it ended, the deadline passes or the apply stops."""
        ...

    def created(self, request: DeployRequest, wait: bool, deadline: float, progress: Progress) -> Outcome:
        """Right after CreateService (`request.live` is its answer): follow the service's first rollout."""
        ...


class RollingController:
    """ECS rolling update: UpdateService with the new task definition, followed by its rolloutState."""

    strategy = "rolling"
    noun = "deployment"

    def __init__(self, ecs: EcsWriter, waiter: RollingWaiter) -> None:
        self.ecs = ecs
        self.waiter = waiter

    def in_flight(self, request: DeployRequest) -> Running | None:
        primary = in_flight(request.live)
        if primary is None:
            return None
        return Running(str(primary["id"]), str(primary.get("taskDefinition")))

    def start(self, request: DeployRequest, deadline: float, progress: Progress) -> Started:
        """UpdateService; a deployment is followed when the PRIMARY one is new or still rolling out."""
        params = dict(request.params)
        if request.task_definition != str(request.live.get("taskDefinition") or ""):
            params["taskDefinition"] = request.task_definition
        if not params:
            return Started(how="unchanged")
        before = (primary_deployment(request.live) or {}).get("id")
        svc = self.ecs.update_service(request.env, request.service, params)
        primary = primary_deployment(svc) or {}
        if primary.get("id") and (primary.get("id") != before or primary.get("rolloutState") == "IN_PROGRESS"):
            return Started(str(primary["id"]), "started")
        return Started(how="unchanged")

    def wait(self, request: DeployRequest, deployment_id: str, deadline: float, progress: Progress) -> Outcome:
        return self.waiter.wait(request.env, request.service, deployment_id, request.task_definition, deadline,
                                progress)

    def created(self, request: DeployRequest, wait: bool, deadline: float, progress: Progress) -> Outcome:
        primary = primary_deployment(request.live)
        if primary is None:
            return Outcome("succeeded" if wait else "in_progress", None, "created")
        deployment_id = str(primary["id"])
        if not wait:
            return Outcome("in_progress", deployment_id, f"{self.noun} {deployment_id} started")
        outcome = self.wait(request, deployment_id, deadline, progress)
        outcome = replace(outcome, deployment_id=outcome.deployment_id or deployment_id)
        return replace(outcome, message="created") if outcome.status == "succeeded" else outcome


class CodeDeployController:
    """CODE_DEPLOY services: CreateDeployment with an AppSpec (never UpdateService with a task definition)."""

    strategy = "blue-green"
    noun = "CodeDeploy deployment"

    def __init__(self, codedeploy: CodeDeploy, deployer: BlueGreenDeployer, waiter: RollingWaiter) -> None:
        self.codedeploy = codedeploy
        self.deployer = deployer
        self.waiter = waiter  # a new CODE_DEPLOY service's first task set is followed on the service

    def in_flight(self, request: DeployRequest) -> Running | None:
        bg = request.spec.gitops.blue_green if request.spec else None
        if bg is None:
            return None
        dep = self.codedeploy.active_deployment(request.env, bg.application, bg.deployment_group)
        return Running(dep) if dep else None

    def start(self, request: DeployRequest, deadline: float, progress: Progress) -> Started:
        bg = request.spec.gitops.blue_green if request.spec else None
        if bg is None or request.spec is None:
            return Started(error="a CODE_DEPLOY service needs gitops.codeDeploy (application, deploymentGroup)")
        dep, how = self.deployer.start_or_follow(request.env, bg, request.spec.service, request.task_definition,
                                                 deadline, progress, description=request.description)
        return Started(dep, how) if dep is not None else Started(error=how)

    def wait(self, request: DeployRequest, deployment_id: str, deadline: float, progress: Progress) -> Outcome:
        return self.deployer.wait(request.env, deployment_id, deadline, progress, cluster=request.env.cluster,
                                  service_name=request.service)

    def created(self, request: DeployRequest, wait: bool, deadline: float, progress: Progress) -> Outcome:
        """AWS starts the first (PRIMARY) task set itself, with no deployment to follow."""
        if not wait:
            return Outcome("in_progress", None, "created; first task set starting")
        return self.waiter.wait_task_set(request.env, request.service, request.task_definition, deadline, progress)


def controller_kind(spec: ServiceSpec | None, live: Mapping[str, Any] | None) -> str:
    """The controller a service uses: the live service's when it exists, else what git declares."""
    return CODE_DEPLOY if is_code_deploy(spec, live) else ECS


class Deployments:
    """Deploy a task definition to a service and wait for the result, through the service's controller."""

    def __init__(self, controllers: Mapping[str, Controller],
                 kind: Callable[[ServiceSpec | None, Mapping[str, Any] | None], str] = controller_kind) -> None:
        self.controllers = dict(controllers)
        self._kind = kind

    def controller(self, spec: ServiceSpec | None, live: Mapping[str, Any] | None) -> Controller:
        return self.controllers[self._kind(spec, live)]

    def in_flight(self, request: DeployRequest) -> Running | None:
        return self.controller(request.spec, request.live).in_flight(request)

    def start(self, request: DeployRequest, deadline: float, progress: Progress) -> Started:
        return self.controller(request.spec, request.live).start(request, deadline, progress)

    def follow(self, request: DeployRequest, base: ServiceResult, running: Running, wait: bool, deadline: float,
               progress: Progress) -> ServiceResult:
        """Follow a deployment found in flight (towards `running.task_definition` when the controller knows it)."""
        controller = self.controller(request.spec, request.live)
        progress(f"following {controller.noun} {running.deployment_id} already in progress")
        if running.task_definition:
            request = replace(request, task_definition=running.task_definition)
        return self.finish(request, base, running.deployment_id, wait, deadline, progress)

    def finish(self, request: DeployRequest, base: ServiceResult, deployment_id: str, wait: bool, deadline: float,
               progress: Progress) -> ServiceResult:
        """`base` completed with how the deployment ended (or "started" when the caller does not wait)."""
        controller = self.controller(request.spec, request.live)
        base = replace(base, deployment_id=deployment_id)
        if not wait:
            return replace(base, status="in_progress", message=f"{controller.noun} {deployment_id} started")
        return with_outcome(base, controller.wait(request, deployment_id, deadline, progress))

    def deploy(self, request: DeployRequest, base: ServiceResult, wait: bool, deadline: float,
               progress: Progress) -> ServiceResult | None:
        """Start and finish; None when AWS took the change without a deployment to follow."""
        started = self.start(request, deadline, progress)
        if started.error:
            return replace(base, status="failed", message=started.error)
        if started.deployment_id is None:
            return None
        return self.finish(request, base, started.deployment_id, wait, deadline, progress)

    def created(self, request: DeployRequest, base: ServiceResult, wait: bool, deadline: float,
                progress: Progress) -> ServiceResult:
        outcome = self.controller(request.spec, request.live).created(request, wait, deadline, progress)
        return with_outcome(base, outcome)


def with_outcome(base: ServiceResult, outcome: Outcome, message: str = "") -> ServiceResult:
    return replace(base, status=outcome.status, deployment_id=outcome.deployment_id or base.deployment_id,
                   message=message or outcome.message, stopped_reasons=outcome.stopped_reasons,
                   rolled_back=outcome.rolled_back)


def build_deployments(ecs: EcsWriter, codedeploy: CodeDeploy, rolling: RollingWaiter,
                      bluegreen: BlueGreenDeployer) -> Deployments:
    """The controllers the reconciler knows today."""
    return Deployments({ECS: RollingController(ecs, rolling),
                        CODE_DEPLOY: CodeDeployController(codedeploy, bluegreen, rolling)})
