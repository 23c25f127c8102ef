"""Desired-vs-live drift of task definitions and services."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.desired import desired_service
from reconciler.diff.compare import compare
from reconciler.diff.service import normalize_service
from reconciler.diff.taskdef import normalize_task_definition
from reconciler.model import Drift, FieldChange, LiveService, ServiceSpec

TASKDEF_PREFIX = "taskDefinition"
SERVICE_PREFIX = "service"


def diff_task_definitions(desired: Mapping[str, Any], live: Mapping[str, Any],
                          ignore: Sequence[str] = ()) -> Drift:
    """Drift between a task definition from git and one from AWS (any accepted shape)."""
    return compare(TASKDEF_PREFIX, normalize_task_definition(desired), normalize_task_definition(live), ignore)


def _drop_server_decided(desired: Mapping[str, Any], live: dict[str, Any]) -> None:
    """Fields AWS decides itself when the manifest leaves them out are not drift then.

    - availabilityZoneRebalancing: create defaults to ENABLED, update keeps the existing
      value ([bc-ecs] CreateServiceRequest/Service.availabilityZoneRebalancing).
    - launchType/capacityProviderStrategy: with neither given, the cluster's default
      capacity provider strategy is used ([bc-ecs] CreateServiceRequest.capacityProviderStrategy),
      and with it the Fargate platformVersion LATEST.
    """
    if "availabilityZoneRebalancing" not in desired:
        live.pop("availabilityZoneRebalancing", None)
    if "launchType" not in desired and "capacityProviderStrategy" not in desired:
        live.pop("capacityProviderStrategy", None)
        if live.get("launchType") == "EC2":
            live.pop("launchType")
        if "platformVersion" not in desired and live.get("platformVersion") == "LATEST":
            live.pop("platformVersion")


def diff_services(desired: Mapping[str, Any], live: Mapping[str, Any], ignore: Sequence[str] = (),
                  compare_desired_count: bool = True) -> Drift:
    """Drift between a CreateService input from git and a DescribeServices item."""
    canon_desired = normalize_service(desired, compare_desired_count=compare_desired_count)
    canon_live = normalize_service(live, compare_desired_count=compare_desired_count)
    _drop_server_decided(canon_desired, canon_live)
    return compare(SERVICE_PREFIX, canon_desired, canon_live, ignore)


def diff_service_spec(spec: ServiceSpec, live: LiveService) -> Drift:
    """Both diffs of one service, honouring `gitops.ignoreDifferences`.

    desiredCount is not compared when an Application Auto Scaling target owns it
    or the manifest leaves it out (aws-behaviour.md §6: do not fight the scaler).
    """
    ignore = spec.gitops.ignore_differences
    if live.task_definition is None:
        td_drift = Drift(changes=(FieldChange(path=TASKDEF_PREFIX, kind="added", live=None,
                                              desired=normalize_task_definition(spec.task_definition)),))
    else:
        live_td = {"taskDefinition": live.task_definition, "tags": list(live.task_definition_tags)}
        td_drift = diff_task_definitions(spec.task_definition, live_td, ignore)
    compare_count = not live.autoscaled and spec.service.get("desiredCount") is not None
    svc_drift = diff_services(desired_service(spec), live.service, ignore, compare_desired_count=compare_count)
    return Drift(changes=td_drift.changes + svc_drift.changes)
