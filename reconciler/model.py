"""Typed models shared by every layer.

The core (manifests, diff, plan) produces and consumes these; the edges (aws,
apply, source, notify, daemon) only translate between them and the outside
world. Everything here is immutable so a snapshot can be handed between
threads without copying.
"""
from __future__ import annotations

import pickle
import sys
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

JSON = Any
Strategy = Literal["rolling", "blue-green"]

#: Tag that marks a service (and the task definitions it registers) as managed by
#: this reconciler. The value is the reconciler instance name, so two installs
#: sharing an account never fight over a service.
OWNER_TAG = "ecs-reconciler:managed-by"
#: Tag on registered task definitions: sha256 of the normalized desired task
#: definition, so an existing ACTIVE revision can be reused instead of registering
#: a new one on every sync (no revision churn).
TASKDEF_HASH_TAG = "ecs-reconciler:spec-hash"
#: Tag recording the git commit a task definition revision was registered from.
COMMIT_TAG = "ecs-reconciler:commit"
#: Tag naming the environment a managed service belongs to, so two environments
#: sharing a cluster never see each other's services as prune candidates.
ENV_TAG = "ecs-reconciler:environment"
#: Set on a service after a successful sync: hash of the service and task
#: definition git declared. A restarted daemon compares it with git to tell "git
#: changed, apply it" from "AWS changed by hand: drift" (selfHeal decides).
APPLIED_TAG = "ecs-reconciler:applied-spec"
#: Set on a service right before a deployment starts: the applied-spec hash of the declaration
#: being deployed, so whoever leads next can tell that a deployment AWS failed was this one.
ATTEMPT_TAG = "ecs-reconciler:attempted-spec"
#: Set by whoever observes that AWS failed (or rolled back) the deployment of a declaration: that
#: declaration is not re-applied automatically until git declares something else.
FAILED_TAG = "ecs-reconciler:failed-spec"
#: Set by `reconciler rollback` on a service: automated sync of that service
#: pauses while git still points at this commit.
PAUSED_TAG = "ecs-reconciler:paused-at-commit"
#: Every tag the reconciler writes starts with this; such tags are never drift.
RESERVED_TAG_PREFIX = "ecs-reconciler:"
#: Tags on a hook's one-off task (with COMMIT_TAG): which hook ("preSync/migrate") of which
#: service, so a restarted daemon finds a run again (reconciler.apply.hooks).
HOOK_TAG = "ecs-reconciler:hook"
SERVICE_TAG = "ecs-reconciler:service"
#: Tag prefixes git never declares and the diff never compares: ours, and AWS's own
#: ("aws:" is reserved for AWS use; user tags may not start with it, [ecs-dg] ecs-using-tags
#: "Tag restrictions").
UNMANAGED_TAG_PREFIXES = (RESERVED_TAG_PREFIX, "aws:")
DEFAULT_INSTANCE = "ecs-reconciler"

Tags = Mapping[str, Any] | Iterable[Any] | None


def tag_dict(tags: Tags) -> dict[str, str]:
    """AWS's `[{"key": k, "value": v}]` (or a plain map, as YAML users write it) as `{k: v}`.

    Items that are not `{key, value}` objects are skipped (validation reports them);
    a missing or null value is the empty string, as AWS stores it.
    """
    if tags is None:
        return {}
    if isinstance(tags, Mapping):
        return {str(k): "" if v is None else str(v) for k, v in tags.items()}
    return {str(t["key"]): "" if t.get("value") is None else str(t["value"])
            for t in tags if isinstance(t, Mapping) and t.get("key") is not None}


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """`{k: v}` as the `[{"key": k, "value": v}]` list ECS takes."""
    return [{"key": k, "value": v} for k, v in tags.items()]


def is_unmanaged_tag(key: str) -> bool:
    """True for tags the reconciler or AWS set themselves (never drift, never removed)."""
    return key.startswith(UNMANAGED_TAG_PREFIXES)


def ownership_tags(instance: str, environment: str) -> dict[str, str]:
    """The tags that make a service ours: written on create and adopt, read by `ownership_problem`."""
    return {OWNER_TAG: instance, ENV_TAG: environment}


def ownership_problem(tags: Tags, instance: str, environment: str) -> str | None:
    """Why a service with these tags is not this reconciler's to touch in `environment`, or None.

    Ours means: the owner tag names this instance, and the environment tag (when set:
    services created before it existed have none) names this environment, so two
    environments sharing a cluster never touch each other's services. The live reader,
    the plan, prune, rollback and apply all ask here.
    """
    have = tag_dict(tags)
    owner = have.get(OWNER_TAG)
    if owner != instance:
        return f"not owned by {instance!r} (owner tag: {owner!r})" if owner else \
            f"not owned by {instance!r} (not created by this reconciler)"
    env = have.get(ENV_TAG, environment)
    if env != environment:
        return f"it belongs to environment {env!r}"
    return None


def is_owned(tags: Tags, instance: str, environment: str) -> bool:
    return ownership_problem(tags, instance, environment) is None


