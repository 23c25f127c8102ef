"""Which CreateService/UpdateService parameters to send, from a plan. Pure.

UpdateService gets only the top-level fields the diff found different, so an
unchanged networkConfiguration never triggers a needless deployment
(aws-behaviour.md §2: changing network, load balancers, placement... starts a
new deployment; desiredCount alone does not).
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from reconciler.desired import RESET_VALUES, desired_service
from reconciler.events import ImageChange
from reconciler.model import ServiceSpec, is_unmanaged_tag, ownership_tags, tag_dict, tag_list
from reconciler.plan import ServicePlan

#: Fields a CODE_DEPLOY service can only change through a CodeDeploy deployment
#: (they are part of the AppSpec): aws-behaviour.md §3 "What UpdateService can change".
DEPLOYMENT_FIELDS = frozenset({"networkConfiguration", "platformVersion", "loadBalancers",
                               "capacityProviderStrategy"})


def desired_tags(spec: ServiceSpec) -> dict[str, str]:
    return tag_dict(spec.service.get("tags"))


def changed_fields(plan: ServicePlan) -> set[str]:
    """Top-level service fields the diff reported (`service/<field>/...`)."""
    return {c.path.split("/")[1] for c in plan.drift.changes
            if c.path.startswith("service/") and len(c.path.split("/")) > 1}


def create_params(spec: ServiceSpec, task_definition_arn: str, instance: str, *,
                  extra_tags: Mapping[str, str] | None = None) -> dict[str, Any]:
    """CreateService input: git's service, the resolved revision, the ownership tags (and `extra_tags`)."""
    params = desired_service(spec)
    params.pop("cluster", None)
    params["serviceName"] = spec.name
    params["taskDefinition"] = task_definition_arn
    tags = {**desired_tags(spec), **ownership_tags(instance, spec.environment), **(extra_tags or {})}
    params["tags"] = tag_list(tags)
    return params


def update_params(plan: ServicePlan, allowed: frozenset[str]) -> tuple[dict[str, Any], list[str]]:
    """UpdateService fields for the drifted service fields within `allowed`, plus the ones it cannot send.

    A field git no longer sets goes back to AWS's default: [] for lists (placement, load
    balancers...), RESET_VALUES for the scalars. A field that can be neither sent nor reset
    (create-only, like launchType) is returned in the second list, so the caller can say so
    instead of reporting success. desiredCount of an autoscaled service belongs to the scaler.
    """
    assert plan.spec is not None
    desired = desired_service(plan.spec)
    live = plan.live.service if plan.live else {}
    params: dict[str, Any] = {}
    unsent: list[str] = []
    autoscaled = bool(plan.live and plan.live.autoscaled)
    for name in sorted(changed_fields(plan)):
        if name == "tags" or (name == "desiredCount" and autoscaled):
            continue
        if name not in allowed:
            unsent.append(name)
        elif name in desired:
            params[name] = copy.deepcopy(desired[name])
        elif isinstance(live.get(name), list):
            params[name] = []
        elif name in RESET_VALUES:
            params[name] = copy.deepcopy(RESET_VALUES[name])
        else:
            unsent.append(name)
    return params, unsent


def tag_changes(plan: ServicePlan) -> tuple[dict[str, str], list[str]]:
    """Tags to set and keys to remove so the service's own tags match git (reserved ones untouched)."""
    assert plan.spec is not None
    want = desired_tags(plan.spec)
    have = plan.live.tags if plan.live else {}
    to_set = {k: v for k, v in want.items() if have.get(k) != v}
    to_remove = [k for k in have if k not in want and not is_unmanaged_tag(k)]
    return to_set, sorted(to_remove)


def _images(td: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(c.get("name")): str(c.get("image")) for c in (td or {}).get("containerDefinitions", []) or []}


def image_changes(desired_td: Mapping[str, Any] | None, live_td: Mapping[str, Any] | None) -> tuple[ImageChange, ...]:
    """Containers whose image changes (old is None for new containers)."""
    new, old = _images(desired_td), _images(live_td)
    return tuple(ImageChange(container=name, old=old.get(name), new=image)
                 for name, image in sorted(new.items()) if old.get(name) != image)
