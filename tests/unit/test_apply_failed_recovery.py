"""Recovery from AWS, the failed half: a deployment we started for what git declares, that AWS failed
or rolled back while nobody followed it, is recognised from AWS's structured fields (golden copies of
the documented shapes in tests/fixtures/aws-samples), recorded once and not deployed again; the
rolling follower judges a rollback by rolloutState, ids and the ServiceDeployment record, never by
the free text it quotes."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from test_apply_revisions import ENV, RecordingEcsWriter, _applier, spec
from test_apply_waits import NEW, OLD, FakeClock, FakeEcs, dep

from reconciler.apply.marker import applied_marker, applied_tags, failed_before
from reconciler.apply.progress import Progress
from reconciler.apply.recovery import attempted, failed_code_deploy, failed_service_deployment
from reconciler.apply.result import Outcome
from reconciler.apply.rolling import RollingWaiter
from reconciler.aws.errors import AwsAccessDenied, AwsServerError
from reconciler.daemon.policy import ServiceMemory, decide
from reconciler.events import CommitInfo, ListSink
from reconciler.model import (
    ATTEMPT_TAG,
    ENV_TAG,
    FAILED_TAG,
    OWNER_TAG,
    Drift,
    Environment,
    FieldChange,
    LiveService,
    SyncPolicy,
)
from reconciler.plan import Plan, ServicePlan

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "aws-samples"
RECORDS = {d["status"]: d for d in json.loads((SAMPLES / "ecs_describe-service-deployments_failed.json").read_text())
           ["serviceDeployments"]}
CODE_DEPLOY = json.loads((SAMPLES / "awscli_batch-get-deployments.json").read_text())["deploymentsInfo"]
OURS = {OWNER_TAG: "ecs-reconciler", ENV_TAG: "staging"}


# -- judging what AWS returned ------------------------------------------------------------------
def test_a_circuit_breaker_rollback_is_recorded_as_the_follower_would_have_reported_it() -> None:
    outcome = failed_service_deployment(RECORDS["ROLLBACK_SUCCESSFUL"], rolling=True)
    assert outcome is not None and outcome.status == "rolled_back" and outcome.rolled_back
    assert outcome.deployment_id == "ecs-svc/4431234567890123456"  # the rolling follower's id: same dedup key
    assert "circuit breaker: 3 failed tasks (threshold 3)" in outcome.message
    assert "1111234567890123456" in outcome.message  # the revision ECS rolled back to


def test_a_stopped_deployment_is_failed_and_a_successful_one_is_not_recorded() -> None:
    stopped = failed_service_deployment(RECORDS["STOPPED"], rolling=True)
    assert stopped is not None and stopped.status == "failed" and not stopped.rolled_back
    assert failed_service_deployment(RECORDS["SUCCESSFUL"], rolling=True) is None
    running = {**RECORDS["SUCCESSFUL"], "status": "IN_PROGRESS"}
    assert failed_service_deployment(running, rolling=True) is None


def test_a_native_deployment_still_rolling_back_is_rolled_back_with_its_arn() -> None:
    linear = RECORDS["ROLLBACK_IN_PROGRESS"]
    outcome = failed_service_deployment(linear, rolling=False)
    assert outcome is not None and outcome.status == "rolled_back"
    assert outcome.deployment_id == linear["serviceDeploymentArn"] and "alarm web-5xx in ALARM" in outcome.message


def test_status_reason_text_is_never_read() -> None:
    """statusReason is free text: a record saying "rolled back" in words but SUCCESSFUL is a success."""
    lying = {**RECORDS["SUCCESSFUL"], "statusReason": "rolled back: circuit breaker"}
    assert failed_service_deployment(lying, rolling=True) is None


def test_the_newest_failed_codedeploy_deployment_is_recorded() -> None:
    found = failed_code_deploy(CODE_DEPLOY)
    assert found is not None
    info, outcome = found
    assert info["deploymentId"] == "d-A1B2C3222"  # the newest by createTime, whatever the list order
    assert outcome.status == "failed" and outcome.deployment_id == "d-A1B2C3222"
    assert outcome.stopped_reasons == ("HEALTH_CONSTRAINTS: Deployment failed: Constraint default violated: "
                                       "No hosts succeeded.",)


def test_a_codedeploy_rollback_stands_for_the_deployment_that_triggered_it() -> None:
    failed = {**CODE_DEPLOY[1], "rollbackInfo": {"rollbackDeploymentId": "d-BACK"}}
    back = {**CODE_DEPLOY[0], "deploymentId": "d-BACK", "status": "Succeeded", "creator": "codeDeployRollback",
            "createTime": failed["createTime"] + 60, "rollbackInfo": {"rollbackTriggeringDeploymentId": "d-A1B2C3222"}}
    found = failed_code_deploy([back, failed])
    assert found is not None and found[1].status == "rolled_back" and found[1].deployment_id == "d-A1B2C3222"
    succeeded = {**CODE_DEPLOY[1], "status": "Succeeded", "createTime": back["createTime"] + 60}
    assert failed_code_deploy([back, failed, succeeded]) is None  # a later deployment succeeded
    assert failed_code_deploy([]) is None


# -- which services are looked at -----------------------------------------------------------------
def _plan(tags: dict[str, str], action: str = "update") -> ServicePlan:
    live = LiveService("staging", "web", "arn:svc/web", {"taskDefinition": "arn:td/web:1",
                                                         "tags": [{"key": k, "value": v} for k, v in tags.items()]},
                       spec().task_definition)
    return ServicePlan("staging", "web", action, spec=spec(), live=live,
                       drift=Drift((FieldChange("taskDefinition/containerDefinitions/0/image", "a", "b"),)),
                       policy=SyncPolicy(automated=True))


MARK = applied_marker(spec())


def test_only_our_attempted_unrecorded_declaration_is_looked_up() -> None:
    assert attempted(_plan({**OURS, ATTEMPT_TAG: MARK}), "ecs-reconciler")
    assert not attempted(_plan({**OURS, ATTEMPT_TAG: "older"}), "ecs-reconciler")  # another declaration
    assert not attempted(_plan({**OURS, ATTEMPT_TAG: MARK, FAILED_TAG: MARK}), "ecs-reconciler")  # recorded
    assert not attempted(_plan({ATTEMPT_TAG: MARK}), "ecs-reconciler")  # not ours
    assert not attempted(_plan({**OURS, ATTEMPT_TAG: MARK}, action="in-sync"), "ecs-reconciler")


def test_the_daemon_does_not_reapply_a_recorded_failure_until_git_changes() -> None:
    failed = _plan({**OURS, FAILED_TAG: MARK})
    choice = decide(failed, ServiceMemory(), "c1", 0.0)
    assert choice is not None and choice.kind == "failed" and not choice.applies
    assert decide(_plan({**OURS, FAILED_TAG: "an older declaration"}), ServiceMemory(), "c1", 0.0).kind == "apply"
    # Applied since (the failed tag is stale): a difference is drift, not a recorded failure.
    applied = _plan({**OURS, FAILED_TAG: MARK, **applied_tags(spec(), "c0")})
    assert not failed_before(applied.spec, applied.live)


# -- the applier ----------------------------------------------------------------------------------------
class FailedAttempts:
    def __init__(self, outcome: Outcome | None) -> None:
        self.outcome = outcome
        self.asked: list[str] = []

    def failure(self, env: Environment, name: str, spec: Any, live: LiveService) -> Outcome | None:
        self.asked.append(name)
        return self.outcome


class DeployingEcs(RecordingEcsWriter):
    def __init__(self) -> None:
        super().__init__()
        self.updates: list[dict[str, Any]] = []

    def update_service(self, env: Environment, name: str, params: dict[str, Any]) -> dict[str, Any]:
        self.updates.append(params)
        return super().update_service(env, name, params)

    def stopped_tasks(self, env: Environment, service: str) -> list[dict[str, Any]]:
        return [{"startedBy": "ecs-svc/1", "stoppedReason": "CannotPullContainerError: nope", "containers": []}]


def _update(tags: dict[str, str]) -> Plan:
    live = LiveService("staging", "web", "arn:svc/web", {"taskDefinition": "arn:td/web:1",
                                                         "tags": [{"key": k, "value": v} for k, v in tags.items()]},
                       spec().task_definition)
    return Plan(services=(ServicePlan("staging", "web", "update", spec=spec(), live=live,
                                      drift=Drift((FieldChange("service/healthCheckGracePeriodSeconds", 60, 0),))),))


ROLLED_BACK = Outcome("rolled_back", "ecs-svc/1", "circuit breaker: 3 failed tasks (threshold 3)", rolled_back=True)


def test_a_failure_aws_recorded_is_reported_once_and_not_deployed_again() -> None:
    sink, ecs, attempts = ListSink(), DeployingEcs(), FailedAttempts(ROLLED_BACK)
    result = _applier(sink, ecs, attempts).apply(_update({**OURS, ATTEMPT_TAG: MARK}), commit=CommitInfo("c" * 40),
                                                 environments={"staging": ENV}, record_failed=True)
    [web] = result.services
    assert web.status == "rolled_back" and web.deployment_id == "ecs-svc/1"
    assert web.stopped_reasons == ("CannotPullContainerError: nope",)
    assert ecs.updates == [] and ecs.tagged == [{FAILED_TAG: MARK}]  # recorded, not deployed
    assert [e.kind for e in sink.events] == ["sync_rolled_back"]  # no "Sync started" for what did not start


def test_without_a_failure_in_aws_or_when_a_person_asks_it_is_deployed() -> None:
    for attempts, record in ((FailedAttempts(None), True), (FailedAttempts(ROLLED_BACK), False)):
        ecs = DeployingEcs()
        _applier(ListSink(), ecs, attempts).apply(_update({**OURS, ATTEMPT_TAG: MARK}), environments={"staging": ENV},
                                                  record_failed=record)
        assert ecs.updates and FAILED_TAG not in {k for t in ecs.tagged for k in t}


class UnreadableAttempts:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def failure(self, env: Environment, name: str, spec: Any, live: LiveService) -> Outcome | None:
        raise self.error


def test_an_unreadable_history_defers_the_deployment_but_a_denied_read_does_not_block_it() -> None:
    ecs = DeployingEcs()
    outage = UnreadableAttempts(AwsServerError("500", service="ecs", action="ListServiceDeployments"))
    [web] = _applier(ListSink(), ecs, outage).apply(_update({**OURS, ATTEMPT_TAG: MARK}), environments={"staging": ENV},
                                                   record_failed=True).services
    assert web.status == "skipped" and ecs.updates == []  # the next cycle looks again
    denied = UnreadableAttempts(AwsAccessDenied("no", service="ecs", action="ListServiceDeployments"))
    _applier(ListSink(), ecs, denied).apply(_update({**OURS, ATTEMPT_TAG: MARK}), environments={"staging": ENV},
                                            record_failed=True)
    assert ecs.updates  # a role without the permission: deployed as before the check existed


def test_the_attempt_is_tagged_before_a_deployment_starts() -> None:
    ecs = DeployingEcs()
    _applier(ListSink(), ecs, FailedAttempts(None)).apply(_update(OURS), environments={"staging": ENV},
                                                          record_failed=True)
    assert ecs.tagged[0] == {ATTEMPT_TAG: MARK} and ecs.updates


# -- the rolling follower: structured fields only ------------------------------------------------------
class History:
    def __init__(self, record: dict[str, Any] | None) -> None:
        self.record = record

    def of_rolling(self, env: Environment, service: str, deployment_id: str) -> dict[str, Any] | None:
        return self.record


def _wait(frames: list[list[dict[str, Any]]], record: dict[str, Any] | None) -> Outcome:
    return RollingWaiter(FakeEcs(frames), FakeClock(), 1.0, history=History(record)).wait(
        ENV, "web", "d2", NEW, 100.0, Progress("k"))


def test_a_rollback_that_already_completed_is_judged_by_the_service_deployment_record() -> None:
    """Our deployment dropped out of `deployments` (the rollback completed between two polls)."""
    back = [dep("d3", "PRIMARY", OLD, "COMPLETED", 2, reason="ECS deployment d3 completed.")]
    outcome = _wait([back], copy.deepcopy(RECORDS["ROLLBACK_SUCCESSFUL"]))
    assert outcome.status == "rolled_back" and outcome.rolled_back and outcome.deployment_id == "d2"
    assert "circuit breaker: 3 failed tasks" in outcome.message and OLD in outcome.message


def test_free_text_alone_never_makes_a_rollback() -> None:
    """A PRIMARY whose reason reads like a circuit-breaker rollback, with no structured evidence, is someone
    else's deployment over ours (superseded), not a rollback."""
    other = [dep("d3", "PRIMARY", OLD, "IN_PROGRESS", 1,
                 reason="ECS deployment circuit breaker: rolling back to deploymentId d1.")]
    outcome = _wait([other], None)
    assert outcome.status == "failed" and not outcome.rolled_back and "superseded by deployment d3" in outcome.message
    outcome = _wait([other], copy.deepcopy(RECORDS["SUCCESSFUL"]))
    assert not outcome.rolled_back
