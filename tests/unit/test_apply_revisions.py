"""Revision reuse (no churn) and the applier's isolation between services, with in-process fakes."""
from __future__ import annotations

from typing import Any

from reconciler.apply import Applier, SystemClock
from reconciler.apply.bluegreen import BlueGreenDeployer
from reconciler.apply.continuation import keep_waiting
from reconciler.apply.deployments import build_deployments
from reconciler.apply.revisions import resolve_revision
from reconciler.apply.rolling import RollingWaiter
from reconciler.aws.errors import AwsInvalidRequest
from reconciler.diff.taskdef import spec_hash
from reconciler.events import ListSink
from reconciler.model import TASKDEF_HASH_TAG, Environment, GitOpsSettings, LiveService, ServiceSpec
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


class _NoCodeDeploy:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"no CodeDeploy in these tests ({name})")


def _applier(sink: ListSink, ecs: Any = None, attempts: Any = None) -> Applier:
    """The real Applier and Deployments around in-process fakes, all passed to the constructor."""
    ecs = ecs if ecs is not None else FakeEcsWriter()
    clock, codedeploy = SystemClock(), _NoCodeDeploy()
    rolling = RollingWaiter(ecs, clock, 0.0, keep_waiting=keep_waiting)
    bluegreen = BlueGreenDeployer(codedeploy, clock, 0.0, keep_waiting=keep_waiting)  # type: ignore[arg-type]
    return Applier("ecs-reconciler", sink, ecs=ecs, codedeploy=codedeploy,  # type: ignore[arg-type]
                   taskdefs=FakeTaskDefs([]),  # type: ignore[arg-type]
                   deployments=build_deployments(ecs, codedeploy, rolling, bluegreen),  # type: ignore[arg-type]
                   clock=clock, max_parallel=2, attempts=attempts)


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


class RecordingEcsWriter(FakeEcsWriter):
    """Also serves an existing service that a desiredCount update changes without a new deployment
    (or the service `serves`, with `refuse` making UpdateService fail)."""

    def __init__(self, serves: dict[str, Any] | None = None, refuse: bool = False) -> None:
        super().__init__()
        self.serves = serves
        self.refuse = refuse
        self.creates: list[dict[str, Any]] = []
        self.tagged: list[dict[str, str]] = []
        self.untagged: list[list[str]] = []

    def create_service(self, env: Environment, params: dict[str, Any]) -> dict[str, Any]:
        self.creates.append(params)
        return super().create_service(env, params)

    def describe_service(self, env: Environment, name: str) -> dict[str, Any]:
        if self.serves is not None:
            return self.serves
        return {"serviceName": name, "taskDefinition": "arn:td/web:1", "deployments": [
            {"id": "d1", "status": "PRIMARY", "rolloutState": "COMPLETED", "taskDefinition": "arn:td/web:1"}]}

    def update_service(self, env: Environment, name: str, params: dict[str, Any]) -> dict[str, Any]:
        if self.refuse:
            raise AwsInvalidRequest("no", service="ecs", action="UpdateService", code="InvalidParameterException")
        return self.describe_service(env, name)

    def tag(self, env: Environment, arn: str, tags: dict[str, str]) -> None:
        if tags:
            self.tagged.append(dict(tags))

    def untag(self, env: Environment, arn: str, keys: list[str]) -> None:
        if keys:
            self.untagged.append(list(keys))


def test_a_successful_sync_records_the_applied_declaration_on_the_service():
    """What a restarted daemon relies on to tell drift from a new commit (reconciler.apply.marker)."""
    from reconciler.apply.marker import APPLIED_TAG, applied_marker
    from reconciler.events import CommitInfo
    from reconciler.model import COMMIT_TAG, PAUSED_TAG, Drift, FieldChange

    ecs = RecordingEcsWriter()
    applier = _applier(ListSink(), ecs)
    web = spec(name="web")
    live = LiveService("staging", "web", "arn:svc/web", {"tags": [{"key": PAUSED_TAG, "value": "old"}],
                                                         "taskDefinition": "arn:td/web:1"}, TD)
    update = ServicePlan(environment="staging", name="web", action="update", spec=web, live=live,
                         drift=Drift((FieldChange("service/desiredCount", 2, 5),)))
    create = ServicePlan(environment="staging", name="api", action="create", spec=spec(name="api"))
    result = applier.apply(Plan(services=(update, create)), commit=CommitInfo("c" * 40),
                           environments={"staging": ENV})
    assert result.ok
    assert ecs.tagged == [{APPLIED_TAG: applied_marker(web), COMMIT_TAG: "c" * 40}]
    assert ecs.untagged == [[PAUSED_TAG]]
    created_tags = {t["key"]: t["value"] for t in ecs.creates[0]["tags"]}
    assert created_tags[APPLIED_TAG] == applied_marker(spec(name="api")) and created_tags[COMMIT_TAG] == "c" * 40


