"""Revision reuse (no churn) and the applier's isolation between services, with in-process fakes."""
from __future__ import annotations

from typing import Any

from reconciler.apply import Applier
from reconciler.apply.revisions import resolve_revision
from reconciler.aws.errors import AwsInvalidRequest
from reconciler.diff.taskdef import spec_hash
from reconciler.events import ListSink
from reconciler.model import (TASKDEF_HASH_TAG, Environment, GitOpsSettings, LiveService, ServiceSpec)
from reconciler.plan import Plan, ServicePlan

ENV = Environment(name="staging", cluster="staging", region="eu-west-1")
TD = {"family": "web", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256",
      "memory": "512", "containerDefinitions": [{"name": "web", "image": "repo/web:1.4.2",
                                                 "portMappings": [{"containerPort": 8080}]}]}


def spec(td: dict[str, Any] = TD, name: str = "web") -> ServiceSpec:
    return ServiceSpec(environment="staging", name=name, service={"desiredCount": 2, "launchType": "FARGATE"},
                       task_definition={**td, "family": name}, gitops=GitOpsSettings(), service_file="s.yaml",
                       taskdef_file="t.json")


def described(td: dict[str, Any], rev: int) -> dict[str, Any]:
    """What AWS returns: defaults filled in, server fields added."""
    containers = [{**c, "cpu": 0, "essential": True, "environment": [], "mountPoints": [], "volumesFrom": [],
                   "portMappings": [{**p, "hostPort": p["containerPort"], "protocol": "tcp"}
                                    for p in c.get("portMappings", [])]} for c in td["containerDefinitions"]]
    return {**td, "containerDefinitions": containers, "revision": rev, "status": "ACTIVE",
            "taskDefinitionArn": f"arn:td/{td['family']}:{rev}", "compatibilities": ["EC2", "FARGATE"]}


class FakeTaskDefs:
    def __init__(self, revisions: list[tuple[dict[str, Any], list[dict[str, str]]]]) -> None:
        self.revisions = revisions  # newest first
        self.registered: list[tuple[dict[str, Any], dict[str, str]]] = []

    def recent_active_arns(self, env: Environment, family: str) -> list[str]:
        return [td["taskDefinitionArn"] for td, _ in self.revisions]

    def describe(self, env: Environment, arn: str) -> tuple[dict[str, Any], tuple[Any, ...]]:
        return next((td, tuple(tags)) for td, tags in self.revisions if td["taskDefinitionArn"] == arn)

    def register(self, env: Environment, td: dict[str, Any], tags: dict[str, str]) -> dict[str, Any]:
        self.registered.append((td, tags))
        return described(td, 99)


def test_an_active_matching_revision_is_reused_not_registered():
    s = spec()
    older = described(s.task_definition, 3)
    newer = described({**s.task_definition, "containerDefinitions": [{"name": "web", "image": "repo/web:2"}]}, 4)
    fake = FakeTaskDefs([(newer, [{"key": TASKDEF_HASH_TAG, "value": "other"}]),
                         (older, [{"key": TASKDEF_HASH_TAG, "value": spec_hash(s.task_definition)}])])
    rev = resolve_revision(fake, ENV, s, None, instance="ecs-reconciler", commit="abc")
    assert rev.arn == "arn:td/web:3" and rev.registered is False
    assert fake.registered == []


def test_a_hash_tag_whose_content_differs_is_not_trusted():
    s = spec()
    tampered = described({**s.task_definition, "containerDefinitions": [{"name": "web", "image": "evil:1"}]}, 5)
    fake = FakeTaskDefs([(tampered, [{"key": TASKDEF_HASH_TAG, "value": spec_hash(s.task_definition)}])])
    rev = resolve_revision(fake, ENV, s, None, instance="ecs-reconciler", commit="abc")
    assert rev.registered is True
    [(_, tags)] = fake.registered
    assert tags == {TASKDEF_HASH_TAG: spec_hash(s.task_definition), "ecs-reconciler:managed-by": "ecs-reconciler",
                    "ecs-reconciler:commit": "abc"}


def test_the_live_revision_is_checked_first_without_listing():
    s = spec()
    live_td = described(s.task_definition, 7)
    live = LiveService(environment="staging", name="web", arn="arn:svc/web", service={}, task_definition=live_td,
                       task_definition_tags=({"key": TASKDEF_HASH_TAG, "value": spec_hash(s.task_definition)},))

    class NoList(FakeTaskDefs):
        def recent_active_arns(self, env: Environment, family: str) -> list[str]:
            raise AssertionError("must not list when the live revision matches")

    rev = resolve_revision(NoList([]), ENV, s, live, instance="i", commit=None)
    assert rev.arn == "arn:td/web:7" and not rev.registered


def test_dry_run_never_registers():
    fake = FakeTaskDefs([])
    rev = resolve_revision(fake, ENV, spec(), None, instance="i", commit=None, dry_run=True)
    assert rev.arn is None and rev.registered and fake.registered == []


class FakeEcsWriter:
    """Creates succeed instantly for every service except `bad`."""

    def __init__(self) -> None:
        self.created: list[str] = []

    def create_service(self, env: Environment, params: dict[str, Any]) -> dict[str, Any]:
        if params["serviceName"] == "bad":
            raise AwsInvalidRequest("boom", service="ecs", action="CreateService", code="InvalidParameterException")
        self.created.append(params["serviceName"])
        return {"serviceName": params["serviceName"], "deployments": []}


def _applier(sink: ListSink) -> Applier:
    applier = Applier(_NoClients(), None, "ecs-reconciler", sink, max_parallel=2,  # type: ignore[arg-type]
                      poll_interval=0.0)
    applier.ecs = FakeEcsWriter()  # type: ignore[assignment]
    applier.taskdefs = FakeTaskDefs([])  # type: ignore[assignment]
    return applier


class _NoClients:
    def client(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("no AWS in unit tests")


def test_one_failure_does_not_stop_the_others_and_is_named():
    sink = ListSink()
    applier = _applier(sink)
    plan = Plan(services=tuple(ServicePlan(environment="staging", name=n, action="create", spec=spec(name=n))
                               for n in ("a", "bad", "c")))
    result = applier.apply(plan, environments={"staging": ENV})
    assert result.failed == ["staging/bad"] and not result.ok
    assert {r.service: r.status for r in result.services} == {"a": "succeeded", "bad": "failed", "c": "succeeded"}
    assert "boom" in next(r.message for r in result.services if r.service == "bad")
    kinds = sorted((e.kind, e.services[0].service) for e in sink.events)
    assert ("sync_failed", "bad") in kinds and ("sync_succeeded", "a") in kinds
    assert sum(1 for k, _ in kinds if k == "sync_started") == 3
    images = next(e for e in sink.events if e.kind == "sync_succeeded").services[0].images
    assert images[0].new == "repo/web:1.4.2" and images[0].old is None


def test_should_continue_false_starts_nothing():
    applier = _applier(ListSink())
    plan = Plan(services=(ServicePlan(environment="staging", name="a", action="create", spec=spec(name="a")),))
    result = applier.apply(plan, environments={"staging": ENV}, should_continue=lambda: False)
    assert [r.status for r in result.services] == ["skipped"]
    assert applier.ecs.created == []  # type: ignore[attr-defined]
    assert result.ok
