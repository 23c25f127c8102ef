"""Real task definitions users drop in (tests/fixtures/aws-samples)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.manifests import load_task_definition

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "aws-samples"
SERVER_ONLY = {"taskDefinitionArn", "revision", "status", "requiresAttributes", "compatibilities",
               "registeredAt", "registeredBy", "deregisteredAt"}


def _write(tmp_path: Path, name: str, data: object) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data, indent=2))
    return path


def test_describe_output_loads_with_warnings_only() -> None:
    loaded = load_task_definition(SAMPLES / "sil-ecs-deploy_describe-task-definition_fargate.json", display="sil.json")
    assert loaded.ok and loaded.data is not None
    assert {i.severity for i in loaded.issues} == {"warning"}
    assert {i.path for i in loaded.issues} == {
        "taskDefinition.status", "taskDefinition.requiresAttributes", "taskDefinition.taskDefinitionArn",
        "taskDefinition.revision", "taskDefinition.compatibilities"}
    first = loaded.issues[0]
    assert str(first) == "sil.json:3: taskDefinition.status: server-only field set by AWS; ignored"
    assert not SERVER_ONLY & set(loaded.data)
    assert loaded.data["family"] == "app-task-def" and loaded.data["cpu"] == "256"


def test_register_input_and_response_both_load(tmp_path: Path) -> None:
    pair = json.loads((SAMPLES / "awscli_register-task-definition_sleep360.json").read_text())
    request = load_task_definition(_write(tmp_path, "request.json", pair["request"]))
    assert request.ok and request.issues == () and request.data == pair["request"]
    response = load_task_definition(_write(tmp_path, "response.json", pair["response"]))
    assert response.ok and all(i.severity == "warning" for i in response.issues)
    assert {i.path.split(".")[-1] for i in response.issues} == {"taskDefinitionArn", "revision", "status", "compatibilities"}
    # what is left is exactly RegisterTaskDefinition input: AWS's filled-in defaults remain (the diff normalizes them)
    assert set(response.data or {}) == {"containerDefinitions", "family", "volumes", "placementConstraints"}


def test_describe_wrapper_tags_are_kept(tmp_path: Path) -> None:
    inner = json.loads((SAMPLES / "sil-ecs-deploy_describe-task-definition_fargate.json").read_text())
    inner["tags"] = [{"key": "team", "value": "api"}]
    loaded = load_task_definition(_write(tmp_path, "td.json", inner))
    assert loaded.ok and loaded.data is not None and loaded.data["tags"] == [{"key": "team", "value": "api"}]


@pytest.mark.parametrize(("name", "placeholders"), [
    ("ecspresso_td-in-tags.json", {"taskDefinition.containerDefinitions[0].image"}),
    ("ecspresso_ci_ecs-task-def.json", {"executionRoleArn", "taskRoleArn", "containerDefinitions[0].image",
                                        "containerDefinitions[1].image"}),
])
def test_ecspresso_templates_are_reported_as_unresolved(name: str, placeholders: set[str]) -> None:
    loaded = load_task_definition(SAMPLES / name)
    errors = [i for i in loaded.issues if i.severity == "error"]
    assert errors and not loaded.ok
    assert all("unresolved template placeholder" in e.reason for e in errors)
    assert placeholders <= {e.path for e in errors}
    assert all(e.line is not None for e in errors)


def test_not_a_task_definition(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("[1, 2]")
    loaded = load_task_definition(path, display="x.json")
    assert loaded.data is None and [str(i) for i in loaded.issues] == [
        "x.json: $: expected a RegisterTaskDefinition input (a mapping), got list"]


def test_unparseable_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{\n  "family": "a",\n  "containerDefinitions": [\n}\n')
    loaded = load_task_definition(path, display="x.json")
    assert loaded.data is None and len(loaded.issues) == 1
    assert loaded.issues[0].line == 4 and loaded.issues[0].reason.startswith("cannot parse JSON")


def test_missing_file_is_an_issue_not_a_traceback(tmp_path: Path) -> None:
    loaded = load_task_definition(tmp_path / "missing.json", display="missing.json")
    assert loaded.data is None and loaded.issues[0].reason.startswith("cannot read file")


def test_tab_indented_json_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "tabs.json"
    path.write_text('{\n\t"family": "a",\n\t"containerDefinitions": [{"name": "a", "image": "a:1", "memory": 128}],\n\t"bogus": 1\n}\n')
    loaded = load_task_definition(path)
    assert [(i.line, i.path) for i in loaded.issues] == [(4, "bogus")]