def runs_on_fargate(service: Mapping[str, Any]) -> bool:
    """A service runs on Fargate when its launch type is FARGATE or a capacity provider is
    FARGATE / FARGATE_SPOT ([bc-ecs] CreateServiceRequest.launchType, capacityProviderStrategy)."""
    providers = service.get("capacityProviderStrategy")
    return service.get("launchType") == "FARGATE" or any(
        isinstance(p, Mapping) and str(p.get("capacityProvider", "")).startswith("FARGATE")
        for p in (providers if isinstance(providers, list) else ()))


def requires_fargate(task_definition: Mapping[str, Any]) -> bool:
    """A task definition registered for Fargate ([bc-ecs] RegisterTaskDefinitionRequest.requiresCompatibilities)."""
    compat = task_definition.get("requiresCompatibilities")
    return isinstance(compat, list) and "FARGATE" in compat


def deployment_controller(service: Mapping[str, Any], strategy: str | None = None) -> str:
    """The controller type AWS will report: the declared one, else CODE_DEPLOY when the
    strategy is blue-green (our implied default), else ECS ([bc-ecs] DeploymentController.type)."""
    declared = service.get("deploymentController")
    if isinstance(declared, Mapping) and declared.get("type") is not None:
        return str(declared["type"])
    return "CODE_DEPLOY" if strategy == "blue-green" else "ECS"


@dataclass(frozen=True)
class SourceLocation:
    """Where a value came from, so every error can say `file:line`."""

    file: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class Issue:
    """One problem found in the manifests: `file:line: json.path: reason`."""

    file: str
    line: int | None
    path: str
    reason: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        loc = f"{self.file}:{self.line}" if self.line else self.file
        return f"{loc}: {self.path or '$'}: {self.reason}"

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "path": self.path,
                "reason": self.reason, "severity": self.severity}


@dataclass(frozen=True)
class ApprovalPolicy:
    """`syncPolicy.approval`: a person approves a git change before it is applied."""

    users: tuple[str, ...] = ()       # Slack user IDs (U…/W…) who may approve
    groups: tuple[str, ...] = ()      # Slack user-group IDs (S…) whose members may approve
    count: int = 1                    # distinct approvals needed
    allow_author: bool = False        # may the commit's author (or requester) approve their own change
    lifetime_seconds: int = 24 * 3600  # a request expires after this long


@dataclass(frozen=True)
class SyncPolicy:
    """How far the reconciler may go on its own (Argo CD's automated/selfHeal/prune)."""

    automated: bool = True      # apply git changes without a human
    self_heal: bool = False     # revert changes made by hand in AWS
    prune: bool = False         # delete owned services that left git
    max_prune_per_sync: int = 1
    approval: ApprovalPolicy | None = None  # git changes wait for a person when set


@dataclass(frozen=True)
class BlueGreen:
    """CodeDeploy settings of a blue-green / canary service."""

    application: str
    deployment_group: str
    deployment_config: str = "CodeDeployDefault.ECSAllAtOnce"
    #: When set, the reconciler creates this custom config (CreateDeploymentConfig)
    #: if it does not exist: {"type": "TimeBasedCanary", "percentage": 10, "intervalMinutes": 5}
    custom_config: Mapping[str, Any] | None = None
    hooks: Mapping[str, str] = field(default_factory=dict)  # AppSpec hook name -> lambda ARN/name
    container_name: str | None = None  # defaults to loadBalancers[0].containerName
    container_port: int | None = None


@dataclass(frozen=True)
class HookTask:
    """`gitops.hooks.preSync[]` / `postSync[]`: a one-off task run with the revision being deployed."""

    name: str
    phase: Literal["preSync", "postSync"]
    command: tuple[str, ...]
    container: str | None = None     # None: the first essential container
    timeout_seconds: float = 600.0
    rollback_on_failure: bool = False


@dataclass(frozen=True)
class GitOpsSettings:
    """The `gitops:` block of service.yaml: what AWS has no field for."""

    strategy: Strategy = "rolling"
    blue_green: BlueGreen | None = None
    ignore_differences: tuple[str, ...] = ()
    sync_policy: SyncPolicy | None = None  # None: inherit the environment's
    allow_latest: bool = False
    adopt: bool = False  # take over an existing same-named service that we do not own
    wait_timeout_seconds: float = 1800.0
    hooks: tuple[HookTask, ...] = ()


@dataclass(frozen=True)
class SyncWindow:
    """One `syncWindows` entry of environment.yaml (Argo CD's sync window model)."""

    kind: Literal["allow", "deny"]
    schedule: str                     # cron expression of the window's start, in `time_zone`
    duration_seconds: int
    time_zone: str = "UTC"
    services: tuple[str, ...] = ()    # empty: every service of the environment
    manual_sync: bool = False         # `sync --override-window` may sync despite it


@dataclass(frozen=True)
class Environment:
    name: str
    cluster: str
    region: str
    account_id: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    sync_policy: SyncPolicy = SyncPolicy()
    source: SourceLocation | None = None
    sync_windows: tuple[SyncWindow, ...] = ()


