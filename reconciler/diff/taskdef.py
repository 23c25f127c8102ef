"""Canonical form of a task definition, for comparing git with AWS.

Sources for every default are cited inline: [bc-ecs] is the botocore 1.43.11
ECS service model (`botocore/data/ecs/*/service-2.json`), aws-behaviour.md is
`/work/shared/reference/aws-behaviour.md` §1. Fields we do not know are kept
as they are (after dropping empty values): a whitelist would hide real drift
(ecspresso lost ipcMode/pidMode that way, ecs-deploy-tools.md §2).
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from reconciler.diff.canonical import (
    JSONDict,
    as_bool,
    as_int,
    coerce,
    drop_if,
    keyed,
    nested,
    prune,
    set_default,
    sorted_set,
)
from reconciler.manifests.awsmodel import taskdef_server_fields
from reconciler.manifests.fargate import parse_cpu, parse_memory
from reconciler.model import is_unmanaged_tag, tag_dict, tag_list

#: Besides the fields AWS computes (derived from botocore's model by `taskdef_server_fields`:
#: `TaskDefinition` members that `RegisterTaskDefinitionRequest` lacks, aws-behaviour.md §1),
#: the response envelope is never compared.
NOT_COMPARED = frozenset({"ResponseMetadata"})

_CONTAINER_INTS = ("cpu", "memory", "memoryReservation", "startTimeout", "stopTimeout")
#: Container booleans whose documented default is false ([bc-ecs] ContainerDefinition;
#: older describe outputs materialise them, aws-samples README "amazon-ecs-cli PR #669").
_CONTAINER_FALSE = ("privileged", "readonlyRootFilesystem", "disableNetworking",
                    "interactive", "pseudoTerminal")


def unwrap_task_definition(td: Mapping[str, Any]) -> tuple[JSONDict, list[Any]]:
    """Split a DescribeTaskDefinition response (or bare taskDefinition) into body and tags.

    Tags come back beside `taskDefinition` only with include=TAGS ([bc-ecs]
    DescribeTaskDefinitionRequest.include); files dropped into git sometimes
    carry them inside (ecspresso td-in-tags.json).
    """
    wrapped = isinstance(td.get("taskDefinition"), Mapping)
    body = dict(td["taskDefinition"] if wrapped else td)
    tags = _tag_list(td.get("tags")) if wrapped else []
    tags += _tag_list(body.pop("tags", None))
    return body, tags


def _tag_list(tags: Any) -> list[Any]:
    return tag_list(tag_dict(tags))  # YAML users may write a plain map


def canonical_tags(tags: Any) -> JSONDict:
    """Tags as {key: value}, without the ones the reconciler or AWS set themselves."""
    return {k: v for k, v in tag_dict(tags).items() if not is_unmanaged_tag(k)}


def task_size(value: Any, parse: Callable[[object], int | None]) -> Any:
    """Task cpu/memory as the integer string AWS stores.

    "String values are converted to an integer indicating the CPU units/MiB when
    the task definition is registered" ([bc-ecs] RegisterTaskDefinitionRequest.cpu
    /memory): "0.25 vCPU" -> "256", "1 GB" / "1GB" -> "1024". `parse` is the
    validator's own parser (manifests.fargate), so both read a value the same way;
    what it cannot read stays as written (validation rejects it).
    """
    if value is None:
        return None
    parsed = parse(value)
    if parsed is not None:
        return str(parsed)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _env_value(value: Any) -> Any:
    # Environment values are strings in AWS ([bc-ecs] KeyValuePair.value); YAML may give 3 or true.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def _port_mapping(pm: Mapping[str, Any], network_mode: str) -> JSONDict:
    pm = dict(pm)
    coerce(pm, ("containerPort", "hostPort"), as_int)
    # protocol defaults to tcp (aws-behaviour.md §1 "Port mappings").
    pm["protocol"] = str(pm.get("protocol") or "tcp").lower()
    if "containerPortRange" not in pm and "containerPort" in pm:
        if network_mode in ("awsvpc", "host"):
            # awsvpc/host: hostPort = containerPort ([bc-ecs] PortMapping.hostPort).
            set_default(pm, "hostPort", pm["containerPort"])
        elif network_mode == "bridge":
            # bridge: omitted means dynamic, returned as 0 (aws-behaviour.md §1, Terraform fixtures).
            set_default(pm, "hostPort", 0)
    return pm


def _port_key(pm: Mapping[str, Any]) -> str | None:
    port = pm.get("containerPort", pm.get("containerPortRange"))
    return None if port is None else f"{port}/{pm.get('protocol', 'tcp')}"


def _health_check(hc: JSONDict) -> JSONDict:
    coerce(hc, ("interval", "timeout", "retries", "startPeriod"), as_int)
    # interval 30, timeout 5, retries 3; startPeriod not added ([bc-ecs] HealthCheck; aws-behaviour.md §1).
    for key, default in (("interval", 30), ("timeout", 5), ("retries", 3)):
        set_default(hc, key, default)
    return hc


def _linux_parameters(lp: JSONDict) -> JSONDict:
    caps = dict(lp.get("capabilities") or {})
    for key in ("add", "drop"):
        if key in caps:
            caps[key] = sorted_set(caps[key])
    lp["capabilities"] = caps
    if "devices" in lp:
        lp["devices"] = keyed(lp["devices"], lambda d: d.get("containerPath") or d.get("hostPath"))
    if "tmpfs" in lp:
        lp["tmpfs"] = keyed(lp["tmpfs"], lambda t: t.get("containerPath"))
    coerce(lp, ("sharedMemorySize", "maxSwap", "swappiness"), as_int)
    coerce(lp, ("initProcessEnabled",), as_bool)
    drop_if(lp, "initProcessEnabled", False)  # an AWS-filled `linuxParameters` equals an absent one
    return lp


def _log_configuration(lc: JSONDict) -> JSONDict:
    if "options" in lc:
        lc["options"] = {k: _env_value(v) for k, v in (lc["options"] or {}).items()}
    if "secretOptions" in lc:
        lc["secretOptions"] = keyed(lc["secretOptions"], lambda s: s.get("name"), lambda s: s.get("valueFrom"))
    return lc


def _container(c: Mapping[str, Any], network_mode: str) -> JSONDict:
    c = dict(c)
    coerce(c, _CONTAINER_INTS, as_int)
    coerce(c, ("essential",) + _CONTAINER_FALSE, as_bool)
    set_default(c, "cpu", 0)             # aws-behaviour.md §1: cpu 0 when omitted
    set_default(c, "essential", True)    # [bc-ecs] ContainerDefinition.essential
    for key in _CONTAINER_FALSE:
        set_default(c, key, False)
    # "By default, the value is enabled" ([bc-ecs] ContainerDefinition.versionConsistency).
    set_default(c, "versionConsistency", "enabled")
    # Named lists: AWS may reorder them (aws-behaviour.md §1 "Ordering is not preserved").
    c["environment"] = keyed(c.get("environment") or (), lambda e: e.get("name"),
                             lambda e: _env_value(e.get("value", "")))
    c["secrets"] = keyed(c.get("secrets") or (), lambda s: s.get("name"), lambda s: s.get("valueFrom"))
    c["portMappings"] = keyed((_port_mapping(p, network_mode) for p in c.get("portMappings") or ()), _port_key)
    # readOnly defaults to false ([bc-ecs] MountPoint.readOnly, VolumeFrom.readOnly).
    c["mountPoints"] = keyed(({"readOnly": False, **m} for m in c.get("mountPoints") or ()),
                             lambda m: m.get("containerPath"))
    c["volumesFrom"] = keyed(({"readOnly": False, **v} for v in c.get("volumesFrom") or ()),
                             lambda v: v.get("sourceContainer"))
    c["ulimits"] = keyed(c.get("ulimits") or (), lambda u: u.get("name"))
    c["systemControls"] = keyed(c.get("systemControls") or (), lambda s: s.get("namespace"),
                                lambda s: s.get("value"))
    c["resourceRequirements"] = keyed(c.get("resourceRequirements") or (), lambda r: r.get("type"),
                                      lambda r: r.get("value"))
    # dependsOn is a set of conditions on other containers, one per container name:
    # its order carries no meaning ([bc-ecs] ContainerDefinition.dependsOn, ContainerDependency).
    c["dependsOn"] = keyed(c.get("dependsOn") or (), lambda d: d.get("containerName"),
                           lambda d: d.get("condition"))
    c["extraHosts"] = keyed(c.get("extraHosts") or (), lambda h: h.get("hostname"), lambda h: h.get("ipAddress"))
    for key in ("links", "dockerSecurityOptions", "credentialSpecs"):
        c[key] = sorted_set(c.get(key) or ())
    # Kept in order: command, entryPoint, dnsServers, dnsSearchDomains (resolver order),
    # environmentFiles ("processed from the top down", [bc-ecs] ContainerDefinition.environmentFiles).
    nested(c, "healthCheck", _health_check)
    nested(c, "linuxParameters", _linux_parameters)
    nested(c, "logConfiguration", _log_configuration)
    nested(c, "restartPolicy", lambda rp: {**rp, "ignoredExitCodes": sorted_set(rp.get("ignoredExitCodes") or ())})
    return c


def _efs(efs: JSONDict) -> JSONDict:
    # "Specifying / will have the same effect as omitting this parameter"; transitEncryption
    # defaults to DISABLED ([bc-ecs] EFSVolumeConfiguration).
    drop_if(efs, "rootDirectory", "/")
    drop_if(efs, "transitEncryption", "DISABLED")
    return efs


def _volume(v: Mapping[str, Any]) -> JSONDict:
    v = dict(v)
    nested(v, "efsVolumeConfiguration", _efs)
    return v


def normalize_task_definition(td: Mapping[str, Any]) -> JSONDict:
    """Canonical form of a RegisterTaskDefinition input or a DescribeTaskDefinition output.

    Lists of named things become dicts keyed by name (containers by `name`,
    environment/secrets by `name`, tags by `key`, port mappings by
    `containerPort/protocol`); the result is for comparing and hashing only,
    not an API input.
    """
    body, tags = unwrap_task_definition(td)
    dropped = taskdef_server_fields() | NOT_COMPARED
    out = {k: v for k, v in body.items() if k not in dropped}
    # "If no network mode is specified, the default is bridge" ([bc-ecs] RegisterTaskDefinitionRequest.networkMode).
    network_mode = str(out.get("networkMode") or "bridge")
    out["networkMode"] = network_mode
    out["cpu"] = task_size(out.get("cpu"), parse_cpu)
    out["memory"] = task_size(out.get("memory"), parse_memory)
    coerce(out, ("enableFaultInjection",), as_bool)
    set_default(out, "enableFaultInjection", False)  # "The default value is false" ([bc-ecs])
    out["containerDefinitions"] = keyed(
        (_container(c, network_mode) for c in out.get("containerDefinitions") or ()),
        lambda c: c.get("name"))
    out["requiresCompatibilities"] = sorted_set(out.get("requiresCompatibilities") or ())
    out["placementConstraints"] = sorted_set(out.get("placementConstraints") or ())
    out["volumes"] = keyed((_volume(v) for v in out.get("volumes") or ()), lambda v: v.get("name"))
    out["inferenceAccelerators"] = keyed(out.get("inferenceAccelerators") or (),
                                         lambda a: a.get("deviceName"), lambda a: a.get("deviceType"))
    # Proxy properties are named CNI settings "specified as key-value pairs" ([bc-ecs]
    # ProxyConfiguration.properties): a map, so keyed by name (ecspresso sorts them too).
    nested(out, "proxyConfiguration", lambda proxy: {**proxy, "properties": keyed(
        proxy.get("properties") or (), lambda p: p.get("name"), lambda p: p.get("value", ""))})
    out["tags"] = canonical_tags(tags)
    return prune(out)


def spec_hash(task_definition: Mapping[str, Any]) -> str:
    """sha256 of the canonical desired task definition: equal for equivalent definitions.

    Tags under `ecs-reconciler:` are excluded (they record the hash and commit themselves).
    """
    canonical = normalize_task_definition(task_definition)
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