def test_a_failed_sync_does_not_record_the_declaration_as_applied():
    from reconciler.model import Drift, FieldChange

    ecs = RecordingEcsWriter(refuse=True)
    applier = _applier(ListSink(), ecs)
    live = LiveService("staging", "web", "arn:svc/web", {"taskDefinition": "arn:td/web:1"}, TD)
    plan = Plan(services=(ServicePlan(environment="staging", name="web", action="update", spec=spec(), live=live,
                                      drift=Drift((FieldChange("service/desiredCount", 2, 5),))),))
    result = applier.apply(plan, environments={"staging": ENV})
    assert result.failed == ["staging/web"] and ecs.tagged == []


def test_apply_log_lines_carry_the_callers_context_from_worker_threads():
    """The daemon binds `commit`; the pool's threads must see it (and bind `service` themselves)."""
    import io
    import json

    import structlog

    from reconciler.log import configure

    out = io.StringIO()
    configure(json=True, stream=out)
    try:
        applier = _applier(ListSink())
        plan = Plan(services=tuple(ServicePlan(environment="staging", name=n, action="create", spec=spec(name=n))
                                   for n in ("a", "b")))
        with structlog.contextvars.bound_contextvars(commit="abcd1234"):
            applier.apply(plan, environments={"staging": ENV})
    finally:
        structlog.reset_defaults()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    applied = [line for line in lines if line["event"] == "service_applied"]
    assert len(applied) == 2
    assert all(line.get("commit") == "abcd1234" for line in applied)
    assert {line["service"] for line in applied} == {"staging/a", "staging/b"}


def test_should_continue_turning_false_mid_deployment_leaves_it_running():
    """The daemon's should_continue (leader and not stopping) reaches the waits in the worker threads."""
    from reconciler.model import Drift, FieldChange

    rolling = {"serviceName": "web", "taskDefinition": "arn:td/web:1", "deployments": [
        {"id": "d2", "status": "PRIMARY", "rolloutState": "IN_PROGRESS", "taskDefinition": "arn:td/web:1"},
        {"id": "d1", "status": "ACTIVE", "rolloutState": "COMPLETED", "taskDefinition": "arn:td/web:1"}]}
    ecs = RecordingEcsWriter(serves=rolling)
    applier = _applier(ListSink(), ecs)
    answers = iter([True, True])  # allowed to start and to deploy; then SIGTERM arrives
    live = LiveService("staging", "web", "arn:svc/web", {"taskDefinition": "arn:td/web:1"}, TD)
    plan = Plan(services=(ServicePlan(environment="staging", name="web", action="update", spec=spec(), live=live,
                                      drift=Drift((FieldChange("service/desiredCount", 2, 5),))),))
    result = applier.apply(plan, environments={"staging": ENV}, should_continue=lambda: next(answers, False))
    [web] = result.services
    assert web.status == "in_progress" and web.deployment_id == "d2"
    assert ecs.tagged == []  # not finished: the declaration is not recorded as applied


def test_leadership_lost_while_registering_never_creates_or_deploys():
    """Registering can queue behind the RegisterTaskDefinition rate limit; a replica that lost the lease
    (or got SIGTERM) meanwhile must not go on to CreateService/UpdateService."""
    applier = _applier(ListSink())
    answers = iter([True])  # allowed when the service starts, not after its revision is registered
    plan = Plan(services=(ServicePlan(environment="staging", name="a", action="create", spec=spec(name="a")),))
    result = applier.apply(plan, environments={"staging": ENV}, should_continue=lambda: next(answers, False))
    [a] = result.services
    assert a.status == "skipped" and "not started" in a.message
    assert applier.taskdefs.registered and applier.ecs.created == []  # type: ignore[attr-defined]


class PruneEcs:
    """A cluster shared by two environments: `web` belongs to staging, `old` to preview."""

    def __init__(self) -> None:
        self.deleted: list[str] = []
        self.tags = {"web": {"ecs-reconciler:managed-by": "ecs-reconciler", "ecs-reconciler:environment": "staging"},
                     "old": {"ecs-reconciler:managed-by": "ecs-reconciler", "ecs-reconciler:environment": "preview"},
                     "stranger": {}}

    def describe_service(self, env: Environment, name: str) -> dict[str, Any]:
        return {"serviceName": name, "tags": [{"key": k, "value": v} for k, v in self.tags[name].items()]}

    def delete_service(self, env: Environment, name: str) -> None:
        self.deleted.append(name)


def test_prune_rechecks_owner_and_environment_before_deleting():
    applier = _applier(ListSink(), PruneEcs())
    plan = Plan(services=tuple(ServicePlan(environment="staging", name=n, action="prune")
                               for n in ("web", "old", "stranger")))
    result = applier.apply(plan, environments={"staging": ENV})
    assert applier.ecs.deleted == ["web"]  # type: ignore[attr-defined]
    messages = {r.service: r.message for r in result.services}
    assert "preview" in messages["old"] and "not owned by" in messages["stranger"]
