"""No false drift: AWS's own input/output pairs and describe outputs normalize equal."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.diff import diff_task_definitions, normalize_task_definition, spec_hash

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_cli_register_request_equals_response() -> None:
    sample = load("aws-samples/awscli_register-task-definition_sleep360.json")
    drift = diff_task_definitions(sample["request"], sample["response"])
    assert drift.in_sync, drift.paths()


@pytest.mark.parametrize("name", [
    "aws-samples/sil-ecs-deploy_describe-task-definition_fargate.json",
    "aws-samples/ecspresso_td-in-tags.json",
])
def test_describe_output_dropped_into_git_equals_itself_live(name: str) -> None:
    described = load(name)
    assert diff_task_definitions(described, described).in_sync
    # The bare taskDefinition as desired, the whole response as live.
    assert diff_task_definitions(described["taskDefinition"], described).in_sync


def test_describe_output_minus_server_fields_equals_live() -> None:
    live = load("aws-samples/sil-ecs-deploy_describe-task-definition_fargate.json")
    desired = copy.deepcopy(live["taskDefinition"])
    for key in ("status", "requiresAttributes", "taskDefinitionArn", "revision", "compatibilities"):
        desired.pop(key)
    container = desired["containerDefinitions"][0]
    for key in ("links", "mountPoints", "entryPoint", "volumesFrom"):
        container.pop(key)
    container["portMappings"][0].pop("protocol")
    assert diff_task_definitions(desired, live).in_sync


def test_ecspresso_taskdef_equals_synthesized_aws_live() -> None:
    desired = load("diff/ecspresso_taskdef_desired.json")
    live = load("diff/ecspresso_taskdef_live.json")
    assert desired["cpu"] == "0.25 vCPU" and live["taskDefinition"]["cpu"] == "256"
    drift = diff_task_definitions(desired, live)
    assert drift.in_sync, drift.paths()


def test_server_only_fields_and_owned_tags_are_dropped() -> None:
    canonical = normalize_task_definition(load("diff/ecspresso_taskdef_live.json"))
    for key in ("taskDefinitionArn", "revision", "status", "requiresAttributes",
                "compatibilities", "registeredAt", "registeredBy"):
        assert key not in canonical
    assert canonical["tags"] == {"TaskType": "ecspresso-test"}


@pytest.mark.parametrize(("given", "stored"), [
    ("0.25 vCPU", "256"), ("1 vcpu", "1024"), ("2 vCPU", "2048"), (256, "256"), ("512", "512"),
])
def test_task_cpu_units(given: Any, stored: str) -> None:
    td = {"family": "f", "containerDefinitions": [{"name": "a", "image": "x:1"}], "cpu": given}
    assert normalize_task_definition(td)["cpu"] == stored


@pytest.mark.parametrize(("given", "stored"), [("1 GB", "1024"), ("1GB", "1024"), ("0.5 gb", "512"), (2048, "2048")])
def test_task_memory_units(given: Any, stored: str) -> None:
    td = {"family": "f", "containerDefinitions": [{"name": "a", "image": "x:1"}], "memory": given}
    assert normalize_task_definition(td)["memory"] == stored


@pytest.mark.parametrize(("mode", "host_port"), [("awsvpc", 8080), ("host", 8080), ("bridge", 0), (None, 0)])
def test_host_port_default_by_network_mode(mode: str | None, host_port: int) -> None:
    td: dict[str, Any] = {"family": "f", "containerDefinitions": [
        {"name": "web", "image": "x:1", "portMappings": [{"containerPort": 8080}]}]}
    if mode:
        td["networkMode"] = mode
    ports = normalize_task_definition(td)["containerDefinitions"]["web"]["portMappings"]
    assert ports == {"8080/tcp": {"containerPort": 8080, "hostPort": host_port, "protocol": "tcp"}}


def test_health_check_defaults_and_network_mode_default() -> None:
    desired = {"family": "f", "containerDefinitions": [
        {"name": "web", "image": "x:1", "healthCheck": {"command": ["CMD", "true"]}}]}
    live = {"taskDefinition": {"family": "f", "networkMode": "bridge", "containerDefinitions": [
        {"name": "web", "image": "x:1", "cpu": 0, "essential": True, "portMappings": [],
         "healthCheck": {"command": ["CMD", "true"], "interval": 30, "timeout": 5, "retries": 3}}]}}
    assert diff_task_definitions(desired, live).in_sync


def test_numeric_strings_compared_as_aws_stores_them() -> None:
    # YAML users write "512" for a container's memory; AWS stores an integer.
    desired = {"family": "f", "containerDefinitions": [
        {"name": "web", "image": "x:1", "memory": "512", "portMappings": [{"containerPort": "80"}]}]}
    live = {"family": "f", "containerDefinitions": [
        {"name": "web", "image": "x:1", "memory": 512, "portMappings": [{"containerPort": 80, "hostPort": 0}]}]}
    assert diff_task_definitions(desired, live).in_sync


def _reordered(td: dict[str, Any]) -> dict[str, Any]:
    td = copy.deepcopy(td)
    td["containerDefinitions"].reverse()
    for container in td["containerDefinitions"]:
        container.get("secrets", []).reverse()
        container.get("environment", []).reverse()
    td["tags"].reverse()
    return dict(reversed(list(td.items())))


def test_spec_hash_stable_under_reordering_defaults_and_owned_tags() -> None:
    desired = load("diff/ecspresso_taskdef_desired.json")
    variant = _reordered(desired)
    variant["containerDefinitions"][0]["cpu"] = 0  # AWS's default, made explicit
    variant["tags"].append({"key": "ecs-reconciler:commit", "value": "deadbeef"})
    assert spec_hash(variant) == spec_hash(desired)
    assert spec_hash(load("diff/ecspresso_taskdef_live.json")) == spec_hash(desired)
    assert len(spec_hash(desired)) == 64


def test_spec_hash_changes_on_real_change() -> None:
    desired = load("diff/ecspresso_taskdef_desired.json")
    changed = copy.deepcopy(desired)
    changed["containerDefinitions"][0]["image"] = "nginx:1.27.4"
    assert spec_hash(changed) != spec_hash(desired)
    tagged = copy.deepcopy(desired)
    tagged["tags"].append({"key": "team", "value": "web"})
    assert spec_hash(tagged) != spec_hash(desired)


@pytest.mark.parametrize("cpu, memory", [("256", "512"), ("0.25 vCPU", "0.5 GB"), ("1 vCPU", "2GB"),
                                         ("1 cpu", "2048"), ("1024", "2 GiB"), ("1024", "2048 MiB")])
def test_validation_and_normalizer_agree_on_task_size_spellings(cpu, memory):
    """A size validate accepts is one the normalizer turns into AWS's integer string; others are rejected."""
    from reconciler.diff.taskdef import task_size
    from reconciler.manifests.fargate import parse_cpu, parse_memory

    for value, parse in ((cpu, parse_cpu), (memory, parse_memory)):
        parsed = parse(value)
        if parsed is not None:
            assert task_size(value, parse) == str(parsed)
        else:
            assert not task_size(value, parse).isdigit()
