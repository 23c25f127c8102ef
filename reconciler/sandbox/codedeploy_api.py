"""CodeDeploy actions answered by the fidelity layer (botocore codedeploy shapes).

moto 5.2.1 keeps applications and deployment groups; deployments, configs,
targets, stop and continue live here (reference aws-behaviour.md §3, §8).
Responses omit empty `previousRevision`, `errorInformation` and `rollbackInfo`,
as AWS does.
"""
from __future__ import annotations

import copy
import hashlib
import uuid
from typing import Any

import yaml

from reconciler.sandbox.codedeploy_engine import PREDEFINED_ECS_CONFIGS, SimCdDeployment
from reconciler.sandbox.ecs_api import containers_of
from reconciler.sandbox.state import SandboxState
from reconciler.sandbox.wsgi import CODEDEPLOY_PREFIX, AwsError, Handler, MotoCall

DEFAULT_ECS_CONFIG = "CodeDeployDefault.ECSAllAtOnce"


def _group(state: SandboxState, app: str, name: str) -> dict[str, Any]:
    group = state.groups.get((app, name))
    if group is None:
        raise AwsError("DeploymentGroupDoesNotExistException", f"No Deployment Group found for name: {name}")
    return group


def _deployment(state: SandboxState, dep_id: str) -> SimCdDeployment:
    dep = state.codedeploy.deployments.get(dep_id)
    if dep is None:
        raise AwsError("DeploymentDoesNotExistException", f"The deployment {dep_id} could not be found.")
    return dep


