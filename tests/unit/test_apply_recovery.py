"""Recovery from AWS, not memory: rollouts that completed unrecorded are recognised from AWS alone;
a read outage while following is "unknown, still following", never "failed"; an ambiguous
RegisterTaskDefinition failure never registers a second revision."""
from __future__ import annotations

from typing import Any

from test_apply_waits import ENV, NEW, OLD, FakeClock, FakeEcs, dep

from reconciler.apply.marker import applied_tags
from reconciler.apply.progress import Progress
from reconciler.apply.recovery import completed, needs_record, newly_deployed
from reconciler.apply.revisions import resolve_revision
from reconciler.apply.rolling import RollingWaiter
from reconciler.aws.errors import AwsError, AwsThrottled
from reconciler.diff.taskdef import spec_hash
from reconciler.model import COMMIT_TAG, OWNER_TAG, TASKDEF_HASH_TAG, GitOpsSettings, LiveService, ServiceSpec
from reconciler.plan import ServicePlan

TD = {"family": "web", "containerDefinitions": [{"name": "web", "image": "web:2", "essential": True}]}
SPEC = ServiceSpec("staging", "web", {"desiredCount": 2}, TD, GitOpsSettings(), "service.yaml", "taskdef.json")


def plan(tags: dict[str, str], td_tags: dict[str, str], deployments: list[dict[str, Any]],
         action: str = "in-sync") -> ServicePlan:
    service = {"taskDefinition": NEW, "deployments": deployments,
               "tags": [{"key": k, "value": v} for k, v in tags.items()]}
    live = LiveService("staging", "web", "arn:svc/web", service, dict(TD),
                       task_definition_tags=tuple({"key": k, "value": v} for k, v in td_tags.items()))
    return ServicePlan("staging", "web", action, spec=SPEC, live=live)


OURS = {OWNER_TAG: "ecs-reconciler", COMMIT_TAG: "c0"}
REVISION = {OWNER_TAG: "ecs-reconciler", COMMIT_TAG: "c1"}
DONE = [dep("d2", "PRIMARY", NEW, "COMPLETED", 2)]


def test_a_completed_unrecorded_rollout_is_recognised() -> None:
    sp = plan(OURS, REVISION, DONE)
    assert needs_record(sp, "ecs-reconciler") and newly_deployed(sp)
    outcome = completed(sp.live.service)
    assert outcome is not None and outcome.status == "succeeded" and outcome.deployment_id == "d2"


def test_a_completed_codedeploy_rollout_is_recorded_with_its_deployment_id() -> None:
    """The PRIMARY task set's externalId is the CodeDeploy deployment id (aws-behaviour.md §3): the id the
    follower would have reported, so the final report's dedup key is the dead leader's."""
    service = {"taskDefinition": NEW, "deployments": [], "taskSets": [
        {"status": "PRIMARY", "taskDefinition": NEW, "stabilityStatus": "STEADY_STATE", "externalId": "d-ABC123XYZ",
         "startedBy": "CODE_DEPLOY"},
        {"status": "ACTIVE", "taskDefinition": OLD, "stabilityStatus": "STEADY_STATE", "externalId": "d-OLD"}]}
    outcome = completed(service)
    assert outcome is not None and outcome.status == "succeeded" and outcome.deployment_id == "d-ABC123XYZ"


def test_what_is_not_recorded() -> None:
    recorded = {**OURS, **applied_tags(SPEC, "c1")}
    assert not needs_record(plan(recorded, REVISION, DONE), "ecs-reconciler")  # already marked
    assert not needs_record(plan({}, REVISION, DONE), "ecs-reconciler")  # not our service
    assert not needs_record(plan(OURS, {}, DONE), "ecs-reconciler")  # a revision we did not register
    assert not needs_record(plan(OURS, REVISION, DONE, action="update"), "ecs-reconciler")  # not in sync
    rolling = [dep("d2", "PRIMARY", NEW, "IN_PROGRESS", 1), dep("d1", "ACTIVE", OLD, "COMPLETED", 1)]
    assert completed(plan(OURS, REVISION, rolling).live.service) is None  # still rolling: followed instead
    assert completed(plan(OURS, REVISION, [dep("d2", "PRIMARY", NEW, "FAILED")]).live.service) is None
    assert not newly_deployed(plan(OURS, {**REVISION, COMMIT_TAG: "c0"}, DONE))  # only the marker is stale
    assert newly_deployed(plan(OURS, {OWNER_TAG: "ecs-reconciler"}, DONE))  # unknown revision (CLI sync): reported


