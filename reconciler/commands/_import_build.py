"""Live service -> service.yaml and taskdef.json contents, for `reconciler import`. Pure.

Only fields of the API's input shapes are kept, then everything the diff cannot tell
from its absence is removed (reconciler.diff.minimal): AWS's defaults, server-only
fields, empty lists. Keys follow the order of botocore's input shapes, so two imports
of the same service write the same bytes.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from reconciler.diff.minimal import minimal_service, minimal_task_definition
from reconciler.diff.service import with_primary_fields
from reconciler.diff.taskdef import canonical_tags
from reconciler.manifests.awsmodel import member_names
from reconciler.manifests.shapes import ordered_like, required_members
from reconciler.model import LiveService, Strategy, tag_list

REGISTER, CREATE = "RegisterTaskDefinition", "CreateService"
#: CreateService members that never go into service.yaml: the environment names the
#: cluster, the directory names the service, the reconciler registers the task definition.
NOT_IN_SERVICE_YAML = frozenset({"cluster", "serviceName", "taskDefinition", "clientToken"})
_TRAFFIC_STEPS = {"TimeBasedCanary": ("canary", "timeBasedCanary", "canaryPercentage", "canaryInterval"),
                  "TimeBasedLinear": ("linear", "timeBasedLinear", "linearPercentage", "linearInterval")}


class NotImportable(Exception):
    """The live service cannot be described by our manifest format; the message says why."""


@dataclass(frozen=True)
class ImportedFiles:
    name: str
    service_yaml: str
    taskdef_json: str


def _user_tags(tags: Any) -> list[dict[str, str]]:
    return tag_list(canonical_tags(tags))


def task_definition_document(live: LiveService) -> dict[str, Any]:
    """The RegisterTaskDefinition input that compares in sync with the live revision."""
    live_td = live.task_definition_data()
    if live_td is None:
        raise NotImportable("the service has no task definition")
    members = member_names(REGISTER)
    candidate = {k: v for k, v in live_td.items() if k in members and k != "tags"}
    tags = _user_tags(live.task_definition_tags)
    if tags:
        candidate["tags"] = tags
    minimal = minimal_task_definition(candidate, live_td, list(live.task_definition_tags),
                                      required=lambda path: required_members(REGISTER, path))
    return ordered_like(REGISTER, minimal)


def strategy_of(live: LiveService) -> Strategy:
    controller = live.controller
    if controller == "EXTERNAL":
        raise NotImportable("the EXTERNAL deployment controller is not supported")
    return "blue-green" if controller == "CODE_DEPLOY" else "rolling"


def service_document(live: LiveService, code_deploy: Mapping[str, Any] | None) -> dict[str, Any]:
    """service.yaml: the CreateService fields that compare in sync, then the gitops block."""
    strategy = strategy_of(live)
    lifted = with_primary_fields(live.service)
    members = member_names(CREATE) - NOT_IN_SERVICE_YAML
    candidate = {k: v for k, v in lifted.items() if k in members and k != "tags"}
    if lifted.get("roleArn") and "role" not in candidate:
        candidate["role"] = lifted["roleArn"]  # describe says roleArn, CreateService takes role
    tags = _user_tags(lifted.get("tags"))
    if tags:
        candidate["tags"] = tags
    minimal = minimal_service(candidate, live.service, strategy=strategy, compare_desired_count=not live.autoscaled,
                              required=lambda path: required_members(CREATE, path))
    document = ordered_like(CREATE, minimal)
    document["gitops"] = gitops_block(strategy, code_deploy)
    return document


def gitops_block(strategy: Strategy, code_deploy: Mapping[str, Any] | None) -> dict[str, Any]:
    gitops: dict[str, Any] = {}
    if strategy == "blue-green":
        if code_deploy is None:
            raise NotImportable("it uses the CODE_DEPLOY controller, but no CodeDeploy deployment group names it")
        gitops["strategy"] = "blue-green"
        block = {"application": code_deploy["application"], "deploymentGroup": code_deploy["deploymentGroup"],
                 "deploymentConfig": code_deploy["deploymentConfig"]}
        routing = code_deploy.get("trafficRoutingConfig") or {}
        step = _TRAFFIC_STEPS.get(str(routing.get("type")))
        if step and isinstance(routing.get(step[1]), Mapping):
            key, field, percentage, interval = step
            block[key] = {"percentage": int(routing[field][percentage]), "intervalMinutes": int(routing[field][interval])}
        gitops["codeDeploy"] = block
    gitops["adopt"] = True  # the service exists and is not ours yet: take it over on the first sync
    return gitops


def import_files(live: LiveService, code_deploy: Mapping[str, Any] | None) -> ImportedFiles:
    service = service_document(live, code_deploy)
    taskdef = task_definition_document(live)
    header = (f"# Imported by `reconciler import` from service {live.name} (environment {live.environment}).\n"
              "# CreateService fields (AWS camelCase) + gitops; see docs/manifests.md.\n")
    body = yaml.safe_dump(service, sort_keys=False, default_flow_style=False, width=120, allow_unicode=True)
    return ImportedFiles(name=live.name, service_yaml=header + body,
                         taskdef_json=json.dumps(taskdef, indent=2, ensure_ascii=False) + "\n")
