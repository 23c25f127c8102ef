"""The AppSpec of an ECS blue/green deployment, built from the service as git declares it.

Structure from [cd-ug] reference-appspec-file-structure-resources and -hooks
(aws-behaviour.md §3): version 0.0, one TargetService resource with the task
definition ARN, LoadBalancerInfo (container name/port), optional
PlatformVersion, NetworkConfiguration.AwsvpcConfiguration and
CapacityProviderStrategy, then Hooks in lifecycle order.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from reconciler.model import BlueGreen

#: [cd-ug] reference-appspec-file-structure-hooks: the ECS hooks, in lifecycle order.
HOOK_ORDER = ("BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic")


class AppSpecError(ValueError):
    """The service lacks what a CodeDeploy deployment needs (e.g. a load balancer container)."""


def _load_balancer_target(service: Mapping[str, Any], bg: BlueGreen) -> tuple[str, int]:
    lbs = list(service.get("loadBalancers") or [])
    first = lbs[0] if lbs else {}
    name = bg.container_name or first.get("containerName")
    port = bg.container_port or first.get("containerPort")
    if not name or not port:
        raise AppSpecError("a blue/green service needs loadBalancers[0].containerName/containerPort "
                           "or gitops.codeDeploy containerName/containerPort")
    return str(name), int(port)


def _network(service: Mapping[str, Any]) -> dict[str, Any] | None:
    awsvpc = (service.get("networkConfiguration") or {}).get("awsvpcConfiguration")
    if not awsvpc:
        return None
    out: dict[str, Any] = {"Subnets": list(awsvpc.get("subnets") or [])}
    if awsvpc.get("securityGroups"):
        out["SecurityGroups"] = list(awsvpc["securityGroups"])
    out["AssignPublicIp"] = str(awsvpc.get("assignPublicIp") or "DISABLED")
    return {"AwsvpcConfiguration": out}


def build_appspec(service: Mapping[str, Any], task_definition_arn: str, bg: BlueGreen) -> dict[str, Any]:
    """AppSpec as a dict; `service` is the CreateService-shaped input from git."""
    name, port = _load_balancer_target(service, bg)
    props: dict[str, Any] = {
        "TaskDefinition": task_definition_arn,
        "LoadBalancerInfo": {"ContainerName": name, "ContainerPort": port},
    }
    if service.get("platformVersion"):
        props["PlatformVersion"] = str(service["platformVersion"])
    network = _network(service)
    if network:
        props["NetworkConfiguration"] = network
    strategy = service.get("capacityProviderStrategy") or []
    if strategy:
        props["CapacityProviderStrategy"] = [
            {k: v for k, v in (("Base", item.get("base")), ("CapacityProvider", item.get("capacityProvider")),
                               ("Weight", item.get("weight"))) if v is not None}
            for item in strategy]
    spec: dict[str, Any] = {
        "version": "0.0",
        "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": props}}],
    }
    unknown = sorted(set(bg.hooks) - set(HOOK_ORDER))
    if unknown:
        raise AppSpecError(f"unknown AppSpec hook(s) {', '.join(unknown)}; ECS hooks are {', '.join(HOOK_ORDER)}")
    hooks = [{hook: bg.hooks[hook]} for hook in HOOK_ORDER if hook in bg.hooks]
    if hooks:
        spec["Hooks"] = hooks
    return spec


def appspec_content(spec: Mapping[str, Any]) -> str:
    """JSON is valid AppSpec content ([bc-cd] AppSpecContent.content: "YAML-formatted or JSON-formatted")."""
    return json.dumps(spec, sort_keys=True, separators=(",", ":"))


def appspec_task_definition(content: str) -> str | None:
    """The TaskDefinition an AppSpec (JSON or YAML) deploys; None when unreadable."""
    try:
        import yaml

        doc = yaml.safe_load(content)  # JSON is YAML
        return str(doc["Resources"][0]["TargetService"]["Properties"]["TaskDefinition"])
    except Exception:  # noqa: BLE001 - any malformed content just means "unknown"
        return None
