"""Wait loops of rolling and CodeDeploy deployments, with a fake clock (no real sleeping)."""
from __future__ import annotations

from typing import Any

from reconciler.apply.bluegreen import BlueGreenDeployer
from reconciler.apply.progress import Progress
from reconciler.apply.rolling import RollingWaiter
from reconciler.aws.taskdefs import TokenBucket
from reconciler.model import Environment

ENV = Environment(name="staging", cluster="staging", region="eu-west-1")
NEW, OLD = "arn:td/web:2", "arn:td/web:1"


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


def dep(id_: str, status: str, td: str, state: str, running: int = 0, failed: int = 0,
        reason: str = "") -> dict[str, Any]:
    return {"id": id_, "status": status, "taskDefinition": td, "rolloutState": state, "runningCount": running,
            "desiredCount": 2, "failedTasks": failed, "rolloutStateReason": reason}


class FakeEcs:
    def __init__(self, frames: list[list[dict[str, Any]]], stopped: list[dict[str, Any]] | None = None) -> None:
        self.frames = frames
        self.stopped = stopped or []
        self.calls = 0

    def describe_service(self, env: Environment, name: str) -> dict[str, Any]:
        frame = self.frames[min(self.calls, len(self.frames) - 1)]
        self.calls += 1
        return {"serviceName": name, "deployments": frame,
                "deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": True, "rollback": True}}}

    def stopped_tasks(self, env: Environment, service: str) -> list[dict[str, Any]]:
        return self.stopped


def test_rolling_wait_reports_progress_and_completes():
    lines: list[str] = []
    ecs = FakeEcs([[dep("d2", "PRIMARY", NEW, "IN_PROGRESS", 0), dep("d1", "ACTIVE", OLD, "COMPLETED", 2)],
                   [dep("d2", "PRIMARY", NEW, "IN_PROGRESS", 1), dep("d1", "ACTIVE", OLD, "COMPLETED", 1)],
                   [dep("d2", "PRIMARY", NEW, "COMPLETED", 2, reason="ECS deployment d2 completed.")]])
    clock = FakeClock()
    outcome = RollingWaiter(ecs, clock, 5.0).wait(ENV, "web", "d2", NEW, 100.0,
                                                 Progress("staging/web", lambda k, line: lines.append(line)))
    assert outcome.status == "succeeded" and outcome.deployment_id == "d2"
    assert lines == ["running 0/2, failed 0", "running 1/2, failed 0", "running 2/2, failed 0"]
    assert clock.sleeps == [5.0, 5.0]


def test_circuit_breaker_rollback_is_a_rollback_not_a_success():
    """The services_stable trap: after the rollback the service is steady again, on the OLD revision."""
    stopped = [{"startedBy": "d2", "taskDefinitionArn": NEW, "stoppedReason": "CannotPullContainerError: nope",
                "containers": [{"name": "web", "reason": "CannotPullContainerError: nope"}]},
               {"startedBy": "d1", "taskDefinitionArn": OLD, "stoppedReason": "Scaling activity"}]
    ecs = FakeEcs([[dep("d2", "PRIMARY", NEW, "IN_PROGRESS", 0, 2), dep("d1", "ACTIVE", OLD, "COMPLETED", 2)],
                   [dep("d2", "PRIMARY", NEW, "FAILED", 0, 3), dep("d1", "ACTIVE", OLD, "COMPLETED", 2)],
                   [dep("d3", "PRIMARY", OLD, "IN_PROGRESS", 2),
                    dep("d2", "ACTIVE", NEW, "FAILED", 0, 3,
                        reason="ECS deployment circuit breaker: rolling back to deploymentId d1.")]], stopped)
    outcome = RollingWaiter(ecs, FakeClock(), 1.0).wait(ENV, "web", "d2", NEW, 100.0, Progress("k"))
    assert outcome.status == "rolled_back" and outcome.rolled_back
    assert outcome.stopped_reasons == ("CannotPullContainerError: nope",)
    assert "rolling back" in outcome.message


def test_deadline_ends_the_wait_as_failed():
    ecs = FakeEcs([[dep("d2", "PRIMARY", NEW, "IN_PROGRESS", 1)]])
    clock = FakeClock()
    outcome = RollingWaiter(ecs, clock, 10.0).wait(ENV, "web", "d2", NEW, 35.0, Progress("k"))
    assert outcome.status == "failed" and "deadline" in outcome.message
    assert clock.now() == 40.0 and ecs.calls == 5


class FakeCodeDeploy:
    def __init__(self, statuses: list[str], info: dict[str, Any] | None = None) -> None:
        self.statuses = statuses
        self.info = info or {}
        self.calls = 0
        self.stopped: list[tuple[str, bool]] = []

    def get_deployment(self, env: Environment, deployment_id: str) -> dict[str, Any]:
        status = self.statuses[min(self.calls, len(self.statuses) - 1)]
        self.calls += 1
        return {"deploymentId": deployment_id, "status": status, **self.info}

    def traffic_weights(self, env: Environment, deployment_id: str, cluster: str, service: str) -> dict[str, float]:
        return {"Blue": 90.0, "Green": 10.0} if self.calls > 1 else {"Blue": 100.0, "Green": 0.0}

    def stop_deployment(self, env: Environment, deployment_id: str, rollback: bool = True) -> dict[str, Any]:
        self.stopped.append((deployment_id, rollback))
        return {"status": "Pending", "statusMessage": "stopping"}


