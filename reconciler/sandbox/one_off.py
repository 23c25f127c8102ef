"""One-off tasks (RunTask): PROVISIONING → RUNNING → STOPPED on the sandbox clock, with the exit
code and log lines the seed (or the test) chose for their command.

AWS behaviour imitated (ECS API reference and developer guide):
- RunTask answers `tasks[]` and `failures[]`; `startedBy` is up to 128 characters and ListTasks
  filters on it; `group` defaults to `family:<family>` (API_RunTask);
- awsvpc task definitions need `networkConfiguration` (InvalidParameterException);
- a task whose essential container exits stops with stopCode `EssentialContainerExited` and
  stoppedReason "Essential container in task exited"; containers carry `exitCode`
  (API_Task, API_Container, stopped-task-errors);
- an image that cannot be pulled stops the task with `TaskFailedToStart` and a
  CannotPullContainerError reason (task_cannot_pull_image);
- StopTask: stopCode `UserInitiated`, stoppedReason the given reason (API_StopTask);
- awslogs writes to stream `<awslogs-stream-prefix>/<container>/<task id>` (using_awslogs).
Our choice (undocumented): a task runs 15 sandbox seconds to RUNNING, then `runSeconds`
(default 30) before it exits; a stopped container's exit code is 143 (SIGTERM) after StopTask;
the log group is created when missing; stopped tasks are kept like the service ones (1 hour).
"""
from __future__ import annotations

import heapq
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reconciler.sandbox import moto_compat
from reconciler.sandbox.ecs_engine import STEP_SECONDS, STOPPED_TASK_RETENTION


@dataclass(frozen=True)
class Outcome:
    """What a one-off task does: chosen by a substring of its command (`match`)."""

    match: str = ""
    exit_code: int = 0
    run_seconds: float = 30.0
    logs: tuple[str, ...] = ()

    @classmethod
    def from_seed(cls, doc: dict[str, Any]) -> Outcome:
        return cls(match=str(doc.get("match", "")), exit_code=int(doc.get("exitCode", 0)),
                   run_seconds=float(doc.get("runSeconds", 30.0)), logs=tuple(str(x) for x in doc.get("logs") or ()))


@dataclass
class OneOffTask:
    arn: str
    id: str
    cluster: str
    cluster_arn: str
    task_definition: dict[str, Any]
    command: tuple[str, ...]
    overrides: dict[str, Any]
    started_by: str | None
    group: str
    launch_type: str | None
    tags: list[dict[str, str]]
    created_at: float
    outcome: Outcome
    pull_error: str | None = None
    last_status: str = "PROVISIONING"
    desired_status: str = "RUNNING"
    started_at: float | None = None
    stopped_at: float | None = None
    stop_code: str | None = None
    stopped_reason: str | None = None
    exit_codes: dict[str, int] = field(default_factory=dict)

    def render(self, include_tags: bool) -> dict[str, Any]:
        containers = []
        for c in self.task_definition.get("containerDefinitions", []):
            item: dict[str, Any] = {"containerArn": f"{self.arn.replace(':task/', ':container/')}/{c['name']}",
                                    "taskArn": self.arn, "name": c["name"], "image": c.get("image", ""),
                                    "lastStatus": self.last_status, "networkInterfaces": []}
            if c["name"] in self.exit_codes:
                item["exitCode"] = self.exit_codes[c["name"]]
            if self.pull_error:
                item["reason"] = self.pull_error
            containers.append(item)
        out: dict[str, Any] = {
            "taskArn": self.arn, "clusterArn": self.cluster_arn,
            "taskDefinitionArn": self.task_definition["taskDefinitionArn"], "containers": containers,
            "lastStatus": self.last_status, "desiredStatus": self.desired_status, "group": self.group,
            "createdAt": self.created_at, "overrides": self.overrides, "availabilityZone": "eu-west-1a",
            "attachments": [], "version": 1,
        }
        optional = {"startedBy": self.started_by, "launchType": self.launch_type, "startedAt": self.started_at,
                    "stoppingAt": self.stopped_at, "stoppedAt": self.stopped_at, "stopCode": self.stop_code,
                    "stoppedReason": self.stopped_reason, "cpu": self.task_definition.get("cpu"),
                    "memory": self.task_definition.get("memory")}
        out.update({k: v for k, v in optional.items() if v is not None})
        if include_tags:
            out["tags"] = list(self.tags)
        return out


