"""ECS RunTask / StopTask and the one-off tasks in ListTasks / DescribeTasks (see one_off.py)."""
from __future__ import annotations

from typing import Any

from reconciler.sandbox import ecs_api, moto_compat
from reconciler.sandbox.state import SandboxState
from reconciler.sandbox.wsgi import ECS_PREFIX, AwsError, Handler, MotoCall


def _cluster(state: SandboxState, ref: str | None) -> tuple[str, str]:
    name = ecs_api.cluster_name(ref)
    if name not in moto_compat.ecs_backend(state.account, state.region).clusters:
        raise AwsError("ClusterNotFoundException", "Cluster not found.")
    return name, f"arn:aws:ecs:{state.region}:{state.account}:cluster/{name}"


def run_task(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    name, arn = _cluster(state, body.get("cluster"))
    td = state.find_taskdef(body.get("taskDefinition", ""))
    if td is None:
        raise AwsError("ClientException", "Unable to describe task definition.")
    if td.get("networkMode") == "awsvpc" and not (body.get("networkConfiguration") or {}).get("awsvpcConfiguration"):
        raise AwsError("InvalidParameterException",
                       "Network Configuration must be provided when networkMode 'awsvpc' is specified.")
    if len(body.get("startedBy") or "") > 128:
        raise AwsError("InvalidParameterException", "startedBy must be 128 characters or fewer.")
    names = {c["name"] for c in td.get("containerDefinitions", [])}
    for override in (body.get("overrides") or {}).get("containerOverrides") or []:
        if override.get("name") not in names:
            raise AwsError("InvalidParameterException", f"Override for container named {override.get('name')} "
                                                        "is not a container in the TaskDefinition.")
    count = int(body.get("count") or 1)
    tasks = [state.one_off.run(name, arn, td, body) for _ in range(count)]
    return {"tasks": [t.render(include_tags=True) for t in tasks], "failures": []}


def stop_task(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    task = _find(state, body.get("task", ""))
    if task is None:
        raise AwsError("InvalidParameterException", "The referenced task was not found.")
    state.one_off.stop(task, str(body.get("reason") or "Task stopped by user"))
    return {"task": task.render(include_tags=False)}


def _find(state: SandboxState, ref: str) -> Any:
    return state.one_off.find(ref)


def list_tasks(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    out = ecs_api.list_tasks(state, body, moto)
    if body.get("serviceName"):
        return out
    cluster = ecs_api.cluster_name(body.get("cluster"))
    desired = body.get("desiredStatus", "RUNNING")
    family = body.get("family")
    started_by = body.get("startedBy")
    for task in state.one_off.started_by(started_by) if started_by else list(state.one_off.tasks.values()):
        if task.cluster != cluster or task.desired_status != desired:
            continue
        if body.get("startedBy") and task.started_by != body["startedBy"]:
            continue
        if family and task.task_definition["family"] != family:
            continue
        out["taskArns"].append(task.arn)
    return out


def describe_tasks(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    mine = [r for r in body.get("tasks") or [] if _find(state, r) is not None]
    others = [r for r in body.get("tasks") or [] if r not in mine]
    out = ecs_api.describe_tasks(state, {**body, "tasks": others}, moto) if others else {"tasks": [], "failures": []}
    include_tags = "TAGS" in (body.get("include") or [])
    out["tasks"] = out["tasks"] + [_find(state, r).render(include_tags) for r in mine]
    return out


HANDLERS: dict[str, Handler] = {
    f"{ECS_PREFIX}.RunTask": run_task,
    f"{ECS_PREFIX}.StopTask": stop_task,
    f"{ECS_PREFIX}.ListTasks": list_tasks,
    f"{ECS_PREFIX}.DescribeTasks": describe_tasks,
}
