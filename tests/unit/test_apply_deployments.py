"""Deployments: applying a plan and rolling back go through the same controllers; a new controller is
one class implementing the Controller Protocol, registered under a kind."""
from __future__ import annotations

from typing import Any

from reconciler.apply import Applier, SystemClock
from reconciler.apply.deployments import ECS, Deployments, DeployRequest, Running, Started
from reconciler.apply.progress import Progress
from reconciler.apply.result import Outcome
from reconciler.events import ListSink
from reconciler.model import OWNER_TAG, Drift, Environment, FieldChange, GitOpsSettings, LiveService, ServiceSpec
from reconciler.plan import Plan, ServicePlan

ENV = Environment(name="staging", cluster="staging", region="eu-west-1")
TD2, TD3 = "arn:aws:ecs:eu-west-1:1:task-definition/web:2", "arn:aws:ecs:eu-west-1:1:task-definition/web:3"


class RecordingController:
    """A third controller as the ECS-native work will add one: only the Protocol, nothing else."""

    strategy = "recording"
    noun = "recorded deployment"

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def in_flight(self, request: DeployRequest) -> Running | None:
        return None

    def start(self, request: DeployRequest, deadline: float, progress: Progress) -> Started:
        self.calls.append(("start", request.service, request.task_definition, ",".join(sorted(request.params))))
        return Started(f"dep-{len(self.calls)}", "started")

    def wait(self, request: DeployRequest, deployment_id: str, deadline: float, progress: Progress) -> Outcome:
        self.calls.append(("wait", deployment_id, request.task_definition))
        return Outcome("succeeded", deployment_id, "recorded")

    def created(self, request: DeployRequest, wait: bool, deadline: float, progress: Progress) -> Outcome:
        raise AssertionError("no create in this test")


class Ecs:
    def __init__(self) -> None:
        self.tags: list[dict[str, str]] = []

    def describe_service(self, env: Environment, name: str) -> dict[str, Any]:
        return {"serviceName": name, "serviceArn": f"arn:svc/{name}", "taskDefinition": TD3,
                "tags": [{"key": OWNER_TAG, "value": "i"}], "deployments": []}

    def tag(self, env: Environment, arn: str, tags: dict[str, str]) -> None:
        if tags:
            self.tags.append(dict(tags))

    def untag(self, env: Environment, arn: str, keys: list[str]) -> None:
        pass


class TaskDefs:
    def all_active_arns(self, env: Environment, family: str) -> list[str]:
        return [TD2, TD3]


def applier(controller: RecordingController, sink: ListSink) -> Applier:
    return Applier("i", sink, ecs=Ecs(), codedeploy=None, taskdefs=TaskDefs(),  # type: ignore[arg-type]
                   deployments=Deployments({ECS: controller}), clock=SystemClock())


def test_apply_and_rollback_deploy_through_the_same_controller():
    controller, sink = RecordingController(), ListSink()
    a = applier(controller, sink)
    spec = ServiceSpec(environment="staging", name="web", service={"desiredCount": 3}, task_definition={},
                       gitops=GitOpsSettings(), service_file="s.yaml", taskdef_file="t.json")
    live = LiveService("staging", "web", "arn:svc/web", {"taskDefinition": TD3, "desiredCount": 2}, {})
    plan = Plan(services=(ServicePlan(environment="staging", name="web", action="update", spec=spec, live=live,
                                      drift=Drift((FieldChange("service/desiredCount", 2, 3),))),))
    [applied] = a.apply(plan, environments={"staging": ENV}).services
    assert (applied.status, applied.deployment_id, applied.message) == ("succeeded", "dep-1", "recorded")
    rolled = a.rollback(ENV, "web", commit="c" * 40)
    assert (rolled.status, rolled.deployment_id, rolled.task_definition_arn) == ("succeeded", "dep-3", TD2)
    assert controller.calls == [("start", "web", TD3, "desiredCount"), ("wait", "dep-1", TD3),
                                ("start", "web", TD2, ""), ("wait", "dep-3", TD2)]
    # The chat report names the controller's strategy.
    assert {e.services[0].strategy for e in sink.events} == {"recording"}


def test_not_waiting_reports_the_deployment_as_started_in_the_controllers_words():
    controller = RecordingController()
    result = applier(controller, ListSink()).rollback(ENV, "web", wait=False)
    assert (result.status, result.message) == ("in_progress", "recorded deployment dep-1 started")
    assert [c[0] for c in controller.calls] == ["start"]


def test_the_kind_picks_the_controller():
    ecs, other = RecordingController(), RecordingController()
    deployments = Deployments({ECS: ecs, "OTHER": other},
                              kind=lambda spec, live: "OTHER" if (live or {}).get("native") else ECS)
    assert deployments.controller(None, {"native": True}) is other
    assert deployments.controller(None, {}) is ecs