@dataclass(frozen=True)
class ServiceSpec:
    """One service as git declares it.

    `service` is the CreateService input (AWS camelCase) without `taskDefinition`;
    `task_definition` is the RegisterTaskDefinition input. Both are plain JSON so
    they can go to boto3 and to the normalizer unchanged.
    """

    environment: str
    name: str
    service: Mapping[str, JSON]
    task_definition: Mapping[str, JSON]
    gitops: GitOpsSettings
    service_file: str
    taskdef_file: str

    @property
    def key(self) -> str:
        return f"{self.environment}/{self.name}"

    @property
    def family(self) -> str:
        return str(self.task_definition["family"])


@dataclass(frozen=True)
class DesiredState:
    """Everything loaded from one commit of the manifest repository.

    Broken services are listed in `issues` and absent from `services`; healthy
    services are never held back by a broken neighbour. `broken_services` keeps
    the keys of services that exist in git but failed validation, so prune never
    deletes a service just because its manifest is momentarily invalid.
    """

    environments: Mapping[str, Environment]
    services: tuple[ServiceSpec, ...]
    issues: tuple[Issue, ...] = ()
    broken_services: frozenset[str] = frozenset()
    commit: str | None = None

    @property
    def errors(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity == "error")


@dataclass(frozen=True)
class FieldChange:
    """One difference between git and AWS at a path like `taskDefinition/containerDefinitions/web/image`."""

    path: str
    desired: JSON
    live: JSON
    kind: Literal["changed", "added", "removed"] = "changed"  # added: only in git; removed: only in AWS

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "desired": self.desired, "live": self.live}


@dataclass(frozen=True)
class Drift:
    changes: tuple[FieldChange, ...] = ()

    @property
    def in_sync(self) -> bool:
        return not self.changes

    def paths(self) -> list[str]:
        return [c.path for c in self.changes]


#: Our choice: strings up to this length read from manifests and DescribeServices are shared
#: (interned): statuses, launch types, subnet and security group ids, tag keys and values, log
#: options repeat across thousands of services; longer ones are mostly unique (ARNs, commands).
SHARED_STRING_MAX = 64


def shared_string(value: str) -> str:
    return sys.intern(value) if len(value) <= SHARED_STRING_MAX else value


def shared_strings(value: Any) -> Any:
    """`value` (JSON-like, changed in place) with its short strings shared (memory at 10,000 services)."""
    if isinstance(value, str):
        return shared_string(value)
    if isinstance(value, dict):
        for key, item in value.items():
            value[key] = shared_strings(item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            value[index] = shared_strings(item)
    return value


@dataclass(frozen=True)
class PackedDocument:
    """A document read from AWS (JSON plus datetimes) kept pickled and compressed, about a tenth of
    its size as Python objects. Task definition revisions never change, so the reader keeps one per
    revision for as long as it runs; at 10,000 services the unpacked copies were about a fifth of the
    daemon's memory. `unpack` builds a fresh copy on each call, kept only while it is used."""

    name: str  # what the document is (a task definition ARN), readable without unpacking
    blob: bytes

    @classmethod
    def pack(cls, name: str, document: Mapping[str, JSON]) -> PackedDocument:
        return cls(name, zlib.compress(pickle.dumps(dict(document), protocol=pickle.HIGHEST_PROTOCOL), 1))

    def unpack(self) -> dict[str, JSON]:
        return pickle.loads(zlib.decompress(self.blob))  # noqa: S301 - our own bytes, never from outside


@dataclass(frozen=True)
class LiveService:
    """A service as AWS reports it, with its task definition resolved.

    `task_definition` is the DescribeTaskDefinition document, packed when the reader made it: read
    it through `task_definition_data()` (a fresh copy each call) and `task_definition_arn`."""

    environment: str
    name: str
    arn: str
    service: Mapping[str, JSON]          # DescribeServices item (with tags)
    task_definition: Mapping[str, JSON] | PackedDocument | None  # DescribeTaskDefinition.taskDefinition
    task_definition_tags: tuple[Mapping[str, str], ...] = ()
    autoscaled: bool = False             # has an Application Auto Scaling target

    @property
    def task_definition_arn(self) -> str | None:
        td = self.task_definition
        if isinstance(td, PackedDocument):
            return td.name
        return None if td is None else td.get("taskDefinitionArn")

    def task_definition_data(self) -> Mapping[str, JSON] | None:
        td = self.task_definition
        return td.unpack() if isinstance(td, PackedDocument) else td

    @property
    def tags(self) -> dict[str, str]:
        return tag_dict(self.service.get("tags"))

    @property
    def owner(self) -> str | None:
        return self.tags.get(OWNER_TAG)

    def ownership_problem(self, instance: str) -> str | None:
        return ownership_problem(self.tags, instance, self.environment)

    @property
    def controller(self) -> str:
        return deployment_controller(self.service)


@dataclass(frozen=True)
class LiveEnvironment:
    """What one environment's cluster holds, as read in one pass.

    `services` has every service the reconciler looked at: those git declares
    (when they exist) and those tagged as managed for this environment. When the
    cluster could not be read, `error` says why and plans for it are Unknown.
    """

    environment: str
    services: Mapping[str, LiveService] = field(default_factory=dict)
    error: str | None = None
