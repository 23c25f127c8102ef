"""Canonical form of an ECS service, for comparing git with AWS.

Defaults come from [bc-ecs] (botocore 1.43.11 ECS model, CreateServiceRequest
docs) and aws-behaviour.md §2; fields we do not know are kept as they are.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.diff.canonical import (
    JSONDict,
    as_bool,
    as_int,
    coerce,
    keyed,
    nested,
    prune,
    set_default,
    sorted_set,
)
from reconciler.diff.taskdef import canonical_tags
from reconciler.manifests.awsmodel import service_server_fields
from reconciler.manifests.ecs_deployments import CANARY_DEFAULTS, LINEAR_DEFAULTS
from reconciler.model import deployment_controller, runs_on_fargate

#: Request-only identifiers, never compared as fields: `taskDefinition` is compared by
#: diffing the task definitions themselves (diff_service_spec), never as an ARN. The
#: fields AWS computes (serviceArn, deployments, events, ...) are derived from botocore's
#: model (`service_server_fields`), so a member a newer botocore adds is never drift.
NOT_COMPARED = frozenset({"taskDefinition", "cluster", "serviceName", "clientToken", "ResponseMetadata"})
#: Returned only on the PRIMARY deployment, not at service level (ecspresso's
#: newServiceFromTypes does the same, ecs-deploy-tools.md §2).
FROM_PRIMARY_DEPLOYMENT = ("serviceConnectConfiguration", "volumeConfigurations", "vpcLatticeConfigurations")
#: For CODE_DEPLOY/EXTERNAL services a deployment's network and capacity providers go to
#: the replacement task set (the AppSpec), and the service-level values keep their
#: create-time form; the PRIMARY task set holds what runs ([bc-ecs] `TaskSet` members
#: networkConfiguration, capacityProviderStrategy; aws-behaviour.md §3 "The service-level
#: taskDefinition follows the PRIMARY set"). Not platformVersion (the set holds the resolved
#: "1.4.0", git says "LATEST") nor loadBalancers (the PRIMARY set swaps blue/green groups).
FROM_PRIMARY_TASK_SET = ("networkConfiguration", "capacityProviderStrategy")
_TASK_SET_CONTROLLERS = frozenset({"CODE_DEPLOY", "EXTERNAL"})
_SERVICE_LINKED_ROLE = "/aws-service-role/ecs.amazonaws.com/"


def _lift_from_primary(svc: JSONDict) -> None:
    """Fields AWS reports on the PRIMARY deployment / task set rather than on the service."""
    primary = next((d for d in svc.get("deployments") or () if d.get("status") == "PRIMARY"), None)
    for key in FROM_PRIMARY_DEPLOYMENT:
        if primary and key not in svc and primary.get(key):
            svc[key] = primary[key]
    if deployment_controller(svc) not in _TASK_SET_CONTROLLERS:
        return
    primary_set = next((t for t in svc.get("taskSets") or () if t.get("status") == "PRIMARY"), None)
    for key in FROM_PRIMARY_TASK_SET:
        if primary_set and primary_set.get(key):
            svc[key] = primary_set[key]


def with_primary_fields(svc: Mapping[str, Any]) -> JSONDict:
    """A DescribeServices item with the fields AWS reports on the PRIMARY deployment or
    task set lifted onto the service, as the diff sees them (for `reconciler import`)."""
    out: JSONDict = dict(svc)
    _lift_from_primary(out)
    return out


def _role(svc: JSONDict) -> None:
    """Request `role` (name or ARN) and describe `roleArn` as one role name; the
    service-linked role AWS picks by itself is dropped ([bc-ecs] CreateServiceRequest.role)."""
    role = svc.pop("role", None) or svc.pop("roleArn", None)
    svc.pop("roleArn", None)
    if role and _SERVICE_LINKED_ROLE not in str(role):
        svc["role"] = str(role).rsplit("/", 1)[-1]


def _deployment_configuration(dc: Mapping[str, Any] | None, daemon: bool) -> JSONDict:
    dc = dict(dc or {})
    coerce(dc, ("maximumPercent", "minimumHealthyPercent", "bakeTimeInMinutes"), as_int)
    # 200/100, DAEMON 100/0 ([bc-ecs] DeploymentConfiguration; aws-behaviour.md §2).
    set_default(dc, "maximumPercent", 100 if daemon else 200)
    set_default(dc, "minimumHealthyPercent", 0 if daemon else 100)
    breaker = dict(dc.get("deploymentCircuitBreaker") or {})
    coerce(breaker, ("enable", "rollback"), as_bool)
    set_default(breaker, "enable", False)
    set_default(breaker, "rollback", False)
    dc["deploymentCircuitBreaker"] = breaker
    alarms = dict(dc.get("alarms") or {})
    coerce(alarms, ("enable", "rollback"), as_bool)
    set_default(alarms, "enable", False)
    set_default(alarms, "rollback", False)
    alarms["alarmNames"] = sorted_set(alarms.get("alarmNames") or ())
    dc["alarms"] = alarms
    # Newer describe outputs materialise these (ecs-deploy-tools.md §2 "Not normalised").
    set_default(dc, "strategy", "ROLLING")
    set_default(dc, "bakeTimeInMinutes", 0)
    _step_configuration(dc)
    dc["lifecycleHooks"] = [_lifecycle_hook(h) for h in dc.get("lifecycleHooks") or ()]
    return dc


#: [bc-ecs] LinearConfiguration / CanaryConfiguration defaults; percents are Doubles (25 == 25.0).
_STEP_DEFAULTS = {"LINEAR": ("linearConfiguration", LINEAR_DEFAULTS),
                  "CANARY": ("canaryConfiguration", CANARY_DEFAULTS)}


def _step_configuration(dc: JSONDict) -> None:
    entry = _STEP_DEFAULTS.get(str(dc.get("strategy")))
    if entry is None:
        return
    key, defaults = entry
    block = {**defaults, **dict(dc.get(key) or {})}
    for name, default in defaults.items():
        block[name] = float(block[name]) if isinstance(default, float) else as_int(block[name])
    dc[key] = block


def _lifecycle_hook(hook: Mapping[str, Any]) -> JSONDict:
    """[bc-ecs] DeploymentLifecycleHook: targetType defaults to AWS_LAMBDA, timeout to 1440 min /
    ROLLBACK (API_DeploymentLifecycleHookTimeoutConfiguration); stages are a set."""
    out = dict(hook)
    set_default(out, "targetType", "AWS_LAMBDA")
    out["lifecycleStages"] = sorted_set(out.get("lifecycleStages") or ())
    timeout = dict(out.get("timeoutConfiguration") or {})
    coerce(timeout, ("timeoutInMinutes",), as_int)
    set_default(timeout, "timeoutInMinutes", 1440)
    set_default(timeout, "action", "ROLLBACK")
    out["timeoutConfiguration"] = timeout
    return out


def _load_balancer(lb: Mapping[str, Any]) -> JSONDict:
    """After each ECS blue/green deployment production runs on the other target group of the
    pair and ECS records the swap (reference ecs-native-deployments.md §2.2): the primary and
    alternate target groups are compared as a set (smaller ARN first), so a finished swap is
    not drift while a change of either group still is."""
    out: JSONDict = {**lb, "containerPort": as_int(lb.get("containerPort"))}
    advanced = dict(out.get("advancedConfiguration") or {})
    if advanced.get("alternateTargetGroupArn") and out.get("targetGroupArn"):
        pair = sorted((str(out["targetGroupArn"]), str(advanced["alternateTargetGroupArn"])))
        out["targetGroupArn"], advanced["alternateTargetGroupArn"] = pair
        out["advancedConfiguration"] = advanced
    return out


def _awsvpc(vpc: JSONDict) -> JSONDict:
    vpc["subnets"] = sorted_set(vpc.get("subnets") or ())
    vpc["securityGroups"] = sorted_set(vpc.get("securityGroups") or ())
    set_default(vpc, "assignPublicIp", "DISABLED")  # [bc-ecs] AwsVpcConfiguration.assignPublicIp
    return vpc


def _network_configuration(nc: JSONDict) -> JSONDict:
    nested(nc, "awsvpcConfiguration", _awsvpc)
    return nc


def _load_balancer_key(lb: Mapping[str, Any]) -> str:
    """`web:8080`; only the parts that are set (keyed() names an entry with neither)."""
    return ":".join(str(p) for p in (lb.get("containerName"), lb.get("containerPort")) if p is not None)


def normalize_service(svc: Mapping[str, Any], *, compare_desired_count: bool = True) -> JSONDict:
    """Canonical form of a CreateService input (desired) or a DescribeServices item (live)."""
    out: JSONDict = dict(svc)
    _lift_from_primary(out)
    _role(out)  # before dropping server-only fields: describe's roleArn is one of them
    for key in service_server_fields() | NOT_COMPARED:
        out.pop(key, None)
    # REPLICA by default ([bc-ecs] CreateServiceRequest.schedulingStrategy).
    set_default(out, "schedulingStrategy", "REPLICA")
    daemon = out["schedulingStrategy"] == "DAEMON"
    # DAEMON: AWS computes desiredCount from the instances ([bc-ecs] desiredCount "not required").
    if not compare_desired_count or daemon:
        out.pop("desiredCount", None)
    coerce(out, ("desiredCount", "healthCheckGracePeriodSeconds"), as_int)
    coerce(out, ("enableECSManagedTags", "enableExecuteCommand"), as_bool)
    set_default(out, "deploymentController", {"type": "ECS"})
    set_default(out, "healthCheckGracePeriodSeconds", 0)
    set_default(out, "enableECSManagedTags", False)
    set_default(out, "enableExecuteCommand", False)
    set_default(out, "propagateTags", "NONE")   # "The default is NONE" ([bc-ecs])
    if runs_on_fargate(out):
        set_default(out, "platformVersion", "LATEST")  # "the LATEST platform version is used"
    out["deploymentConfiguration"] = _deployment_configuration(out.get("deploymentConfiguration"), daemon)
    nested(out, "networkConfiguration", _network_configuration)
    # base and weight default to 0 ([bc-ecs] CapacityProviderStrategyItem).
    out["capacityProviderStrategy"] = keyed(
        ({"base": 0, "weight": 0, **{k: as_int(v) for k, v in c.items()}}
         for c in out.get("capacityProviderStrategy") or ()),
        lambda c: c.get("capacityProvider"))
    out["loadBalancers"] = keyed(
        (_load_balancer(lb) for lb in out.get("loadBalancers") or ()),
        _load_balancer_key)
    out["serviceRegistries"] = keyed(out.get("serviceRegistries") or (), lambda r: r.get("registryArn"))
    out["volumeConfigurations"] = keyed(out.get("volumeConfigurations") or (), lambda v: v.get("name"))
    out["placementConstraints"] = sorted_set(out.get("placementConstraints") or ())
    # placementStrategy stays ordered: rules apply in the order given (ecs-dg task-placement-strategies).
    out["tags"] = canonical_tags(out.get("tags"))
    return prune(out)
