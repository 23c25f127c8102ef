"""What AWS fills into a task definition on RegisterTaskDefinition (pure functions).

Sources (reference aws-behaviour.md §1):
- container defaults `cpu 0`, `essential true`, `environment/mountPoints/volumesFrom/portMappings []`:
  botocore ecs `ContainerDefinition`; aws-cli `examples/ecs/register-task-definition.rst`.
- port mapping `protocol tcp`, `hostPort` = containerPort for awsvpc/host, 0 for bridge:
  botocore ecs `PortMapping.hostPort`.
- healthCheck `interval 30, timeout 5, retries 3` (no startPeriod): botocore ecs `HealthCheck`.
- task `cpu`/`memory` unit strings converted to integers-as-strings ("1 vCPU" -> "1024",
  "1GB" -> "1024"): botocore ecs `RegisterTaskDefinitionRequest.cpu/memory`.
- `networkMode` omitted when not given (the aws-cli sleep360 output has none).
- `requiresAttributes` / `compatibilities` computed; `registeredAt`/`registeredBy`;
  `deregisteredAt` on deregistration: ecs developer guide task_definition_parameters.
"""
from __future__ import annotations

import copy
import re
from typing import Any

_ECR_IMAGE = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/")
_UNIT = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*$")

# Request fields the API echoes back verbatim in DescribeTaskDefinition.
_ECHOED = (
    "family", "taskRoleArn", "executionRoleArn", "networkMode", "volumes",
    "placementConstraints", "requiresCompatibilities", "cpu", "memory",
    "pidMode", "ipcMode", "proxyConfiguration", "inferenceAccelerators",
    "ephemeralStorage", "runtimePlatform", "enableFaultInjection",
)


def _convert(value: str | int | None, units: tuple[str, ...]) -> str | None:
    """A number with an optional unit; the given units mean ×1024 (vCPU -> units, GB -> MiB)."""
    if value is None:
        return None
    match = _UNIT.match(str(value))
    if not match:
        return str(value)
    number, unit = float(match.group(1)), match.group(2).lower()
    return str(int(number * 1024)) if unit in units else str(int(number))


def convert_cpu(value: str | int | None) -> str | None:
    """'1 vCPU' -> '1024', '0.25 vcpu' -> '256', '256' -> '256'."""
    return _convert(value, ("vcpu",))


def convert_memory(value: str | int | None) -> str | None:
    """'1GB' -> '1024', '0.5 GB' -> '512', '512' -> '512' (MiB)."""
    return _convert(value, ("gb", "gib"))


def _container(container: dict[str, Any], network_mode: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "cpu": 0, "portMappings": [], "essential": True,
        "environment": [], "mountPoints": [], "volumesFrom": [],
    }
    out.update(copy.deepcopy(container))
    for mapping in out["portMappings"]:
        mapping.setdefault("protocol", "tcp")
        if "hostPort" not in mapping and "containerPort" in mapping:
            mapping["hostPort"] = mapping["containerPort"] if network_mode in ("awsvpc", "host") else 0
    health = out.get("healthCheck")
    if isinstance(health, dict):
        health.setdefault("interval", 30)
        health.setdefault("timeout", 5)
        health.setdefault("retries", 3)
    if "systemControls" not in out:
        out["systemControls"] = []
    return out


def requires_attributes(request: dict[str, Any]) -> list[dict[str, str]]:
    """The capabilities ECS computes from a definition (developer guide, §1 of the reference)."""
    names: list[str] = []
    containers = request.get("containerDefinitions") or []
    execution_role = bool(request.get("executionRoleArn"))
    if request.get("networkMode") == "awsvpc":
        names += ["com.amazonaws.ecs.capability.docker-remote-api.1.18", "ecs.capability.task-eni"]
    if any((c.get("logConfiguration") or {}).get("logDriver") == "awslogs" for c in containers):
        names.append("com.amazonaws.ecs.capability.logging-driver.awslogs")
        if execution_role:
            names.append("ecs.capability.execution-role-awslogs")
    if any(_ECR_IMAGE.match(str(c.get("image", ""))) for c in containers):
        names.append("com.amazonaws.ecs.capability.ecr-auth")
        if execution_role:
            names.append("ecs.capability.execution-role-ecr-pull")
    if request.get("taskRoleArn"):
        names.append("com.amazonaws.ecs.capability.task-iam-role")
    if any(c.get("healthCheck") for c in containers):
        names.append("ecs.capability.container-health-check")
    return [{"name": name} for name in dict.fromkeys(names)]


def compatibilities(request: dict[str, Any]) -> list[str]:
    """EC2 always; FARGATE too when the definition is valid for it (awsvpc + task cpu/memory)."""
    fargate_ok = request.get("networkMode") == "awsvpc" and request.get("cpu") and request.get("memory")
    return ["EC2", "FARGATE"] if fargate_ok else ["EC2"]


def aws_task_definition(
    request: dict[str, Any], *, arn: str, revision: int, registered_at: float, registered_by: str
) -> dict[str, Any]:
    """The `taskDefinition` object AWS returns for a RegisterTaskDefinition request."""
    request = dict(request)
    request["cpu"] = convert_cpu(request.get("cpu"))
    request["memory"] = convert_memory(request.get("memory"))
    network_mode = request.get("networkMode") or "bridge"
    out: dict[str, Any] = {
        "taskDefinitionArn": arn,
        "containerDefinitions": [_container(c, network_mode) for c in request.get("containerDefinitions", [])],
        "revision": revision,
        "volumes": [],
        "status": "ACTIVE",
        "placementConstraints": [],
    }
    for key in _ECHOED:
        if request.get(key) is not None:
            out[key] = copy.deepcopy(request[key])
    out["requiresAttributes"] = requires_attributes(request)
    out["compatibilities"] = compatibilities(request)
    out["registeredAt"] = registered_at
    out["registeredBy"] = registered_by
    return out
