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
#: Live revisions whose drift a DesiredCanon keeps (the running one, one being rolled out, spare).
LIVE_REVISIONS_KEPT = 4


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


class DesiredCanon:
    """The canonical (normalised) git side of one service, computed once and then reused: the
    desired side does not change with the commit when the service's declaration does not, only
    the live side is normalised per cycle. The documents are shared; nothing downstream may
    mutate them."""

    def __init__(self, spec: ServiceSpec) -> None:
        self.spec = spec
        self._service: dict[bool, dict[str, Any]] = {}
        self._taskdef_drift: dict[tuple[Any, ...], Drift] = {}
        self.reused = 0  # task-definition drifts served from _taskdef_drift

    def task_definition(self) -> dict[str, Any]:
        """Normalised anew on each call (only when a live revision is new to this declaration): kept
        for every service it weighed more than the drifts it serves (memory at 10,000 services)."""
        return normalize_task_definition(self.spec.task_definition)

    def task_definition_drift(self, live: LiveService) -> Drift:
        """Drift against the live revision, kept per revision ARN and tags: a registered revision
        never changes (the reader caches it by ARN), nor does this declaration, so a scan of an
        unchanged service normalises and compares its task definition once, not per cycle."""
        arn = live.task_definition_arn
        key = (arn, tuple((t.get("key"), t.get("value")) for t in live.task_definition_tags))
        drift = self._taskdef_drift.get(key) if arn else None
        if drift is not None:
            self.reused += 1
        else:
            live_td = {"taskDefinition": live.task_definition_data(), "tags": list(live.task_definition_tags)}
            drift = compare(TASKDEF_PREFIX, self.task_definition(), normalize_task_definition(live_td),
                            self.spec.gitops.ignore_differences)
            if arn:
                if len(self._taskdef_drift) >= LIVE_REVISIONS_KEPT:
                    self._taskdef_drift.pop(next(iter(self._taskdef_drift)))
                self._taskdef_drift[key] = drift
        return drift

    def service(self, compare_desired_count: bool) -> dict[str, Any]:
        canon = self._service.get(compare_desired_count)
        if canon is None:
            canon = self._service[compare_desired_count] = normalize_service(
                desired_service(self.spec), compare_desired_count=compare_desired_count)
        return canon


class CanonCache:
    """DesiredCanon per service for the newest commit planned (one loop thread). A service whose
    declaration is the same at the next commit keeps its DesiredCanon, drifts included: a push
    does not make the next drift scan normalise and compare every task definition again."""

    def __init__(self) -> None:
        self._commit: str | None = None
        self._entries: dict[str, DesiredCanon] = {}
        self._previous: dict[str, DesiredCanon] = {}
        self.hits = self.misses = 0

    def get(self, commit: str | None, spec: ServiceSpec) -> DesiredCanon:
        if commit is None:
            return DesiredCanon(spec)
        if commit != self._commit:
            self._commit, self._previous, self._entries = commit, self._entries, {}
        canon = self._entries.get(spec.key) or self._previous.pop(spec.key, None)
        if canon is None or canon.spec is not spec and canon.spec != spec:
            self.misses += 1
            canon = DesiredCanon(spec)
        else:
            self.hits += 1
        self._entries[spec.key] = canon
        return canon


def diff_service_spec(spec: ServiceSpec, live: LiveService, canon: DesiredCanon | None = None) -> Drift:
    """Both diffs of one service, honouring `gitops.ignoreDifferences`.

    desiredCount is not compared when an Application Auto Scaling target owns it
    or the manifest leaves it out (aws-behaviour.md §6: do not fight the scaler).
    `canon` is the service's already normalised git side (CanonCache), if any.
    """
    canon = canon if canon is not None else DesiredCanon(spec)
    ignore = spec.gitops.ignore_differences
    if live.task_definition is None:
        td_drift = Drift(changes=(FieldChange(path=TASKDEF_PREFIX, kind="added", live=None,
                                              desired=canon.task_definition()),))
    else:
        td_drift = canon.task_definition_drift(live)
    compare_count = not live.autoscaled and spec.service.get("desiredCount") is not None
    canon_live = normalize_service(live.service, compare_desired_count=compare_count)
    canon_desired = canon.service(compare_count)
    _drop_server_decided(canon_desired, canon_live)
    svc_drift = compare(SERVICE_PREFIX, canon_desired, canon_live, ignore)
    return Drift(changes=td_drift.changes + svc_drift.changes)
