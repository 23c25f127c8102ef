"""Service-deployment and service-revision actions (botocore 1.43.11 ecs model shapes [BC]).

ListServiceDeployments: `service` required, `status[]` and `createdAt {before, after}`
filters, `maxResults` 1-100 (default 20), `nextToken`; DescribeServiceDeployments and
DescribeServiceRevisions take at most 20 ARNs and report unknown ones as `MISSING`
failures; StopServiceDeployment (`ROLLBACK`, ConflictException once completed) and
ContinueServiceDeployment (only while the hook is AWAITING_ACTION and the deployment
IN_PROGRESS) [DG:stop-service-deployment, DG:continue-service-deployment].
Our choice: ListServiceDeployments answers newest first (AWS documents no order);
error messages are ours (AWS documents none).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reconciler.sandbox.ecs_api import _service, paginate
from reconciler.sandbox.ecs_engine import breaker_threshold
from reconciler.sandbox.service_deployments import SimRevision, SimServiceDeployment
from reconciler.sandbox.state import SandboxState
from reconciler.sandbox.wsgi import ECS_PREFIX, AwsError, Handler, MotoCall

LIST_DEFAULT, DESCRIBE_MAX = 20, 20


def _summary(revision: SimRevision, production: float | None, test: float | None) -> dict[str, Any]:
    group = revision.group
    out: dict[str, Any] = {"arn": revision.arn, "requestedTaskCount": group.desired_count if group.status != "INACTIVE" else 0,
                           "runningTaskCount": group.running, "pendingTaskCount": group.pending}
    if production is not None:
        out["requestedProductionTrafficWeight"] = production
    if test is not None:
        out["requestedTestTrafficWeight"] = test
    return out


def render_deployment(state: SandboxState, dep: SimServiceDeployment) -> dict[str, Any]:
    svc = dep.service
    shifting = dep.target.target_group is not None and dep.source is not None
    green_prod = dep.prod_weight if shifting else (100.0 if dep.status == "SUCCESSFUL" else 0.0)
    out: dict[str, Any] = {
        "serviceDeploymentArn": dep.arn, "serviceArn": svc.arn, "clusterArn": svc.cluster_arn,
        "createdAt": dep.created_at, "updatedAt": dep.updated_at, "status": dep.status,
        "deploymentConfiguration": dep.config,
        "targetServiceRevision": _summary(dep.target, green_prod, dep.test_weight),
        "sourceServiceRevisions": [_summary(r, 100.0 - green_prod, 100.0 - dep.test_weight) for r in dep.sources],
        "deploymentCircuitBreaker": {
            "status": dep.breaker_status, "failureCount": dep.failure_count,
            "threshold": _threshold(state, dep)},
        "alarms": {"status": dep.alarms_status, "alarmNames": list((dep.config.get("alarms") or {}).get("alarmNames") or []),
                   "triggeredAlarmNames": list(dep.triggered_alarms)},
    }
    optional = {"startedAt": dep.started_at, "finishedAt": dep.finished_at, "stoppedAt": dep.stopped_at,
                "statusReason": dep.status_reason, "lifecycleStage": dep.stage, "rollback": dep.rollback}
    out.update({k: v for k, v in optional.items() if v is not None})
    if dep.hooks:
        out["lifecycleHookDetails"] = [
            {k: v for k, v in {"hookId": h.hook_id, "targetType": h.target_type, "targetArn": h.target_arn,
                               "status": h.status, "expiresAt": h.expires_at,
                               "timeoutAction": h.timeout_action}.items() if v is not None}
            for h in dep.hooks]
    return out


def _threshold(state: SandboxState, dep: SimServiceDeployment) -> int:
    return breaker_threshold(dep.service.desired_count, state.ecs.breaker_min)


def _find(state: SandboxState, arn: str) -> SimServiceDeployment:
    dep = state.native.deployments.get(arn or "")
    if dep is None:
        raise AwsError("ServiceDeploymentNotFoundException", f"Service deployment {arn} was not found.")
    return dep


def _arns(body: dict[str, Any], key: str) -> list[str]:
    arns = body.get(key) or []
    if not arns or len(arns) > DESCRIBE_MAX:
        raise AwsError("InvalidParameterException", f"{key} must have between 1 and {DESCRIBE_MAX} items.")
    return list(arns)


def list_service_deployments(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    svc = _service(state, body)
    wanted = set(body.get("status") or [])
    created = body.get("createdAt") or {}
    before, after = created.get("before"), created.get("after")
    deps = [d for d in reversed(state.native.by_service.get(svc.arn) or [])
            if (not wanted or d.status in wanted)
            and (before is None or d.created_at < float(before)) and (after is None or d.created_at > float(after))]
    briefs = [{k: v for k, v in {
        "serviceDeploymentArn": d.arn, "serviceArn": svc.arn, "clusterArn": svc.cluster_arn,
        "startedAt": d.started_at, "createdAt": d.created_at, "finishedAt": d.finished_at,
        "targetServiceRevisionArn": d.target.arn, "status": d.status, "statusReason": d.status_reason,
    }.items() if v is not None} for d in deps]
    return paginate(briefs, body, "serviceDeployments", default=LIST_DEFAULT)


def _describe(body: dict[str, Any], key: str, lookup: Callable[[str], Any],
              render: Callable[[Any], dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The Describe* shape shared by both calls: the found items, and a MISSING failure per unknown ARN."""
    found, failures = [], []
    for arn in _arns(body, key):
        item = lookup(arn)
        if item is None:
            failures.append({"arn": arn, "reason": "MISSING"})
        else:
            found.append(render(item))
    return found, failures


