"""One-off ECS tasks (hooks): RunTask, find by startedBy, DescribeTasks, StopTask, and the last
lines of a container's awslogs stream.

AWS facts used ([bc-ecs], [bc-logs]: the botocore models; ECS developer guide):
- RunTask `startedBy` is up to 128 characters, and ListTasks filters on it (ListTasksRequest.startedBy);
  ListTasks lists RUNNING tasks by default and STOPPED ones with desiredStatus=STOPPED, the latter
  for about an hour after they stop (API_ListTasks);
- DescribeTasks takes up to 100 tasks and returns tags with include=[TAGS];
- the awslogs driver writes to stream `<awslogs-stream-prefix>/<container name>/<task id>`
  (using_awslogs); GetLogEvents with startFromHead=false returns the newest events.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.aws.clients import AwsClients
from reconciler.aws.errors import AwsError
from reconciler.model import Environment

LOG_LINES = 20


class TaskRunner:
    def __init__(self, clients: AwsClients) -> None:
        self.clients = clients

    def _ecs(self, env: Environment) -> Any:
        return self.clients.client("ecs", env)

    def run(self, env: Environment, params: Mapping[str, Any]) -> dict[str, Any]:
        resp = self._ecs(env).run_task(cluster=env.cluster, count=1, **params)
        tasks = resp.get("tasks") or []
        if not tasks:
            failures = "; ".join(f"{f.get('arn', '')} {f.get('reason', '')}: {f.get('detail', '')}".strip()
                                 for f in resp.get("failures") or [])
            raise AwsError(failures or "RunTask started no task", service="ecs", action="RunTask",
                           code="RunTaskFailure")
        return dict(tasks[0])

    def find(self, env: Environment, started_by: str) -> list[dict[str, Any]]:
        """Running and recently stopped tasks started with `started_by`, with their tags."""
        ecs = self._ecs(env)
        arns: list[str] = []
        for status in ("RUNNING", "STOPPED"):
            resp = ecs.list_tasks(cluster=env.cluster, startedBy=started_by, desiredStatus=status)
            arns.extend(resp.get("taskArns") or [])
        return self.describe(env, arns[:100])

    def describe(self, env: Environment, arns: list[str]) -> list[dict[str, Any]]:
        if not arns:
            return []
        resp = self._ecs(env).describe_tasks(cluster=env.cluster, tasks=arns, include=["TAGS"])
        return list(resp.get("tasks") or [])

    def stop(self, env: Environment, arn: str, reason: str) -> None:
        self._ecs(env).stop_task(cluster=env.cluster, task=arn, reason=reason[:255])

    def log_tail(self, env: Environment, region: str, group: str, stream: str) -> list[str]:
        """The newest lines of a log stream; empty when it cannot be read (the report says less, nothing breaks)."""
        try:
            resp = self.clients.client("logs", env, region=region).get_log_events(
                logGroupName=group, logStreamName=stream, startFromHead=False, limit=LOG_LINES)
        except AwsError:
            return []
        return [str(e.get("message", "")).rstrip("\n") for e in resp.get("events") or []]