class OutageEcs(FakeEcs):
    """DescribeServices answers 500 for `failures` calls, then the frames."""

    def __init__(self, failures: int, frames: list[list[dict[str, Any]]]) -> None:
        super().__init__(frames)
        self.failures = failures

    def describe_service(self, env, name):  # type: ignore[no-untyped-def]
        if self.failures > 0:
            self.failures -= 1
            raise AwsError("We encountered an internal error", service="ecs", action="DescribeServices",
                           code="InternalFailure")
        return super().describe_service(env, name)


def test_a_read_outage_while_following_is_unknown_never_failed() -> None:
    lines: list[str] = []
    progress = Progress("staging/web", lambda k, line: lines.append(line))
    ecs = OutageEcs(12, [[dep("d2", "PRIMARY", NEW, "COMPLETED", 2)]])
    outcome = RollingWaiter(ecs, FakeClock(), 5.0).wait(ENV, "web", "d2", NEW, 100.0, progress)
    assert outcome.status == "succeeded"  # 60 s of 500s, then AWS answers: the real outcome
    assert any("still following d2" in line for line in lines)
    stuck = RollingWaiter(OutageEcs(1000, []), FakeClock(), 5.0).wait(ENV, "web", "d2", NEW, 100.0, progress)
    assert stuck.status == "in_progress" and "outcome unknown" in stuck.message  # past the deadline: unknown


class AmbiguousTaskDefs:
    """RegisterTaskDefinition that AWS applies but answers with an error (`lost` times), or refuses
    before applying (`throttled` times)."""

    def __init__(self, lost: int = 0, throttled: int = 0) -> None:
        self.lost, self.throttled = lost, throttled
        self.revisions: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        self.register_calls = 0

    def recent_active_arns(self, env, family):  # type: ignore[no-untyped-def]
        return [arn for arn, _, _ in reversed(self.revisions)]

    def describe(self, env, arn):  # type: ignore[no-untyped-def]
        _, td, tags = next(r for r in self.revisions if r[0] == arn)
        return {**td, "taskDefinitionArn": arn}, tuple({"key": k, "value": v} for k, v in tags.items())

    def register(self, env, task_definition, tags):  # type: ignore[no-untyped-def]
        self.register_calls += 1
        if self.throttled:
            self.throttled -= 1
            raise AwsThrottled("Rate exceeded", service="ecs", action="RegisterTaskDefinition")
        arn = f"arn:td/web:{len(self.revisions) + 1}"
        self.revisions.append((arn, dict(task_definition), dict(tags)))
        if self.lost:
            self.lost -= 1
            raise AwsError("internal error", service="ecs", action="RegisterTaskDefinition", code="InternalFailure")
        return {**task_definition, "taskDefinitionArn": arn}


def test_an_ambiguous_register_failure_reuses_the_revision_it_registered() -> None:
    taskdefs = AmbiguousTaskDefs(lost=1)
    rev = resolve_revision(taskdefs, ENV, SPEC, None, instance="ecs-reconciler", commit="c1",  # type: ignore[arg-type]
                           sleep=lambda s: None)
    assert rev.arn == "arn:td/web:1" and rev.registered
    assert len(taskdefs.revisions) == 1 and taskdefs.register_calls == 1
    assert taskdefs.revisions[0][2][TASKDEF_HASH_TAG] == spec_hash(TD)


def test_a_refused_register_is_retried_after_looking() -> None:
    taskdefs = AmbiguousTaskDefs(throttled=2)
    slept: list[float] = []
    rev = resolve_revision(taskdefs, ENV, SPEC, None, instance="ecs-reconciler", commit="c1",  # type: ignore[arg-type]
                           sleep=slept.append)
    assert rev.arn == "arn:td/web:1" and len(taskdefs.revisions) == 1 and taskdefs.register_calls == 3
    assert slept == [1.0, 2.0]
