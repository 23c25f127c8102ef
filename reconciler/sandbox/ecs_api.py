"""ECS actions answered by the fidelity layer (botocore ecs service model shapes).

Defaults and limits cite reference aws-behaviour.md §1-§3: DescribeServices
defaults (developer guide service_definition_parameters; botocore
`DeploymentConfiguration`), the 10-services limit and MISSING failures
(botocore `DescribeServicesRequest.services`), the CODE_DEPLOY UpdateService
refusal text (as AWS answers it, fabfuel/ecs-deploy#120).
"""
from __future__ import annotations

import base64
import copy
from typing import Any

from reconciler.sandbox import moto_compat
from reconciler.sandbox.ecs_engine import SimDeployment, SimService, SimTask, SimTaskSet, TaskGroup
from reconciler.sandbox.service_deployments import is_native
from reconciler.sandbox.state import SandboxState
from reconciler.sandbox.taskdefs import aws_task_definition, convert_cpu, convert_memory
from reconciler.sandbox.wsgi import ECS_PREFIX, AwsError, Handler, MotoCall

DEFAULT_DEPLOYMENT_CONFIGURATION: dict[str, Any] = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}
CODE_DEPLOY_TASKDEF_REFUSAL = (
    "Unable to update task definition on services with a CODE_DEPLOY deployment controller. "
    "Use AWS CodeDeploy to trigger a new deployment."
)
# UpdateService parameters that need a new deployment (deployment-type-ecs).
_REDEPLOY_KEYS = ("networkConfiguration", "loadBalancers", "platformVersion", "capacityProviderStrategy",
                  "placementConstraints", "placementStrategy", "serviceRegistries")
# Attributes echoed in DescribeServices as sent.
_ATTRIBUTES = ("loadBalancers", "serviceRegistries", "launchType", "capacityProviderStrategy", "platformVersion",
               "networkConfiguration", "placementConstraints", "placementStrategy", "healthCheckGracePeriodSeconds",
               "schedulingStrategy", "enableECSManagedTags", "propagateTags", "enableExecuteCommand",
               "serviceConnectConfiguration", "volumeConfigurations", "availabilityZoneRebalancing")


def cluster_name(ref: str | None) -> str:
    return (ref or "default").split("/")[-1]


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in (over or {}).items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else copy.deepcopy(value)
    return out


def containers_of(td: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["name"], c.get("image", "")) for c in td.get("containerDefinitions", [])]


def _taskdef(state: SandboxState, ref: str) -> dict[str, Any]:
    td = state.find_taskdef(ref)
    if td is None:
        raise AwsError("ClientException", "Unable to describe task definition.")
    return td


