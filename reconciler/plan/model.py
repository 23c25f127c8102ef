"""What the reconciler intends to do, per service."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from reconciler.model import Drift, Environment, Issue, LiveService, ServiceSpec, SyncPolicy

Action = Literal[
    "in-sync",   # git and AWS agree
    "update",    # owned (or adopted) service differs from git
    "create",    # in git, not in AWS
    "prune",     # owned, gone from git, prune allowed: delete
    "orphan",    # owned, gone from git, prune not allowed (or held back by a safety rule)
    "unowned",   # a same-named service exists that we do not own: never touched
    "invalid",   # the manifest is broken: reported, nothing applied
    "unknown",   # live state could not be read
]

CHANGING: frozenset[str] = frozenset({"update", "create", "prune"})


@dataclass(frozen=True)
class ServicePlan:
    environment: str
    name: str
    action: Action
    spec: ServiceSpec | None = None
    live: LiveService | None = None
    drift: Drift = Drift()
    reason: str = ""
    policy: SyncPolicy = SyncPolicy()
    adopt: bool = False  # update also takes ownership of an existing unowned service

    @property
    def key(self) -> str:
        return f"{self.environment}/{self.name}"

    @property
    def taskdef_changed(self) -> bool:
        return any(c.path.startswith("taskDefinition/") for c in self.drift.changes)

    @property
    def service_changed(self) -> bool:
        return any(c.path.startswith("service/") for c in self.drift.changes)

    @property
    def changes_pending(self) -> bool:
        return self.action in CHANGING


@dataclass(frozen=True)
class Plan:
    services: tuple[ServicePlan, ...]
    issues: tuple[Issue, ...] = ()
    commit: str | None = None
    #: Settings (cluster, region, role) of every environment the plan names, so
    #: whoever applies it needs nothing else.
    environments: Mapping[str, Environment] = field(default_factory=dict)

    @property
    def changes_pending(self) -> bool:
        return any(s.changes_pending for s in self.services)

    @property
    def has_errors(self) -> bool:
        return any(s.action in ("invalid", "unknown") for s in self.services) or any(
            i.severity == "error" for i in self.issues)

    def by_action(self, action: Action) -> list[ServicePlan]:
        return [s for s in self.services if s.action == action]