class OneOffTasks:
    """Every task started with RunTask; advanced by `tick` (the sandbox ticker and each request)."""

    def __init__(self, clock: Any, image_error: Callable[[str], str | None], account: str, region: str) -> None:
        self.clock, self.image_error, self.account, self.region = clock, image_error, account, region
        self.outcomes: list[Outcome] = []
        self.tasks: dict[str, OneOffTask] = {}  # by ARN, in RunTask order: every listed task
        # Indexes, so a request (each one ticks) costs what it answers, not every kept task:
        self._active: dict[str, OneOffTask] = {}  # not yet STOPPED, by ARN
        self._expiry: list[tuple[float, int, str]] = []  # heap of (stoppedAt, order, ARN)
        self._stops = 0
        self._ids: dict[str, str] = {}  # task id -> ARN
        self._started: dict[str, dict[str, None]] = {}  # startedBy -> ARNs, in RunTask order

    def outcome_for(self, command: tuple[str, ...]) -> Outcome:
        text = " ".join(command)
        for outcome in reversed(self.outcomes):  # the latest rule wins (tests add rules at run time)
            if outcome.match in text:
                return outcome
        return Outcome(logs=(f"{text or 'task'}: done",))

    def run(self, cluster: str, cluster_arn: str, td: dict[str, Any], body: dict[str, Any]) -> OneOffTask:
        task_id = uuid.uuid4().hex
        overrides = body.get("overrides") or {}
        command: tuple[str, ...] = ()
        for override in overrides.get("containerOverrides") or []:
            if override.get("command"):
                command = tuple(override["command"])
        if not command:
            essential = [c for c in td.get("containerDefinitions", []) if c.get("essential", True)]
            command = tuple((essential or [{}])[0].get("command") or ())
        now = self.clock.now()
        images = [c.get("image", "") for c in td.get("containerDefinitions", [])]
        task = OneOffTask(
            arn=f"arn:aws:ecs:{self.region}:{self.account}:task/{cluster}/{task_id}", id=task_id, cluster=cluster,
            cluster_arn=cluster_arn, task_definition=td, command=command, overrides=overrides,
            started_by=body.get("startedBy"), group=body.get("group") or f"family:{td['family']}",
            launch_type=body.get("launchType"), tags=list(body.get("tags") or []), created_at=now,
            outcome=self.outcome_for(command), pull_error=next((e for e in map(self.image_error, images) if e), None))
        self.tasks[task.arn] = self._active[task.arn] = task
        self._ids[task.id] = task.arn
        if task.started_by is not None:
            self._started.setdefault(task.started_by, {})[task.arn] = None
        return task

    def find(self, ref: str) -> OneOffTask | None:
        """A listed task by ARN or id."""
        return self.tasks.get(ref) or self.tasks.get(self._ids.get(ref, ""))

    def started_by(self, value: str) -> list[OneOffTask]:
        """The listed tasks started with `value`, in RunTask order."""
        return [self.tasks[arn] for arn in self._started.get(value, {})]

    def stop(self, task: OneOffTask, reason: str) -> None:
        if task.last_status == "STOPPED":
            return
        self._stop(task, self.clock.now(), "UserInitiated", reason, 143)

    def tick(self) -> None:
        """Advance the tasks still running, then forget those stopped longer than the retention."""
        now = self.clock.now()
        for task in list(self._active.values()):
            if task.last_status == "PROVISIONING" and now >= task.created_at + STEP_SECONDS:
                if task.pull_error:
                    self._stop(task, task.created_at + STEP_SECONDS, "TaskFailedToStart", task.pull_error, None)
                    continue
                task.last_status, task.started_at = "RUNNING", task.created_at + STEP_SECONDS
            if task.last_status == "RUNNING" and task.started_at is not None \
                    and now >= task.started_at + task.outcome.run_seconds:
                self._stop(task, task.started_at + task.outcome.run_seconds, "EssentialContainerExited",
                           "Essential container in task exited", task.outcome.exit_code)
        while self._expiry and now - self._expiry[0][0] > STOPPED_TASK_RETENTION:
            self._forget(self.tasks[heapq.heappop(self._expiry)[2]])

    def _forget(self, task: OneOffTask) -> None:
        del self.tasks[task.arn]
        self._ids.pop(task.id, None)
        if task.started_by is not None:
            arns = self._started[task.started_by]
            del arns[task.arn]
            if not arns:
                del self._started[task.started_by]

    def _stop(self, task: OneOffTask, at: float, code: str, reason: str, exit_code: int | None) -> None:
        task.last_status = task.desired_status = "STOPPED"
        task.stopped_at, task.stop_code, task.stopped_reason = at, code, reason
        del self._active[task.arn]
        heapq.heappush(self._expiry, (at, self._stops, task.arn))
        self._stops += 1
        if exit_code is not None:
            task.exit_codes = {c["name"]: exit_code for c in task.task_definition.get("containerDefinitions", [])}
            self._write_logs(task, at)

    def _write_logs(self, task: OneOffTask, at: float) -> None:
        lines = task.outcome.logs or (f"{' '.join(task.command)}: exit {task.outcome.exit_code}",)
        for c in task.task_definition.get("containerDefinitions", []):
            config = c.get("logConfiguration") or {}
            options = config.get("options") or {}
            if config.get("logDriver") != "awslogs" or not options.get("awslogs-group"):
                continue
            stream = f"{options.get('awslogs-stream-prefix', 'ecs')}/{c['name']}/{task.id}"
            start = int((task.started_at or at) * 1000)
            events = [{"timestamp": start + i, "message": line} for i, line in enumerate(lines)]
            moto_compat.write_log_events(self.account, options.get("awslogs-region", self.region),
                                         options["awslogs-group"], stream, events)
