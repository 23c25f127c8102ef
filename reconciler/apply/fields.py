"""Which CreateService/UpdateService parameters to send, from a plan. Pure.

UpdateService gets only the top-level fields the diff found different, so an
unchanged networkConfiguration never triggers a needless deployment
(aws-behaviour.md §2: changing network, load balancers, placement... starts a
new deployment; desiredCount alone does not).
"""
from __future__ import annotations

import copy
from typing import Any, Mapping

from reconciler.events import ImageChange
from reconciler.model import ENV_TAG, OWNER_TAG, RESERVED_TAG_PREFIX, ServiceSpec
from reconciler.plan import ServicePlan

#: Fields a CODE_DEPLOY service can only change through a CodeDeploy deployment
#: (they are part of the AppSpec): aws-behaviour.md §3 "What UpdateService can change".
DEPLOYMENT_FIELDS = frozenset({"networkConfiguration", "platformVersion", "loadBalancers",
                               "capacityProviderStrategy"})
DEFAULT_CIRCUIT_BREAKER = {"enable": True, "rollback": True}


def owner_tags(instance: str, environment: str) -> dict[str, str]:
    return {OWNER_TAG: instance, ENV_TAG: environment}


def desired_tags(spec: ServiceSpec) -> dict[str, str]:
    tags = spec.service.get("tags") or []
    if isinstance(tags, Mapping):
        return {str(k): str(v) for k, v in tags.items()}
    return {str(t["key"]): str(t.get("value", "")) for t in tags}


def changed_fields(plan: ServicePlan) -> set[str]:
    """Top-level service fields the diff reported (`service/<field>/...`)."""
    return {c.path.split("/")[1] for c in plan.drift.changes
            if c.path.startswith("service/") and len(c.path.split("/")) > 1}


def with_circuit_breaker(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The deployment circuit breaker with rollback is on unless the manifest says otherwise."""
    out = copy.deepcopy(dict(config or {}))
    out.setdefault("deploymentCircuitBreaker", dict(DEFAULT_CIRCUIT_BREAKER))
    return out


def is_code_deploy(spec: ServiceSpec | None, live: Mapping[str, Any] | None = None) -> bool:
    if live is not None:
        return (live.get("deploymentController") or {}).get("type") == "CODE_DEPLOY"
    if spec is None:
        return False
    declared = (spec.service.get("deploymentController") or {}).get("type")
    return declared == "CODE_DEPLOY" or (declared is None and spec.gitops.strategy == "blue-green")


def create_params(spec: ServiceSpec, task_definition_arn: str, instance: str, *,
                  extra_tags: Mapping[str, str] | None = None) -> dict[str, Any]:
    """CreateService input: git's service, the resolved revision, the ownership tags (and `extra_tags`)."""
    params = copy.deepcopy(dict(spec.service))
    params.pop("cluster", None)
    params["serviceName"] = spec.name
    params["taskDefinition"] = task_definition_arn
    tags = {**desired_tags(spec), **owner_tags(instance, spec.environment), **(extra_tags or {})}
    params["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
    if spec.gitops.strategy == "blue-green":
        params.setdefault("deploymentController", {"type": "CODE_DEPLOY"})
    if not is_code_deploy(spec):
        params["deploymentConfiguration"] = with_circuit_breaker(params.get("deploymentConfiguration"))
    return params


def _value(spec: ServiceSpec, name: str) -> tuple[bool, Any]:
    if name in spec.service:
        return True, copy.deepcopy(spec.service[name])
    return False, None


def update_params(plan: ServicePlan, allowed: frozenset[str]) -> tuple[dict[str, Any], list[str]]:
    """UpdateService fields for the drifted service fields within `allowed`, plus the ones left out.

    A field git no longer sets is cleared when it is a list (placement, load balancers...);
    other fields keep AWS's value. desiredCount of an autoscaled service belongs to the scaler.
    """
    assert plan.spec is not None
    params: dict[str, Any] = {}
    skipped: list[str] = []
    autoscaled = bool(plan.live and plan.live.autoscaled)
    for name in sorted(changed_fields(plan)):
        if name == "tags":
            continue
        if name not in allowed or (name == "desiredCount" and autoscaled):
            skipped.append(name)
            continue
        present, value = _value(plan.spec, name)
        if present:
            params[name] = value
        elif isinstance((plan.live.service if plan.live else {}).get(name), list):
            params[name] = []
    if "deploymentConfiguration" in params and not is_code_deploy(plan.spec, plan.live.service if plan.live else None):
        params["deploymentConfiguration"] = with_circuit_breaker(params["deploymentConfiguration"])
    return params, skipped


def tag_changes(plan: ServicePlan) -> tuple[dict[str, str], list[str]]:
    """Tags to set and keys to remove so the service's own tags match git (reserved ones untouched)."""
    assert plan.spec is not None
    want = desired_tags(plan.spec)
    have = plan.live.tags if plan.live else {}
    to_set = {k: v for k, v in want.items() if have.get(k) != v}
    to_remove = [k for k in have if k not in want and not k.startswith((RESERVED_TAG_PREFIX, "aws:"))]
    return to_set, sorted(to_remove)


def _images(td: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(c.get("name")): str(c.get("image")) for c in (td or {}).get("containerDefinitions", []) or []}


def image_changes(desired_td: Mapping[str, Any] | None, live_td: Mapping[str, Any] | None) -> tuple[ImageChange, ...]:
    """Containers whose image changes (old is None for new containers)."""
    new, old = _images(desired_td), _images(live_td)
    return tuple(ImageChange(container=name, old=old.get(name), new=image)
                 for name, image in sorted(new.items()) if old.get(name) != image)
