"""CodePipeline's files in a service directory: imageDetail.json, imagedefinitions.json, appspec.yaml."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reconciler.manifests import load_repository
from reconciler.model import DesiredState

EXAMPLES = Path(__file__).resolve().parents[2] / "deploy-manifests" / "examples"
ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLES, root)
    return root


def set_image(taskdef: Path, image: str) -> None:
    data = json.loads(taskdef.read_text())
    data["containerDefinitions"][0]["image"] = image
    taskdef.write_text(json.dumps(data, indent=2))


def spec(state: DesiredState, key: str):
    return next(s for s in state.services if s.key == key)


def errors(state: DesiredState) -> list[str]:
    return [str(i) for i in state.issues if i.severity == "error"]


def test_image_detail_fills_the_placeholder(repo: Path) -> None:
    svc = repo / "environments" / "staging" / "api"
    set_image(svc / "taskdef.json", "<IMAGE1_NAME>")
    (svc / "imageDetail.json").write_text(json.dumps({"ImageURI": f"{ECR}/api:2.1.0"}))
    state = load_repository(repo)
    assert errors(state) == []
    assert spec(state, "staging/api").task_definition["containerDefinitions"][0]["image"] == f"{ECR}/api:2.1.0"


def test_a_placeholder_without_its_file_names_the_file_to_add(repo: Path) -> None:
    svc = repo / "environments" / "staging" / "api"
    set_image(svc / "taskdef.json", "<IMAGE1_NAME>")
    state = load_repository(repo)
    [error] = errors(state)  # one error: the task definition's placeholder check, not a second one here
    line = next(n for n, t in enumerate((svc / "taskdef.json").read_text().splitlines(), 1) if "<IMAGE1_NAME>" in t)
    assert error.startswith(f"environments/staging/api/taskdef.json:{line}: containerDefinitions[0].image: "), error
    assert "imageDetail.json" in error
    assert "staging/api" in state.broken_services and "staging/web" not in state.broken_services


def test_image_definitions_replace_the_image_of_the_named_container(repo: Path) -> None:
    svc = repo / "environments" / "staging" / "web"
    (svc / "imagedefinitions.json").write_text(json.dumps([{"name": "web", "imageUri": f"{ECR}/web:1.5.0"}]))
    state = load_repository(repo)
    assert errors(state) == []
    assert spec(state, "staging/web").task_definition["containerDefinitions"][0]["image"] == f"{ECR}/web:1.5.0"


def test_image_definitions_errors_name_file_line_and_entry(repo: Path) -> None:
    svc = repo / "environments" / "staging" / "web"
    (svc / "imagedefinitions.json").write_text('[\n  {"name": "web", "imageUri": "x/web:1"},\n'
                                               '  {"name": "wbe", "imageUri": "x/web:2"}\n]\n')
    state = load_repository(repo)
    assert errors(state) == ["environments/staging/web/imagedefinitions.json:3: [1].name: no container named 'wbe' "
                             "in taskdef.json (containers: web)"]
    (svc / "imagedefinitions.json").write_text('{"ImageURI": "x"}')
    assert errors(load_repository(repo)) == [
        'environments/staging/web/imagedefinitions.json: $: expected a list like [{"name": "<container>", '
        '"imageUri": "<image>"}]']


def test_pinning_applies_to_images_from_pipeline_files(repo: Path) -> None:
    svc = repo / "environments" / "staging" / "web"
    (svc / "imagedefinitions.json").write_text(json.dumps([{"name": "web", "imageUri": f"{ECR}/web:latest"}]))
    assert any("latest" in e for e in errors(load_repository(repo)))


APPSPEC = """\
version: 0.0
Resources:
  - TargetService:
      Type: AWS::ECS::Service
      Properties:
        TaskDefinition: <TASK_DEFINITION>
        LoadBalancerInfo:
          ContainerName: "api"
          ContainerPort: 8080
Hooks:
  - AfterAllowTestTraffic: "arn:aws:lambda:eu-west-1:123456789012:function:smoke-test"
  - BeforeInstall: "check-migrations"
"""


def test_appspec_hooks_go_into_the_blue_green_settings(repo: Path) -> None:
    (repo / "environments" / "staging" / "api" / "appspec.yaml").write_text(APPSPEC)
    state = load_repository(repo)
    assert errors(state) == []
    bg = spec(state, "staging/api").gitops.blue_green
    assert bg is not None and dict(bg.hooks) == {
        "BeforeInstall": "check-migrations",
        "AfterAllowTestTraffic": "arn:aws:lambda:eu-west-1:123456789012:function:smoke-test"}


def test_appspec_contradicting_service_yaml_is_an_error(repo: Path) -> None:
    text = APPSPEC.replace('ContainerName: "api"', 'ContainerName: "web"').replace("8080", "9090").replace(
        "<TASK_DEFINITION>", "arn:aws:ecs:eu-west-1:123456789012:task-definition/api:1").replace(
        "BeforeInstall", "BeforeBlockTraffic")
    (repo / "environments" / "staging" / "api" / "appspec.yaml").write_text(text)
    state = load_repository(repo)
    prefix = "environments/staging/api/appspec.yaml"
    assert errors(state) == [
        f"{prefix}:6: Resources[0].TargetService.Properties.TaskDefinition: must be the <TASK_DEFINITION> placeholder: "
        "the reconciler deploys the revision it registers from the taskdef file",
        f"{prefix}:8: Resources[0].TargetService.Properties.LoadBalancerInfo.ContainerName: 'web' contradicts "
        "service.yaml, which deploys containerName 'api' (loadBalancers[0] or gitops.codeDeploy)",
        f"{prefix}:9: Resources[0].TargetService.Properties.LoadBalancerInfo.ContainerPort: 9090 contradicts "
        "service.yaml, which deploys containerPort 8080 (loadBalancers[0] or gitops.codeDeploy)",
        f"{prefix}:12: Hooks[1].BeforeBlockTraffic: unknown ECS hook 'BeforeBlockTraffic'; ECS hooks are "
        "BeforeInstall, AfterInstall, AfterAllowTestTraffic, BeforeAllowTraffic, AfterAllowTraffic",
    ]
    assert state.broken_services == frozenset({"staging/api"})


def test_appspec_next_to_a_rolling_service_is_ignored_with_a_warning(repo: Path) -> None:
    (repo / "environments" / "staging" / "web" / "appspec.yaml").write_text(APPSPEC)
    state = load_repository(repo)
    assert errors(state) == []
    assert [str(i) for i in state.issues] == [
        "environments/staging/web/appspec.yaml: $: ignored: an AppSpec is used by blue-green (CODE_DEPLOY) "
        "services only"]
