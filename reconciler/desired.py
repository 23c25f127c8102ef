"""What the reconciler asks AWS for, given a spec: the manifest plus the reconciler's own defaults.

The diff and the apply step both read the desired service from here, so the
reconciler never reports drift against a value it sends itself (for example the
deployment circuit breaker it turns on when the manifest says nothing). Pure.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from reconciler.model import ServiceSpec, deployment_controller

#: On unless the manifest says otherwise: a failing rollout stops and rolls back by itself
#: ([ecs-dg] deployment-circuit-breaker; issue 4 "the circuit breaker with rollback is on").
DEFAULT_CIRCUIT_BREAKER = {"enable": True, "rollback": True}

#: What AWS holds when a field is not set ([bc-ecs] CreateServiceRequest / UpdateServiceRequest
#: member docs; aws-behaviour.md §2). When git stops setting one of these, UpdateService sends
#: this value, so that AWS matches the default the normalizer assumes for an absent field.
RESET_VALUES: Mapping[str, Any] = {
    "healthCheckGracePeriodSeconds": 0,
    "enableExecuteCommand": False,
    "enableECSManagedTags": False,
    "propagateTags": "NONE",
    "platformVersion": "LATEST",
    "serviceConnectConfiguration": {"enabled": False},
}


def with_circuit_breaker(config: Mapping[str, Any] | None) -> dict[str, Any]:
    out = copy.deepcopy(dict(config or {}))
    out.setdefault("deploymentCircuitBreaker", dict(DEFAULT_CIRCUIT_BREAKER))
    return out


def is_code_deploy(spec: ServiceSpec | None, live: Mapping[str, Any] | None = None) -> bool:
    if live is not None:
        return deployment_controller(live) == "CODE_DEPLOY"
    if spec is None:
        return False
    return deployment_controller(spec.service, spec.gitops.strategy) == "CODE_DEPLOY"


def controller_move_problem(spec: ServiceSpec, live: Mapping[str, Any]) -> str | None:
    """Why git's controller cannot be reached from the live one with UpdateService, and the two
    commits that get there; None when it can. AWS allows CODE_DEPLOY -> ECS, CODE_DEPLOY/ECS ->
    EXTERNAL and EXTERNAL -> ECS, and has no path to CODE_DEPLOY [DG:update-service-parameters]."""
    have = deployment_controller(live)
    if have == "CODE_DEPLOY" or not is_code_deploy(spec):
        return None
    return (f"the live service uses the {have} deployment controller and AWS has no path to CODE_DEPLOY: "
            "either keep ECS and use deploymentConfiguration.strategy: BLUE_GREEN, or take two commits: "
            "first remove the service from git (deleted by prune), then add it back with the CODE_DEPLOY settings")


def declared_service(spec: ServiceSpec) -> dict[str, Any]:
    """git's service with the controller its strategy implies made explicit (blue-green: CODE_DEPLOY),
    so the diff sees what AWS will report. The loader leaves the manifest as written."""
    service = copy.deepcopy(dict(spec.service))
    controller = deployment_controller(service, spec.gitops.strategy)
    if controller != "ECS":
        service["deploymentController"] = {**(service.get("deploymentController") or {}), "type": controller}
    return service


def desired_service(spec: ServiceSpec) -> dict[str, Any]:
    """The service fields the reconciler sends for `spec` (CreateService shape, no taskDefinition)."""
    service = declared_service(spec)
    if deployment_controller(service) == "ECS":
        service["deploymentConfiguration"] = with_circuit_breaker(service.get("deploymentConfiguration"))
    return service