def describe_service_deployments(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    found, failures = _describe(body, "serviceDeploymentArns", state.native.deployments.get,
                                lambda dep: render_deployment(state, dep))
    return {"serviceDeployments": found, "failures": failures}


def describe_service_revisions(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    found, failures = _describe(body, "serviceRevisionArns", state.native.revisions.get, _render_revision)
    return {"serviceRevisions": found, "failures": failures}


def _render_revision(revision: SimRevision) -> dict[str, Any]:
    svc = revision.service
    out = {"serviceRevisionArn": revision.arn, "serviceArn": svc.arn, "clusterArn": svc.cluster_arn,
           "createdAt": revision.created_at, **revision.attributes}
    if revision.target_group:
        out["resolvedConfiguration"] = {"loadBalancers": [
            {k: v for k, v in {"targetGroupArn": revision.target_group,
                               "productionListenerRule": revision.listener_rule}.items() if v}]}
    return out


def stop_service_deployment(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    dep = _find(state, body.get("serviceDeploymentArn", ""))
    stop_type = body.get("stopType") or "ROLLBACK"
    if stop_type not in ("ROLLBACK", "ABORT"):
        raise AwsError("InvalidParameterException", f"Invalid stopType {stop_type!r}.")
    if not dep.ongoing:
        raise AwsError("ConflictException", f"Service deployment {dep.arn} is already {dep.status}.")
    state.native.stop(dep, stop_type)
    return {"serviceDeploymentArn": dep.arn}


def continue_service_deployment(state: SandboxState, body: dict[str, Any], moto: MotoCall) -> dict[str, Any]:
    dep = _find(state, body.get("serviceDeploymentArn", ""))
    action = body.get("action") or "CONTINUE"
    if action not in ("CONTINUE", "ROLLBACK"):
        raise AwsError("InvalidParameterException", f"Invalid action {action!r}.")
    try:
        state.native.continue_hook(dep, str(body.get("hookId") or ""), action)
    except ValueError as exc:
        raise AwsError("InvalidParameterException", str(exc)) from exc
    return {"serviceDeploymentArn": dep.arn}


HANDLERS: dict[str, Handler] = {
    f"{ECS_PREFIX}.ListServiceDeployments": list_service_deployments,
    f"{ECS_PREFIX}.DescribeServiceDeployments": describe_service_deployments,
    f"{ECS_PREFIX}.DescribeServiceRevisions": describe_service_revisions,
    f"{ECS_PREFIX}.StopServiceDeployment": stop_service_deployment,
    f"{ECS_PREFIX}.ContinueServiceDeployment": continue_service_deployment,
}
