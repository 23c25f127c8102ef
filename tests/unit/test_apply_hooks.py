"""Hook tasks with a fake TaskRunner: success rule, follow-not-restart, reuse, timeout, failure report."""
from __future__ import annotations

from typing import Any

from reconciler.apply.hooks import HookRunner, essential_exit, log_stream, started_by
from reconciler.apply.progress import Progress
from reconciler.model import Environment, GitOpsSettings, HookTask, ServiceSpec

ENV = Environment("staging", "staging", "eu-west-1")
TD = {"family": "web", "containerDefinitions": [
    {"name": "web", "image": "x", "logConfiguration": {"logDriver": "awslogs", "options": {
        "awslogs-group": "/ecs/web", "awslogs-stream-prefix": "web"}}},
    {"name": "sidecar", "image": "y", "essential": False}]}
MIGRATE = HookTask(name="migrate", phase="preSync", command=("bin/migrate",), timeout_seconds=100)
SPEC = ServiceSpec("staging", "web", {"launchType": "FARGATE", "networkConfiguration": {"awsvpcConfiguration": {
    "subnets": ["s"]}}}, TD, GitOpsSettings(hooks=(MIGRATE,)), "web/service.yaml", "web/taskdef.json")


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


class FakeTasks:
    def __init__(self, existing: list[dict[str, Any]] | None = None, exit_code: int = 0, runs_for: int = 2) -> None:
        self.existing, self.exit_code, self.runs_for = existing or [], exit_code, runs_for
        self.started: list[dict[str, Any]] = []
        self.stopped: list[str] = []
        self.polls = 0

    def find(self, env: Environment, key: str) -> list[dict[str, Any]]:
        return [t for t in self.existing if t["startedBy"] == key]

    def run(self, env: Environment, params: dict[str, Any]) -> dict[str, Any]:
        self.started.append(params)
        return {"taskArn": "arn:aws:ecs:eu-west-1:1:task/staging/new1", "lastStatus": "PROVISIONING"}

    def describe(self, env: Environment, arns: list[str]) -> list[dict[str, Any]]:
        self.polls += 1
        if self.polls < self.runs_for:
            return [{"taskArn": arns[0], "lastStatus": "RUNNING"}]
        return [{"taskArn": arns[0], "lastStatus": "STOPPED", "stopCode": "EssentialContainerExited",
                 "stoppedReason": "Essential container in task exited",
                 "containers": [{"name": "web", "exitCode": self.exit_code}, {"name": "sidecar", "exitCode": 137}]}]

    def stop(self, env: Environment, arn: str, reason: str) -> None:
        self.stopped.append(arn)

    def log_tail(self, env: Environment, region: str, group: str, stream: str) -> list[str]:
        assert (region, group, stream) == ("eu-west-1", "/ecs/web", "web/web/new1")
        return ["migrating", "ERROR: boom"]


def run(tasks: FakeTasks, sha: str = "abc") -> list[Any]:
    runner = HookRunner(tasks, FakeClock(), poll_interval=1.0)  # type: ignore[arg-type]
    return runner.run_phase(ENV, SPEC, "preSync", "arn:td:7", TD, sha, deadline=1000.0, progress=Progress("k"))


def tagged(status: str, exit_code: int | None = None, sha: str = "abc", td_arn: str = "arn:td:7") -> dict[str, Any]:
    task: dict[str, Any] = {"taskArn": "arn:aws:ecs:eu-west-1:1:task/staging/old1", "lastStatus": status,
                            "taskDefinitionArn": td_arn,
                            "startedBy": started_by(SPEC, sha, MIGRATE),
                            "tags": [{"key": "ecs-reconciler:hook", "value": "preSync/migrate"},
                                     {"key": "ecs-reconciler:commit", "value": sha},
                                     {"key": "ecs-reconciler:service", "value": "staging/web"}]}
    if exit_code is not None:
        task["containers"] = [{"name": "web", "exitCode": exit_code}]
    return task


def test_only_essential_containers_count() -> None:
    assert essential_exit({"containers": [{"name": "web", "exitCode": 0}, {"name": "sidecar", "exitCode": 1}]}, TD) == (True, "")
    ok, why = essential_exit({"containers": [{"name": "web"}]}, TD)
    assert not ok and why == "no exit code (container web)"
    assert log_stream(TD, "web", "arn:aws:ecs:r:1:task/c/abc", "eu-west-1") == ("eu-west-1", "/ecs/web", "web/web/abc")
    assert log_stream(TD, "sidecar", "arn:x/abc", "eu-west-1") is None


def test_runs_with_the_revision_the_service_network_and_a_command_override() -> None:
    tasks = FakeTasks()
    [result] = run(tasks)
    assert result.ok and not result.reused
    [params] = tasks.started
    assert params["taskDefinition"] == "arn:td:7" and params["launchType"] == "FARGATE"
    assert params["networkConfiguration"] == SPEC.service["networkConfiguration"]
    assert params["overrides"] == {"containerOverrides": [{"name": "web", "command": ["bin/migrate"]}]}
    assert params["startedBy"] == started_by(SPEC, "abc", MIGRATE) and len(params["startedBy"]) <= 128
    assert started_by(SPEC, "abd", MIGRATE) != params["startedBy"]


def test_failure_reports_exit_code_stop_reason_and_log_lines() -> None:
    [result] = run(FakeTasks(exit_code=2))
    assert not result.ok
    assert result.message == ("pre-sync hook migrate failed: exit code 2 (container web); stopped: Essential container "
                              "in task exited (EssentialContainerExited); last log lines: migrating | ERROR: boom")


def test_a_running_task_for_the_commit_is_followed_not_started_again() -> None:
    tasks = FakeTasks(existing=[tagged("RUNNING")])
    [result] = run(tasks)
    assert result.ok and result.reused and tasks.started == []


def test_a_succeeded_run_for_the_commit_is_not_repeated_a_failed_one_is() -> None:
    tasks = FakeTasks(existing=[tagged("STOPPED", exit_code=0)])
    [result] = run(tasks)
    assert result.ok and result.reused and tasks.started == [] and tasks.polls == 0
    tasks = FakeTasks(existing=[tagged("STOPPED", exit_code=1)])
    assert run(tasks)[0].ok and len(tasks.started) == 1
    other = FakeTasks(existing=[tagged("STOPPED", exit_code=0, sha="zzz")])
    run(other)
    assert len(other.started) == 1  # another commit's run does not count


def test_a_run_of_another_revision_is_neither_reused_nor_followed() -> None:
    """`sync` of a working tree has no commit: an earlier image's run must not stand in for this one."""
    for status, code in (("STOPPED", 0), ("RUNNING", None)):
        tasks = FakeTasks(existing=[tagged(status, exit_code=code, sha="", td_arn="arn:td:6")])
        [result] = run(tasks, sha="")
        assert result.ok and not result.reused and len(tasks.started) == 1
        assert tasks.started[0]["taskDefinition"] == "arn:td:7"


def test_timeout_stops_the_task_and_fails() -> None:
    tasks = FakeTasks(runs_for=10_000)
    [result] = run(tasks)
    assert not result.ok and tasks.stopped == ["arn:aws:ecs:eu-west-1:1:task/staging/new1"]
    assert result.message == "pre-sync hook migrate timed out after 100s; task stopped"