# ----- deployment groups (moto stores them; we keep the full request) ---------
def create_deployment_group(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    result = moto.checked(body)
    stored = copy.deepcopy(body)
    stored.setdefault("deploymentConfigName", DEFAULT_ECS_CONFIG if body.get("ecsServices") else "CodeDeployDefault.OneAtATime")
    stored["deploymentGroupId"] = result.get("deploymentGroupId", str(uuid.uuid4()))
    state.groups[(body["applicationName"], body["deploymentGroupName"])] = stored
    return result


def _group_info(stored: dict[str, Any]) -> dict[str, Any]:
    info = {k: v for k, v in stored.items() if k not in ("tags",)}
    info["computePlatform"] = "ECS" if stored.get("ecsServices") else "Server"
    return info


def get_deployment_group(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    stored = state.groups.get((body.get("applicationName", ""), body.get("deploymentGroupName", "")))
    if stored is None:
        return moto.checked(body)
    return {"deploymentGroupInfo": _group_info(stored)}


def update_deployment_group(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    stored = _group(state, body["applicationName"], body["currentDeploymentGroupName"])
    changes = {k: v for k, v in body.items() if k not in ("currentDeploymentGroupName", "newDeploymentGroupName")}
    stored.update(copy.deepcopy(changes))
    return {"hooksNotCleanedUp": []}


# ----- deployment configs ---------------------------------------------------
def _config_info(state: SandboxState, name: str) -> dict[str, Any]:
    if name in PREDEFINED_ECS_CONFIGS:
        return {"deploymentConfigName": name, "deploymentConfigId": f"predefined-{name}", "computePlatform": "ECS",
                "trafficRoutingConfig": PREDEFINED_ECS_CONFIGS[name], "createTime": 0.0}
    custom = state.codedeploy.custom_configs.get(name)
    if custom is None:
        raise AwsError("DeploymentConfigDoesNotExistException", f"The deployment configuration {name} could not be found.")
    return custom


def create_deployment_config(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    name = body["deploymentConfigName"]
    if name in PREDEFINED_ECS_CONFIGS or name in state.codedeploy.custom_configs:
        raise AwsError("DeploymentConfigAlreadyExistsException", f"A deployment configuration named {name} already exists.")
    config_id = str(uuid.uuid4())
    state.codedeploy.custom_configs[name] = {
        "deploymentConfigId": config_id, "deploymentConfigName": name,
        "computePlatform": body.get("computePlatform", "Server"),
        "trafficRoutingConfig": body.get("trafficRoutingConfig") or {"type": "AllAtOnce"},
        "createTime": state.clock.now(),
    }
    return {"deploymentConfigId": config_id}


def get_deployment_config(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    return {"deploymentConfigInfo": _config_info(state, body["deploymentConfigName"])}


def list_deployment_configs(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    return {"deploymentConfigsList": [*PREDEFINED_ECS_CONFIGS, *state.codedeploy.custom_configs]}


def delete_deployment_config(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    _config_info(state, body["deploymentConfigName"])
    state.codedeploy.custom_configs.pop(body["deploymentConfigName"], None)
    return {}


# ----- deployments ----------------------------------------------------------
def _appspec(revision: dict[str, Any]) -> dict[str, Any]:
    """Parse an AppSpecContent revision ([cd-ug] reference-appspec-file-structure-resources)."""
    if revision.get("revisionType") != "AppSpecContent":
        raise AwsError("InvalidRevisionException", "ECS deployments need revisionType AppSpecContent.")
    content = (revision.get("appSpecContent") or {}).get("content", "")
    sha = (revision.get("appSpecContent") or {}).get("sha256")
    if sha and hashlib.sha256(content.encode()).hexdigest() != sha:
        raise AwsError("InvalidRevisionException", "The AppSpec content does not match its sha256.")
    try:
        spec = yaml.safe_load(content)  # YAML is a superset of JSON
        target = spec["Resources"][0]["TargetService"]
        if target["Type"] != "AWS::ECS::Service":
            raise ValueError("not an ECS service")
        return dict(target["Properties"])
    except (yaml.YAMLError, KeyError, IndexError, TypeError, ValueError) as exc:
        raise AwsError("InvalidRevisionException", f"The AppSpec file is not valid: {exc}") from exc


def _appspec_network(props: dict[str, Any]) -> dict[str, Any] | None:
    """AppSpec NetworkConfiguration in DescribeServices' camelCase shape: CodeDeploy gives it
    to the replacement task set ([cd-ug] reference-appspec-file-structure-resources;
    [bc-ecs] TaskSet.networkConfiguration / AwsVpcConfiguration)."""
    vpc = (props.get("NetworkConfiguration") or {}).get("AwsvpcConfiguration")
    if not vpc:
        return None
    out: dict[str, Any] = {"subnets": list(vpc.get("Subnets") or [])}
    if vpc.get("SecurityGroups"):
        out["securityGroups"] = list(vpc["SecurityGroups"])
    out["assignPublicIp"] = str(vpc.get("AssignPublicIp") or "DISABLED")
    return {"awsvpcConfiguration": out}


def _appspec_capacity(props: dict[str, Any]) -> list[dict[str, Any]] | None:
    """AppSpec CapacityProviderStrategy as [bc-ecs] CapacityProviderStrategyItem (camelCase)."""
    items = props.get("CapacityProviderStrategy") or []
    renamed = (("CapacityProvider", "capacityProvider"), ("Weight", "weight"), ("Base", "base"))
    return [{new: item[old] for old, new in renamed if old in item} for item in items] or None


def create_deployment(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    app, group_name = body.get("applicationName", ""), body.get("deploymentGroupName", "")
    group = _group(state, app, group_name)
    props = _appspec(body.get("revision") or {})
    td = state.find_taskdef(str(props.get("TaskDefinition", "")))
    if td is None:
        raise AwsError("InvalidRevisionException", f"The task definition {props.get('TaskDefinition')} could not be found.")
    services = group.get("ecsServices") or []
    if not services:
        raise AwsError("InvalidDeploymentGroupNameException", "The deployment group has no ECS service.")
    svc = state.ecs.find_service(services[0]["clusterName"], services[0]["serviceName"])
    if svc is None or svc.controller != "CODE_DEPLOY":
        raise AwsError("InvalidECSServiceException", "The ECS service of the deployment group was not found.")
    with state.codedeploy.lock:
        active = state.codedeploy.active_in_group(app, group_name)
        if active is not None:
            raise AwsError("DeploymentLimitExceededException",
                           f"The Deployment Group '{group_name}' already has an active Deployment '{active.id}'")
        config_name = body.get("deploymentConfigName") or group.get("deploymentConfigName") or DEFAULT_ECS_CONFIG
        routing = _config_info(state, config_name)["trafficRoutingConfig"]
        dep = state.codedeploy.create(
            application=app, group=group_name, group_config=group, config_name=config_name, routing=routing,
            revision=body["revision"], service=svc, task_definition=td["taskDefinitionArn"],
            containers=containers_of(td), description=body.get("description"),
            network_configuration=_appspec_network(props), capacity_provider_strategy=_appspec_capacity(props),
        )
    return {"deploymentId": dep.id}


def render_deployment(state: SandboxState, dep: SimCdDeployment) -> dict[str, Any]:
    counts = {k: 0 for k in ("Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Ready")}
    counts[dep.target_status] = 1
    group = dep.group_config
    out: dict[str, Any] = {
        "applicationName": dep.application, "deploymentGroupName": dep.group,
        "deploymentConfigName": dep.config_name, "deploymentId": dep.id, "revision": dep.revision,
        "status": dep.status, "createTime": dep.created_at, "creator": dep.creator,
        "deploymentOverview": counts, "computePlatform": "ECS",
        "deploymentStyle": group.get("deploymentStyle") or {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        "deploymentStatusMessages": list(dep.messages),
        "instanceTerminationWaitTimeStarted": False,
        "ignoreApplicationStopFailures": False, "updateOutdatedInstancesOnly": False,
    }
    optional = {
        "startTime": dep.start_time, "completeTime": dep.complete_time, "description": dep.description,
        "errorInformation": dep.error, "rollbackInfo": dep.rollback_info,
        "autoRollbackConfiguration": group.get("autoRollbackConfiguration"),
        "blueGreenDeploymentConfiguration": group.get("blueGreenDeploymentConfiguration"),
        "loadBalancerInfo": group.get("loadBalancerInfo"),
    }
    out.update({k: v for k, v in optional.items() if v})
    return out


def get_deployment(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    return {"deploymentInfo": render_deployment(state, _deployment(state, body.get("deploymentId", "")))}


def batch_get_deployments(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    deps = state.codedeploy.deployments
    return {"deploymentsInfo": [render_deployment(state, deps[i]) for i in body.get("deploymentIds", []) if i in deps]}


def list_deployments(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    statuses = body.get("includeOnlyStatuses")
    ids = [d.id for d in sorted(state.codedeploy.deployments.values(), key=lambda d: d.created_at, reverse=True)
           if (not body.get("applicationName") or d.application == body["applicationName"])
           and (not body.get("deploymentGroupName") or d.group == body["deploymentGroupName"])
           and (not statuses or d.status in statuses)]
    return {"deployments": ids}


def stop_deployment(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    dep = _deployment(state, body.get("deploymentId", ""))
    if not dep.active:
        raise AwsError("DeploymentAlreadyCompletedException", f"The deployment {dep.id} has already completed.")
    state.codedeploy.stop(dep, body.get("autoRollbackEnabled"))
    return {"status": "Succeeded", "statusMessage": f"Deployment {dep.id} stopped."}


def continue_deployment(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    dep = _deployment(state, body.get("deploymentId", ""))
    try:
        state.codedeploy.continue_(dep, body.get("deploymentWaitType", "READY_WAIT"))
    except ValueError as exc:
        raise AwsError("DeploymentIsNotInReadyStateException", str(exc)) from exc
    state.tick()
    return {}


def _target_id(dep: SimCdDeployment) -> str:
    return f"{dep.service.cluster_name}:{dep.service.name}"


def _ecs_target(state: SandboxState, dep: SimCdDeployment) -> dict[str, Any]:
    svc, weights = dep.service, state.codedeploy.traffic_weights(dep)
    tg_pairs = ((dep.group_config.get("loadBalancerInfo") or {}).get("targetGroupPairInfoList") or [{}])
    tg_names = [tg.get("name") for tg in tg_pairs[0].get("targetGroups", [])]
    sets = []
    for label, ts in (("Blue", dep.original), ("Green", dep.replacement)):
        if ts is None or ts.id not in weights:
            continue
        info: dict[str, Any] = {
            "identifer": ts.id,  # sic: the field name in the botocore codedeploy model
            "desiredCount": state.ecs.computed_desired(svc, ts), "pendingCount": ts.pending,
            "runningCount": ts.running, "status": ts.status if ts in svc.task_sets else "INACTIVE",
            "trafficWeight": weights[ts.id], "taskSetLabel": label,
        }
        index = 0 if label == "Blue" else 1
        if len(tg_names) > index:
            info["targetGroup"] = {"name": tg_names[index]}
        sets.append(info)
    return {
        "deploymentId": dep.id, "targetId": _target_id(dep), "targetArn": svc.arn, "lastUpdatedAt": dep.updated_at,
        "lifecycleEvents": list(dep.events.values()), "status": dep.target_status, "taskSetsInfo": sets,
    }


def list_deployment_targets(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    return {"targetIds": [_target_id(_deployment(state, body.get("deploymentId", "")))]}


def batch_get_deployment_targets(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    dep = _deployment(state, body.get("deploymentId", ""))
    wanted = body.get("targetIds") or [_target_id(dep)]
    return {"deploymentTargets": [{"deploymentTargetType": "ECSTarget", "ecsTarget": _ecs_target(state, dep)}
                                  for target in wanted if target == _target_id(dep)]}


def get_deployment_target(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    dep = _deployment(state, body.get("deploymentId", ""))
    return {"deploymentTarget": {"deploymentTargetType": "ECSTarget", "ecsTarget": _ecs_target(state, dep)}}


def put_lifecycle_event_hook_execution_status(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    _deployment(state, body.get("deploymentId", ""))
    return {"lifecycleEventHookExecutionId": body.get("lifecycleEventHookExecutionId", "")}


HANDLERS: dict[str, Handler] = {
    f"{CODEDEPLOY_PREFIX}.{name}": fn for name, fn in {
        "CreateDeploymentGroup": create_deployment_group,
        "GetDeploymentGroup": get_deployment_group,
        "UpdateDeploymentGroup": update_deployment_group,
        "CreateDeploymentConfig": create_deployment_config,
        "GetDeploymentConfig": get_deployment_config,
        "ListDeploymentConfigs": list_deployment_configs,
        "DeleteDeploymentConfig": delete_deployment_config,
        "CreateDeployment": create_deployment,
        "GetDeployment": get_deployment,
        "BatchGetDeployments": batch_get_deployments,
        "ListDeployments": list_deployments,
        "StopDeployment": stop_deployment,
        "ContinueDeployment": continue_deployment,
        "ListDeploymentTargets": list_deployment_targets,
        "BatchGetDeploymentTargets": batch_get_deployment_targets,
        "GetDeploymentTarget": get_deployment_target,
        "PutLifecycleEventHookExecutionStatus": put_lifecycle_event_hook_execution_status,
    }.items()
}