# ----- task definitions -----------------------------------------------------
def register_task_definition(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    request = dict(body)
    request["cpu"], request["memory"] = convert_cpu(body.get("cpu")), convert_memory(body.get("memory"))
    request = {k: v for k, v in request.items() if v is not None}
    created = moto.checked(request)["taskDefinition"]
    td = aws_task_definition(body, arn=created["taskDefinitionArn"], revision=created["revision"],
                             registered_at=state.clock.now(), registered_by=state.principal)
    state.taskdefs[td["taskDefinitionArn"]] = td
    out: dict[str, Any] = {"taskDefinition": td}
    if body.get("tags"):
        out["tags"] = body["tags"]
    return out


def describe_task_definition(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    td = _taskdef(state, body.get("taskDefinition", ""))
    out: dict[str, Any] = {"taskDefinition": td}
    if "TAGS" in (body.get("include") or []):
        out["tags"] = moto_compat.ecs_backend(state.account, state.region).list_tags_for_resource(td["taskDefinitionArn"])
    return out


def list_task_definitions(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    """moto's answer (exact family, `status` filter, revisions in order; sort and maxResults are not
    simulated), from the one family's revisions when `familyPrefix` is given."""
    if not body.get("familyPrefix"):
        return moto.checked(body)
    return {"taskDefinitionArns": moto_compat.family_task_definition_arns(
        state.account, state.region, body["familyPrefix"], body.get("status", "ACTIVE"))}


def deregister_task_definition(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    td = _taskdef(state, body.get("taskDefinition", ""))
    moto.checked({"taskDefinition": td["taskDefinitionArn"]})
    td["status"] = "INACTIVE"
    td["deregisteredAt"] = state.clock.now()
    return {"taskDefinition": td}


# ----- services -------------------------------------------------------------
def create_service(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    td = _taskdef(state, body.get("taskDefinition", ""))
    forwarded = copy.deepcopy(body)
    forwarded["taskDefinition"] = td["taskDefinitionArn"]
    vpc = (forwarded.get("networkConfiguration") or {}).get("awsvpcConfiguration")
    if vpc is not None:
        vpc.setdefault("securityGroups", [])  # moto 5.2.1 answers 500 without it; AWS accepts it
    created = moto.checked(forwarded)["service"]
    controller = (body.get("deploymentController") or {}).get("type", "ECS")
    attributes = {k: copy.deepcopy(body[k]) for k in _ATTRIBUTES if k in body}
    svc = state.ecs.create_service(
        arn=created["serviceArn"], name=body["serviceName"], cluster_arn=created["clusterArn"],
        cluster_name=cluster_name(body.get("cluster")), task_definition=td["taskDefinitionArn"],
        containers=containers_of(td), desired_count=int(body.get("desiredCount", 0)), controller=controller,
        deployment_configuration=_merge(DEFAULT_DEPLOYMENT_CONFIGURATION, body.get("deploymentConfiguration") or {}),
        attributes=attributes, created_by=state.principal, cpu=td.get("cpu"), memory=td.get("memory"),
    )
    if is_native(svc):  # hooks run during CreateService too [DG:deployment-lifecycle-hooks]
        state.native.begin(svc, svc.deployments[0], state.clock.now())
    out = render_service(state, svc)
    if body.get("tags"):
        out["tags"] = body["tags"]
    return {"service": out}


def _service(state: SandboxState, body: dict[str, Any]) -> SimService:
    svc = state.ecs.find_service(cluster_name(body.get("cluster")), body.get("service", ""))
    if svc is None:
        raise AwsError("ServiceNotFoundException", "Service not found.")
    return svc


def update_service(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    svc = _service(state, body)
    with state.ecs.lock:
        td = _taskdef(state, body["taskDefinition"]) if body.get("taskDefinition") else None
        _change_controller(state, svc, (body.get("deploymentController") or {}).get("type"))
        if svc.controller == "CODE_DEPLOY" and td and td["taskDefinitionArn"] != svc.task_definition:
            raise AwsError("InvalidParameterException", CODE_DEPLOY_TASKDEF_REFUSAL)
        if "deploymentConfiguration" in body:
            svc.deployment_configuration = _merge(svc.deployment_configuration, body["deploymentConfiguration"])
            # Our choice: a step configuration of another strategy does not survive a strategy change
            # (botocore: linearConfiguration "only valid when strategy is LINEAR", likewise canary).
            strategy = svc.deployment_configuration.get("strategy")
            for key, owner in (("linearConfiguration", "LINEAR"), ("canaryConfiguration", "CANARY")):
                if strategy != owner and key not in body["deploymentConfiguration"]:
                    svc.deployment_configuration.pop(key, None)
        redeploy = bool(body.get("forceNewDeployment")) or any(
            k in body and body[k] != svc.attributes.get(k) for k in _REDEPLOY_KEYS)
        for key in _ATTRIBUTES:
            if key in body:
                svc.attributes[key] = copy.deepcopy(body[key])
        if "desiredCount" in body:
            state.ecs.set_desired_count(svc, int(body["desiredCount"]))
        if td and td["taskDefinitionArn"] != svc.task_definition:
            redeploy = True
            svc.cpu, svc.memory = td.get("cpu"), td.get("memory")
        if redeploy and svc.controller == "ECS":
            target = td or state.taskdefs.get(svc.task_definition) or {}
            dep = state.ecs.start_deployment(svc, target.get("taskDefinitionArn", svc.task_definition),
                                             containers_of(target) if target else svc.containers)
            if is_native(svc):
                state.native.begin(svc, dep, state.clock.now())
    return {"service": render_service(state, svc)}


def _change_controller(state: SandboxState, svc: SimService, wanted: str | None) -> None:
    """UpdateService deploymentController [DG:update-service-parameters]: CODE_DEPLOY -> ECS is
    allowed when no deployment is ongoing; there is no path to CODE_DEPLOY. Other moves
    (EXTERNAL) are not simulated. Messages are our choice (AWS documents none)."""
    if wanted is None or wanted == svc.controller:
        return
    if wanted == "CODE_DEPLOY":
        raise AwsError("InvalidParameterException", "Cannot update a service to the CODE_DEPLOY deployment controller.")
    if not (svc.controller == "CODE_DEPLOY" and wanted == "ECS"):
        raise AwsError("InvalidParameterException",
                       f"The sandbox does not simulate moving from {svc.controller} to {wanted}.")
    if any(d.active and d.service is svc for d in state.codedeploy.deployments.values()):
        raise AwsError("InvalidParameterException",
                       "Cannot change the deployment controller while a deployment is in progress.")
    state.ecs.move_to_ecs_controller(svc)


def describe_services(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    names = body.get("services") or []
    if len(names) > 10:
        raise AwsError("InvalidParameterException", "services can have at most 10 items")
    cluster = cluster_name(body.get("cluster"))
    services, failures = [], []
    for name in names:
        # Deleted services stay describable as INACTIVE (ECS API DescribeServices).
        svc = state.ecs.find_service(cluster, name, include_inactive=True)
        if svc is None:
            arn = name if name.startswith("arn:") else f"arn:aws:ecs:{state.region}:{state.account}:service/{cluster}/{name}"
            failures.append({"arn": arn, "reason": "MISSING"})
            continue
        out = render_service(state, svc)
        if "TAGS" in (body.get("include") or []):
            out["tags"] = moto_compat.ecs_service_tags(state.account, state.region, svc.cluster_name, svc.name, svc.arn)
        services.append(out)
    return {"services": services, "failures": failures}


def list_services(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    cluster = cluster_name(body.get("cluster"))
    arns = [svc.arn for svc in state.ecs.services.values()
            if svc.cluster_name == cluster and svc.status == "ACTIVE"
            and (not body.get("launchType") or svc.attributes.get("launchType") == body["launchType"])
            and (not body.get("schedulingStrategy")
                 or svc.attributes.get("schedulingStrategy", "REPLICA") == body["schedulingStrategy"])]
    return paginate(arns, body, "serviceArns")


#: botocore ecs `ListServicesRequest.maxResults`: "between 1 and 100. If this parameter isn't used,
#: then ListServices returns up to 10 results and a nextToken value if applicable."
LIST_SERVICES_DEFAULT, LIST_SERVICES_MAX = 10, 100


def paginate(items: list[Any], body: dict[str, Any], key: str, default: int = LIST_SERVICES_DEFAULT) -> dict[str, Any]:
    """One page of `items` as ECS List* answers it; the token is opaque to callers (an offset here)."""
    limit = body.get("maxResults", default)
    if not isinstance(limit, int) or not 1 <= limit <= LIST_SERVICES_MAX:
        raise AwsError("InvalidParameterException", f"maxResults must be between 1 and {LIST_SERVICES_MAX}.")
    token = body.get("nextToken")
    try:
        start = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
    except ValueError as exc:  # covers binascii.Error and UnicodeDecodeError
        raise AwsError("InvalidParameterException", "Invalid nextToken.") from exc
    out: dict[str, Any] = {key: items[start:start + limit]}
    if start + limit < len(items):
        out["nextToken"] = base64.urlsafe_b64encode(str(start + limit).encode()).decode()
    return out


def delete_service(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    svc = _service(state, body)
    # moto never sees our desiredCount updates: decide its scale-down check from ours.
    moto.checked({**body, "force": bool(body.get("force")) or svc.desired_count == 0})
    with state.ecs.lock:
        out = render_service(state, svc)
        for group in [*svc.deployments, *svc.task_sets]:
            state.ecs._stop_tasks(svc, group, list(group.tasks), state.clock.now(),
                                  "Service deleted", "ServiceSchedulerInitiated")
        svc.status = "INACTIVE"
        svc.next_step_at = None
        out["status"] = "DRAINING"
    return {"service": out}


def _retag(state: SandboxState, body: dict[str, Any], moto: MotoCall, field: str) -> dict[str, Any]:
    """moto's TagResource / UntagResource; a service's tags are found without moto's scan of every service."""
    change = body.get(field)
    add, remove = (change, None) if field == "tags" else (None, change)
    if change is None or not moto_compat.retag_ecs_service(state.account, state.region, body.get("resourceArn", ""),
                                                           add, remove):
        return moto.checked(body)
    return {}


def tag_resource(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    return _retag(state, body, moto, "tags")


def untag_resource(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    return _retag(state, body, moto, "tagKeys")


def _deployment(dep: SimDeployment, rolling: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": dep.id, "status": dep.status, "taskDefinition": dep.task_definition,
        "desiredCount": dep.desired_count, "pendingCount": dep.pending, "runningCount": dep.running,
        "failedTasks": dep.failed_tasks, "createdAt": dep.created_at, "updatedAt": dep.updated_at,
    }
    if rolling:  # "only returned for services that use the rolling update (ECS) deployment type" [BC]
        out["rolloutState"], out["rolloutStateReason"] = dep.rollout_state, dep.rollout_state_reason
    return _placement_fields(out, dep)


def _placement_fields(out: dict[str, Any], group: TaskGroup) -> dict[str, Any]:
    """launchType, platform, network and capacity providers of a deployment or task set, only when set."""
    if group.launch_type:
        out["launchType"] = group.launch_type
    if group.platform_version:
        out["platformVersion"], out["platformFamily"] = group.platform_version, "Linux"
    if group.network_configuration:
        out["networkConfiguration"] = group.network_configuration
    if group.capacity_provider_strategy:  # [bc-ecs] Deployment/TaskSet.capacityProviderStrategy
        out["capacityProviderStrategy"] = group.capacity_provider_strategy
    return out


def render_task_set(state: SandboxState, svc: SimService, ts: SimTaskSet) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": ts.id, "taskSetArn": ts.arn, "serviceArn": svc.arn, "clusterArn": svc.cluster_arn,
        "status": ts.status, "taskDefinition": ts.task_definition,
        "computedDesiredCount": state.ecs.computed_desired(svc, ts),
        "pendingCount": ts.pending, "runningCount": ts.running,
        "createdAt": ts.created_at, "updatedAt": ts.updated_at,
        "loadBalancers": ts.load_balancers, "serviceRegistries": [],
        "scale": {"value": ts.scale, "unit": "PERCENT"},
        "stabilityStatus": ts.stability_status, "stabilityStatusAt": ts.stability_status_at, "tags": [],
    }
    if ts.started_by:
        out["startedBy"] = ts.started_by
    if ts.external_id:
        out["externalId"] = ts.external_id
    return _placement_fields(out, ts)


def render_service(state: SandboxState, svc: SimService) -> dict[str, Any]:
    attrs = svc.attributes
    groups = svc.deployments or svc.task_sets
    out: dict[str, Any] = {
        "serviceArn": svc.arn, "serviceName": svc.name, "clusterArn": svc.cluster_arn,
        "loadBalancers": attrs.get("loadBalancers", []), "serviceRegistries": attrs.get("serviceRegistries", []),
        "status": svc.status, "desiredCount": svc.desired_count,
        "runningCount": sum(g.running for g in groups), "pendingCount": sum(g.pending for g in groups),
        "taskDefinition": svc.task_definition,
        "deploymentConfiguration": svc.deployment_configuration,
        "deployments": [_deployment(d, rolling=not is_native(svc)) for d in svc.deployments],
        "roleArn": f"arn:aws:iam::{state.account}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS",
        "events": list(svc.events),
        "createdAt": svc.created_at,
        "placementConstraints": attrs.get("placementConstraints", []),
        "placementStrategy": attrs.get("placementStrategy", []),
        "healthCheckGracePeriodSeconds": attrs.get("healthCheckGracePeriodSeconds", 0),
        "schedulingStrategy": attrs.get("schedulingStrategy", "REPLICA"),
        "deploymentController": {"type": svc.controller},
        "createdBy": svc.created_by,
        "enableECSManagedTags": attrs.get("enableECSManagedTags", False),
        "propagateTags": attrs.get("propagateTags", "NONE"),
        "enableExecuteCommand": attrs.get("enableExecuteCommand", False),
    }
    for key in ("launchType", "capacityProviderStrategy", "networkConfiguration",
                "serviceConnectConfiguration", "volumeConfigurations", "availabilityZoneRebalancing"):
        if key in attrs:
            out[key] = attrs[key]
    if attrs.get("launchType") == "FARGATE":
        out["platformVersion"] = attrs.get("platformVersion", "LATEST")
        out["platformFamily"] = "Linux"
    if svc.controller != "ECS":
        out["taskSets"] = [render_task_set(state, svc, ts) for ts in svc.task_sets]
    current = state.native.current(svc)
    if current is not None:  # [BC] Service.currentServiceDeployment / currentServiceRevisions
        out["currentServiceDeployment"] = current.arn
        out["currentServiceRevisions"] = [
            {"arn": r.arn, "requestedTaskCount": r.group.desired_count if r.group.status != "INACTIVE" else 0,
             "runningTaskCount": r.group.running, "pendingTaskCount": r.group.pending}
            for r in state.native.serving_revisions(svc)]
    return out


# ----- tasks and task sets --------------------------------------------------
def render_task(task: SimTask) -> dict[str, Any]:
    containers = []
    for name, image in task.containers:
        container: dict[str, Any] = {
            "containerArn": f"{task.arn.replace(':task/', ':container/')}/{name}", "taskArn": task.arn,
            "name": name, "image": image, "lastStatus": task.last_status, "networkInterfaces": [],
        }
        if task.container_reason:
            container["reason"] = task.container_reason
        containers.append(container)
    out: dict[str, Any] = {
        "taskArn": task.arn, "clusterArn": task.cluster_arn, "taskDefinitionArn": task.task_definition,
        "containers": containers, "lastStatus": task.last_status, "desiredStatus": task.desired_status,
        "group": task.group, "startedBy": task.started_by, "createdAt": task.created_at,
        "availabilityZone": "eu-west-1a", "attachments": [], "tags": [], "version": 1,
    }
    optional = {"launchType": task.launch_type, "cpu": task.cpu, "memory": task.memory,
                "startedAt": task.started_at, "stoppedAt": task.stopped_at, "stoppingAt": task.stopped_at,
                "stoppedReason": task.stopped_reason, "stopCode": task.stop_code}
    out.update({k: v for k, v in optional.items() if v is not None})
    return out


def list_tasks(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    cluster = cluster_name(body.get("cluster"))
    desired = body.get("desiredStatus", "RUNNING")
    family = body.get("family")
    arns = []
    named = state.ecs.find_service(cluster, body["serviceName"], include_inactive=True) \
        if body.get("serviceName") else None
    if body.get("serviceName") and named is None:
        return {"taskArns": arns}
    # The narrowest index that holds every candidate; the filters below decide as before.
    rows = state.ecs.tasks(named) if named or not body.get("startedBy") \
        else state.ecs.tasks_started_by(body["startedBy"])
    for task, svc in rows:
        if svc is None or svc.cluster_name != cluster or task.desired_status != desired:
            continue
        if body.get("serviceName") and body["serviceName"] not in (svc.name, svc.arn):
            continue
        if body.get("startedBy") and task.started_by != body["startedBy"]:
            continue
        if family and task.task_definition.split("/")[-1].split(":")[0] != family:
            continue
        arns.append(task.arn)
    return {"taskArns": arns}


def describe_tasks(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    tasks, failures = [], []
    for ref in body.get("tasks") or []:
        task = state.ecs.find_task(ref)
        if task is None:
            failures.append({"arn": ref, "reason": "MISSING"})
        else:
            tasks.append(render_task(task))
    return {"tasks": tasks, "failures": failures}


def describe_task_sets(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    svc = _service(state, body)
    wanted = body.get("taskSets")
    sets = [render_task_set(state, svc, ts) for ts in svc.task_sets
            if not wanted or ts.id in wanted or ts.arn in wanted]
    return {"taskSets": sets, "failures": []}


HANDLERS: dict[str, Handler] = {
    f"{ECS_PREFIX}.RegisterTaskDefinition": register_task_definition,
    f"{ECS_PREFIX}.DescribeTaskDefinition": describe_task_definition,
    f"{ECS_PREFIX}.DeregisterTaskDefinition": deregister_task_definition,
    f"{ECS_PREFIX}.ListTaskDefinitions": list_task_definitions,
    f"{ECS_PREFIX}.CreateService": create_service,
    f"{ECS_PREFIX}.UpdateService": update_service,
    f"{ECS_PREFIX}.DescribeServices": describe_services,
    f"{ECS_PREFIX}.DeleteService": delete_service,
    f"{ECS_PREFIX}.ListServices": list_services,
    f"{ECS_PREFIX}.TagResource": tag_resource,
    f"{ECS_PREFIX}.UntagResource": untag_resource,
    f"{ECS_PREFIX}.ListTasks": list_tasks,
    f"{ECS_PREFIX}.DescribeTasks": describe_tasks,
    f"{ECS_PREFIX}.DescribeTaskSets": describe_task_sets,
}