def test_codedeploy_wait_reports_traffic_shifts_and_succeeds():
    lines: list[str] = []
    cd = FakeCodeDeploy(["Created", "InProgress", "InProgress", "Succeeded"])
    outcome = BlueGreenDeployer(cd, FakeClock(), 1.0).wait(ENV, "d-1", 100.0, Progress("k", lambda k, line: lines.append(line)),
                                                          cluster="staging", service_name="api")
    assert outcome.status == "succeeded"
    assert "traffic Blue 100%, Green 0%" in lines and "traffic Blue 90%, Green 10%" in lines


def test_codedeploy_deadline_stops_with_rollback():
    cd = FakeCodeDeploy(["InProgress"])
    outcome = BlueGreenDeployer(cd, FakeClock(), 10.0).wait(ENV, "d-1", 25.0, Progress("k"),
                                                           cluster="c", service_name="s")
    assert cd.stopped == [("d-1", True)]
    assert outcome.status == "rolled_back" and "deadline" in outcome.message


def test_codedeploy_alarm_stop_with_rollback_info_is_rolled_back():
    cd = FakeCodeDeploy(["InProgress", "Stopped"], {
        "errorInformation": {"code": "ALARM_ACTIVE", "message": "alarm api-5xx fired"},
        "rollbackInfo": {"rollbackDeploymentId": "d-2"}})
    outcome = BlueGreenDeployer(cd, FakeClock(), 1.0).wait(ENV, "d-1", 100.0, Progress("k"), cluster="c",
                                                          service_name="s")
    assert outcome.status == "rolled_back" and outcome.rolled_back
    assert outcome.stopped_reasons == ("ALARM_ACTIVE: alarm api-5xx fired",)


def test_token_bucket_paces_after_the_burst():
    clock = FakeClock()
    bucket = TokenBucket(rate=1.0, burst=3, now=clock.now, sleep=clock.sleep)
    waits = [bucket.acquire() for _ in range(5)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] == 1.0 and waits[4] == 1.0  # then one per second
    assert clock.now() == 2.0


class TaskSetEcs(FakeEcs):
    def describe_service(self, env: Environment, name: str) -> dict[str, Any]:
        frame = self.frames[min(self.calls, len(self.frames) - 1)]
        self.calls += 1
        return {"serviceName": name, "deployments": [], "taskSets": frame}


def task_set(running: int, stability: str) -> dict[str, Any]:
    return {"id": "ecs-svc/ts1", "status": "PRIMARY", "taskDefinition": NEW, "computedDesiredCount": 2,
            "runningCount": running, "stabilityStatus": stability}


def test_new_code_deploy_service_waits_for_its_first_task_set():
    lines: list[str] = []
    ecs = TaskSetEcs([[task_set(0, "STABILIZING")], [task_set(1, "STABILIZING")], [task_set(2, "STEADY_STATE")]])
    clock = FakeClock()
    outcome = RollingWaiter(ecs, clock, 5.0).wait_task_set(ENV, "web", NEW, 100.0,
                                                          Progress("staging/web", lambda k, line: lines.append(line)))
    assert outcome.status == "succeeded" and ecs.calls == 3
    assert lines == ["task set ecs-svc/ts1: running 0/2", "task set ecs-svc/ts1: running 1/2",
                     "task set ecs-svc/ts1: running 2/2"]


def test_first_task_set_never_steady_fails_at_the_deadline_with_the_stopped_reason():
    stopped = [{"taskDefinitionArn": NEW, "stoppedReason": "CannotPullContainerError: no such image"}]
    ecs = TaskSetEcs([[task_set(0, "STABILIZING")]], stopped)
    outcome = RollingWaiter(ecs, FakeClock(), 10.0).wait_task_set(ENV, "web", NEW, 25.0, Progress("k"))
    assert outcome.status == "failed" and "steady" in outcome.message
    assert outcome.stopped_reasons == ("CannotPullContainerError: no such image",)


def test_a_wait_lets_go_when_the_process_may_no_longer_act():
    """SIGTERM or a lost lease: stop following at once, leave the deployment running in AWS."""
    ecs = FakeEcs([[dep("d2", "PRIMARY", NEW, "IN_PROGRESS", 1)]])
    clock = FakeClock()
    outcome = RollingWaiter(ecs, clock, 10.0, keep_waiting=lambda: False).wait(ENV, "web", "d2", NEW, 100.0,
                                                                              Progress("k"))
    assert outcome.status == "in_progress" and outcome.deployment_id == "d2"
    assert "continues in AWS" in outcome.message and clock.sleeps == []
    cd = FakeCodeDeploy(["InProgress"])
    outcome = BlueGreenDeployer(cd, clock, 10.0, keep_waiting=lambda: False).wait(
        ENV, "d-1", 100.0, Progress("k"), cluster="", service_name="")
    assert outcome.status == "in_progress" and clock.sleeps == []


def test_codedeploy_ready_wait_is_one_milestone_for_chat():
    """deploymentReadyOption STOP_DEPLOYMENT: the deployment sits at Ready until ContinueDeployment."""
    steps: list[tuple[str, bool]] = []
    cd = FakeCodeDeploy(["InProgress", "Ready", "Ready", "Ready", "InProgress", "Succeeded"])
    outcome = BlueGreenDeployer(cd, FakeClock(), 1.0).wait(ENV, "d-1", 100.0, Progress("k", on_milestone=lambda line, awaiting: steps.append((line, awaiting))),
                                                          cluster="staging", service_name="api")
    assert outcome.status == "succeeded"
    assert steps == [("CodeDeploy d-1: waiting for traffic reroute (reconciler continue)", True)]  # chat: buttons
