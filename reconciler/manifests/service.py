"""service.yaml: CreateService input (AWS camelCase) plus the `gitops:` block."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from reconciler.durations import DurationError, parse_duration
from reconciler.manifests.awsmodel import check_shape, member_names, service_server_fields
from reconciler.manifests.ecs_deployments import check_ecs_deployments
from reconciler.manifests.issues import FileIssues
from reconciler.manifests.paths import diff_path_problem, placeholders
from reconciler.manifests.schema import check_schema
from reconciler.manifests.taskdef import as_dict, as_list, container_ports, drop_reserved_tags
from reconciler.model import (
    ApprovalPolicy,
    BlueGreen,
    GitOpsSettings,
    HookTask,
    SyncPolicy,
    deployment_controller,
    requires_fargate,
    runs_on_fargate,
)

CREATE = "CreateService"
DEFAULT_DEPLOYMENT_CONFIG = "CodeDeployDefault.ECSAllAtOnce"
#: Fields the reconciler sets itself; present in a describe output or by habit.
_MANAGED = {"taskDefinition": "the reconciler registers the task definition from the taskdef file",
            "clientToken": "the reconciler generates idempotency tokens itself"}
_SYNC_FIELDS = {"automated": "automated", "selfHeal": "self_heal", "prune": "prune",
                "maxPrunePerSync": "max_prune_per_sync"}


@dataclass(frozen=True)
class ServiceDoc:
    name: str
    service: dict[str, Any]   # CreateService input minus taskDefinition, cluster, gitops
    gitops: dict[str, Any]    # the raw gitops block (schema-checked)

    @property
    def strategy(self) -> str:
        return str(self.gitops.get("strategy", "rolling"))

    def runs_on_fargate(self) -> bool:
        return runs_on_fargate(self.service)


def read_service(data: dict[str, Any], sink: FileIssues, *, dir_name: str, cluster: str | None) -> ServiceDoc:
    """Check service.yaml and split it into CreateService input and gitops settings."""
    check_schema(data, "service", sink)
    service = {k: v for k, v in data.items() if k != "gitops"}
    gitops = data.get("gitops") if isinstance(data.get("gitops"), dict) else {}
    for field in sorted(set(service) & service_server_fields()):
        sink.warning((field,), "server-only field set by AWS; ignored")
        del service[field]
    for field, why in _MANAGED.items():
        if field in service:
            sink.warning((field,), f"ignored: {why}")
            del service[field]
    if "cluster" in service:
        if cluster is not None and service["cluster"] != cluster:
            sink.error(("cluster",), f"cluster {service['cluster']!r} differs from the environment's "
                                     f"cluster {cluster!r}; leave it out (environment.yaml sets it)")
        else:
            sink.warning(("cluster",), "ignored: the cluster comes from environment.yaml")
        del service["cluster"]
    name = service.get("serviceName", dir_name)
    if name != dir_name:
        sink.error(("serviceName",), f"serviceName {name!r} must match its directory name {dir_name!r}")
    service["serviceName"] = dir_name
    drop_reserved_tags(service, sink)
    for path, text in placeholders(service):
        sink.error(path, f"unresolved template placeholder {text!r}; manifests must be plain data")
    check_shape(service, CREATE, sink)
    doc = ServiceDoc(dir_name, service, gitops)
    _check_strategy(doc, sink)
    check_ecs_deployments(doc.service, sink)
    _check_ignore_paths(gitops, sink)
    _check_wait_timeout(gitops, sink)
    return doc


def _check_wait_timeout(gitops: Mapping[str, Any], sink: FileIssues) -> None:
    value = gitops.get("waitTimeout")
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return  # absent (default) or a wrong type the schema already reported
    try:
        seconds = parse_duration(value)
    except DurationError as exc:
        sink.error(("gitops", "waitTimeout"), str(exc))
        return
    if seconds <= 0:
        sink.error(("gitops", "waitTimeout"), "must be more than 0 (a deployment needs time to finish)")


def _check_strategy(doc: ServiceDoc, sink: FileIssues) -> None:
    controller = doc.service.get("deploymentController")
    # A blue-green service without a declared controller gets CODE_DEPLOY (reconciler.desired sends it).
    kind = deployment_controller(doc.service, doc.strategy)
    code_deploy = doc.gitops.get("codeDeploy")
    if doc.strategy == "blue-green":
        if kind != "CODE_DEPLOY":
            where = ("deploymentController", "type") if isinstance(controller, dict) and "type" in controller else ()
            sink.error(where, f"strategy blue-green needs deploymentController type CODE_DEPLOY (got {kind!r})")
        if not isinstance(code_deploy, dict) or not code_deploy.get("application") or not code_deploy.get("deploymentGroup"):
            sink.error(("gitops",), "strategy blue-green needs gitops.codeDeploy.application and deploymentGroup")
        if not doc.service.get("loadBalancers"):
            sink.error(("loadBalancers",) if "loadBalancers" in doc.service else (),
                       "strategy blue-green needs loadBalancers (CodeDeploy shifts traffic between target groups)")
        if isinstance(code_deploy, dict) and ("canary" in code_deploy or "linear" in code_deploy):
            config = code_deploy.get("deploymentConfig")
            if not config or str(config).startswith("CodeDeployDefault."):
                sink.error(("gitops", "codeDeploy", "deploymentConfig"),
                           "a canary/linear step needs deploymentConfig set to the name of the custom "
                           "config to create (not a CodeDeployDefault.* name)")
    else:
        if kind == "CODE_DEPLOY":
            sink.error(("deploymentController", "type"),
                       "deploymentController CODE_DEPLOY needs gitops.strategy: blue-green")
        elif kind == "EXTERNAL":
            sink.error(("deploymentController", "type"), "the EXTERNAL deployment controller is not supported")
        if code_deploy is not None:
            sink.warning(("gitops", "codeDeploy"), "ignored: strategy is rolling")


def _check_ignore_paths(gitops: Mapping[str, Any], sink: FileIssues) -> None:
    known = {"taskDefinition": member_names("RegisterTaskDefinition"), "service": member_names(CREATE)}
    paths = gitops.get("ignoreDifferences")
    for index, path in enumerate(paths if isinstance(paths, list) else []):
        if isinstance(path, str):
            problem = diff_path_problem(path, known)
            if problem:
                sink.error(("gitops", "ignoreDifferences", index), problem)


def check_against_taskdef(doc: ServiceDoc, taskdef: dict[str, Any], network_mode_where: str,
                          sink: FileIssues) -> None:
    """Checks that need both files: networking, load balancer targets, hook containers."""
    _check_hooks(doc, taskdef, sink)
    mode = taskdef.get("networkMode")
    if mode == "awsvpc" and not as_dict(doc.service.get("networkConfiguration")).get("awsvpcConfiguration"):
        sink.error(("networkConfiguration",) if "networkConfiguration" in doc.service else (),
                   f"networkMode awsvpc ({network_mode_where}) needs networkConfiguration.awsvpcConfiguration")
    elif mode != "awsvpc" and "networkConfiguration" in doc.service and not _fargate_task(doc, taskdef):
        # AWS: "Network Configuration is not valid for the given networkMode of this task definition."
        # (InvalidParameterException from CreateService/UpdateService)
        sink.error(("networkConfiguration",),
                   f"networkConfiguration is only valid with networkMode awsvpc, and the task definition "
                   f"({network_mode_where}) has {mode or 'bridge (the default)'!s}; remove it or set networkMode: awsvpc")
    ports = container_ports(taskdef)
    for index, lb in enumerate(as_list(doc.service.get("loadBalancers"))):
        if not isinstance(lb, dict) or not isinstance(lb.get("containerName"), str):
            continue
        name = lb["containerName"]
        if name not in ports:
            sink.error(("loadBalancers", index, "containerName"),
                       f"container {name!r} is not in the task definition ({', '.join(sorted(ports)) or 'none'})")
        elif all(isinstance(p, int) for p in ports[name]) and lb.get("containerPort") not in (None, *ports[name]):
            sink.error(("loadBalancers", index, "containerPort"),
                       f"container {name!r} has no portMapping with containerPort {lb['containerPort']}")


def _fargate_task(doc: ServiceDoc, taskdef: dict[str, Any]) -> bool:
    """Fargate tasks get the networkMode error itself (check_fargate): one error per cause."""
    return doc.runs_on_fargate() or requires_fargate(taskdef)


def merge_sync_policy(base: SyncPolicy, override: Any) -> SyncPolicy:
    """Environment defaults overridden field by field by a `syncPolicy` mapping."""
    if not isinstance(override, dict):
        return base
    changes = {attr: override[key] for key, attr in _SYNC_FIELDS.items() if key in override}
    if isinstance(override.get("approval"), dict):
        changes["approval"] = approval_policy(override["approval"])
    return replace(base, **changes)


def approval_policy(raw: dict[str, Any]) -> ApprovalPolicy:
    """`syncPolicy.approval` (schema-checked): approvers are Slack user IDs (U…, W…) and user-group IDs (S…)."""
    approvers = [str(a) for a in raw.get("approvers") or []]
    return ApprovalPolicy(users=tuple(a for a in approvers if not a.startswith("S")),
                          groups=tuple(a for a in approvers if a.startswith("S")),
                          count=int(raw.get("count", 1)), allow_author=bool(raw.get("allowAuthor", False)),
                          lifetime_seconds=_lifetime(raw.get("lifetime", "24h")))


def _lifetime(value: Any) -> int:
    try:
        return max(1, int(parse_duration(value)))
    except DurationError:  # the schema (a stricter pattern) already reported it
        return 24 * 3600


def build_gitops(doc: ServiceDoc, env_policy: SyncPolicy) -> GitOpsSettings:
    raw = doc.gitops
    blue_green = _blue_green(raw.get("codeDeploy"), doc.service) if doc.strategy == "blue-green" else None
    override = raw.get("syncPolicy")
    return GitOpsSettings(
        strategy="blue-green" if doc.strategy == "blue-green" else "rolling",
        blue_green=blue_green,
        ignore_differences=tuple(raw.get("ignoreDifferences") or ()),
        sync_policy=merge_sync_policy(env_policy, override) if isinstance(override, dict) else None,
        allow_latest=bool(raw.get("allowLatestTag", False)),
        adopt=bool(raw.get("adopt", False)),
        wait_timeout_seconds=parse_duration(raw.get("waitTimeout", 1800)),
        hooks=_hooks(raw.get("hooks")),
    )


def _hooks(raw: Any) -> tuple[HookTask, ...]:
    out = []
    for phase in ("preSync", "postSync"):
        for item in as_list(as_dict(raw).get(phase)):
            if isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(item.get("command"), list):
                try:
                    timeout = parse_duration(item.get("timeout", 600))
                except DurationError:
                    timeout = 600.0  # reported by _check_hooks
                out.append(HookTask(name=item["name"], phase=phase, command=tuple(str(c) for c in item["command"]),
                                    container=item.get("container"), timeout_seconds=timeout,
                                    rollback_on_failure=bool(item.get("rollbackOnFailure", False))))
    return tuple(out)


def _check_hooks(doc: ServiceDoc, taskdef: dict[str, Any], sink: FileIssues) -> None:
    """Hook containers exist; timeouts are durations; names unique per phase."""
    names = [c.get("name") for c in as_list(taskdef.get("containerDefinitions")) if isinstance(c, dict)]
    for phase in ("preSync", "postSync"):
        seen: set[str] = set()
        for index, item in enumerate(as_list(as_dict(doc.gitops.get("hooks")).get(phase))):
            if not isinstance(item, dict):
                continue
            where = ("gitops", "hooks", phase, index)
            if item.get("name") in seen:
                sink.error((*where, "name"), f"hook name {item['name']!r} used twice in {phase}")
            seen.add(str(item.get("name")))
            container = item.get("container")
            if isinstance(container, str) and container not in names:
                sink.error((*where, "container"), f"container {container!r} is not in the task definition "
                                                  f"({', '.join(str(n) for n in names) or 'none'})")
            if "timeout" in item:
                try:
                    if parse_duration(item["timeout"]) <= 0:
                        sink.error((*where, "timeout"), "must be more than 0")
                except DurationError as exc:
                    sink.error((*where, "timeout"), str(exc))
            if phase == "preSync" and "rollbackOnFailure" in item:
                sink.error((*where, "rollbackOnFailure"), "only for postSync: a failed preSync hook deploys nothing")


def _blue_green(raw: Any, service: Mapping[str, Any]) -> BlueGreen:
    raw = raw or {}
    lbs = [as_dict(lb) for lb in as_list(service.get("loadBalancers"))] or [{}]
    custom = None
    for key, kind in (("canary", "TimeBasedCanary"), ("linear", "TimeBasedLinear")):
        if isinstance(raw.get(key), dict):
            custom = {"type": kind, "percentage": raw[key]["percentage"],
                      "intervalMinutes": raw[key]["intervalMinutes"]}
    return BlueGreen(
        application=str(raw["application"]),
        deployment_group=str(raw["deploymentGroup"]),
        deployment_config=str(raw.get("deploymentConfig", DEFAULT_DEPLOYMENT_CONFIG)),
        custom_config=custom,
        hooks=dict(raw.get("hooks") or {}),
        container_name=raw.get("containerName", lbs[0].get("containerName")),
        container_port=raw.get("containerPort", lbs[0].get("containerPort")),
    )
