"""Read what runs in AWS: services, their task definitions, autoscaling targets.

Call budget per environment and cycle: ceil(N/10) DescribeServices (AWS's
per-call maximum, [bc-ecs] DescribeServicesRequest.services), ceil(M/100)
ListServices, one DescribeScalableTargets per 50 services, and no
DescribeTaskDefinition once warm: task definition revisions are immutable,
so they are cached by ARN.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypedDict

from reconciler.aws.clients import AwsClients
from reconciler.aws.errors import AwsError
from reconciler.log import get_logger
from reconciler.model import (
    DesiredState,
    Environment,
    LiveEnvironment,
    LiveService,
    PackedDocument,
    is_owned,
    shared_strings,
)

log = get_logger(__name__)

DESCRIBE_SERVICES_MAX = 10
SCALABLE_TARGETS_MAX = 50

#: Called between two read calls of one sweep: a caller's yield point (it may raise to abandon the sweep).
Between = Callable[[], None]


def _nothing() -> None:
    return None


class Tag(TypedDict):
    key: str
    value: str


class TaskDefinitionCache:
    """Task definitions by ARN, packed (`PackedDocument`), least recently used dropped first. Safe to
    share between threads and cycles. The bound is far above what one replica carries (a revision per
    service plus those being rolled out): below it a drift scan never describes a task definition
    twice; with the oldest-inserted dropped instead, 10,000 services over a 5,000 bound re-described
    every one."""

    def __init__(self, max_entries: int = 50_000) -> None:
        self._items: dict[str, tuple[PackedDocument, tuple[Tag, ...]]] = {}
        self._lock = threading.Lock()
        self._max = max_entries

    def get(self, arn: str) -> tuple[PackedDocument, tuple[Tag, ...]] | None:
        with self._lock:
            item = self._items.pop(arn, None)
            if item is not None:
                self._items[arn] = item  # most recently used last
            return item

    def put(self, arn: str, td: Mapping[str, Any], tags: Iterable[Tag]) -> tuple[PackedDocument, tuple[Tag, ...]]:
        item = (PackedDocument.pack(str(td.get("taskDefinitionArn") or arn), td), tuple(tags))
        with self._lock:
            if len(self._items) >= self._max:
                self._items.pop(next(iter(self._items)))
            self._items[arn] = item
        return item


def compact_service(item: dict[str, Any]) -> dict[str, Any]:
    """A DescribeServices item as a scan keeps it: without `events` (up to 100 per service, [bc-ecs]
    Service.events; read only by the apply's own DescribeServices while following a deployment, never
    from a scan), its short strings shared. A scan holds every item of an environment at once (9.2 KB
    each in the sandbox before, 6.0 KB after; on AWS each also carried its last 100 events)."""
    item.pop("events", None)
    return shared_strings(item)


def check_account(clients: AwsClients, env: Environment) -> None:
    """Refuse to read or touch an environment whose credentials reach another account."""
    if env.account_id:
        actual = clients.account_id(env)
        if actual != env.account_id:
            raise AwsError(f"credentials act in account {actual}, but environment {env.name} declares "
                           f"accountId {env.account_id}: refusing to touch it", service="sts",
                           action="GetCallerIdentity", code="AccountMismatch")


def chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class LiveReader:
    def __init__(self, clients: AwsClients, instance: str, cache: TaskDefinitionCache | None = None) -> None:
        self.clients = clients
        self.instance = instance
        self.cache = cache or TaskDefinitionCache()

    # -- services -------------------------------------------------------------
    def describe_services(self, env: Environment, names: list[str],
                          between: Between = _nothing) -> dict[str, dict[str, Any]]:
        """Existing (non-INACTIVE) services by name; missing ones are simply absent."""
        ecs = self.clients.client("ecs", env)
        found: dict[str, dict[str, Any]] = {}
        for i, batch in enumerate(chunks(sorted(set(names)), DESCRIBE_SERVICES_MAX)):
            if i:
                between()
            resp = ecs.describe_services(cluster=env.cluster, services=batch, include=["TAGS"])
            for svc in resp.get("services", []):
                if svc.get("status") != "INACTIVE":
                    found[svc["serviceName"]] = compact_service(svc)
        return found

    def list_service_names(self, env: Environment) -> list[str]:
        ecs = self.clients.client("ecs", env)
        names: list[str] = []
        for page in ecs.get_paginator("list_services").paginate(cluster=env.cluster, PaginationConfig={"PageSize": 100}):
            names.extend(arn.rsplit("/", 1)[-1] for arn in page.get("serviceArns", []))
        return names

    def autoscaled_services(self, env: Environment, names: list[str], between: Between = _nothing) -> set[str]:
        """Services with an Application Auto Scaling target on DesiredCount.

        Their desiredCount belongs to the scaler, not to git ([ecs-dg] service-auto-scaling).
        """
        if not names:
            return set()
        aas = self.clients.client("application-autoscaling", env)
        found: set[str] = set()
        ids = [f"service/{env.cluster}/{n}" for n in sorted(set(names))]
        for i, batch in enumerate(chunks(ids, SCALABLE_TARGETS_MAX)):
            if i:
                between()
            try:
                resp = aas.describe_scalable_targets(
                    ServiceNamespace="ecs", ResourceIds=batch, ScalableDimension="ecs:service:DesiredCount")
            except AwsError as exc:
                # Not fatal: without it we compare desiredCount only where git sets it.
                log.warning("autoscaling_unreadable", environment=env.name, error=str(exc))
                return found
            for target in resp.get("ScalableTargets", []):
                found.add(target["ResourceId"].rsplit("/", 1)[-1])
        return found

    # -- task definitions -------------------------------------------------------
    def task_definition(self, env: Environment, arn: str) -> tuple[PackedDocument, tuple[Tag, ...]]:
        """One revision, described once and then served packed from the cache."""
        cached = self.cache.get(arn)
        if cached is not None:
            return cached
        ecs = self.clients.client("ecs", env)
        resp = ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])
        return self.cache.put(arn, resp["taskDefinition"], resp.get("tags", []) or [])

    # -- one environment ----------------------------------------------------------
    def read_environment(self, env: Environment, wanted: Iterable[str], *, list_owned: bool = True,
                         between: Between = _nothing) -> LiveEnvironment:
        """Services git declares plus services tagged as ours for this environment. `between` runs
        between two DescribeServices / DescribeScalableTargets calls (a drift scan's yield point)."""
        try:
            check_account(self.clients, env)
            names = set(wanted)
            if list_owned:
                names |= set(self.list_service_names(env))
            described = self.describe_services(env, sorted(names), between)
            wanted_set = set(wanted)
            relevant = {
                name: svc for name, svc in described.items()
                if name in wanted_set or self._is_ours(svc, env.name)
            }
            between()
            autoscaled = self.autoscaled_services(env, sorted(relevant), between)
            services: dict[str, LiveService] = {}
            for name, svc in relevant.items():
                td: PackedDocument | None = None
                td_tags: tuple[Tag, ...] = ()
                if svc.get("taskDefinition"):
                    td, td_tags = self.task_definition(env, svc["taskDefinition"])
                services[name] = LiveService(
                    environment=env.name, name=name, arn=svc["serviceArn"], service=svc,
                    task_definition=td, task_definition_tags=td_tags, autoscaled=name in autoscaled)
            return LiveEnvironment(environment=env.name, services=services)
        except AwsError as exc:
            log.warning("live_state_unreadable", environment=env.name, error=str(exc))
            return LiveEnvironment(environment=env.name, error=str(exc))

    def _is_ours(self, svc: Mapping[str, Any], env_name: str) -> bool:
        return is_owned(svc.get("tags"), self.instance, env_name)


def wanted_services(desired: DesiredState) -> dict[str, list[str]]:
    """Per environment, the services git declares (valid or broken): what `read_live_state` describes."""
    wanted: dict[str, list[str]] = {name: [] for name in desired.environments}
    for spec in desired.services:
        wanted.setdefault(spec.environment, []).append(spec.name)
    for key in desired.broken_services:
        env, _, name = key.partition("/")
        wanted.setdefault(env, []).append(name)
    return wanted


def read_live_state(reader: LiveReader, environments: Mapping[str, Environment],
                    wanted: Mapping[str, Iterable[str]], *, list_owned: bool = True,
                    between: Between = _nothing) -> dict[str, LiveEnvironment]:
    """Read every environment; one unreadable environment does not hide the others."""
    return {
        name: reader.read_environment(env, wanted.get(name, ()), list_owned=list_owned, between=between)
        for name, env in sorted(environments.items())
    }
