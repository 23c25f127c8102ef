"""CodePipeline's files deploy as they are: imageDetail.json, imagedefinitions.json, appspec.yaml hooks."""
from __future__ import annotations

import json

import pytest
import yaml
from test_sync_helpers import REGISTRY, copy_examples, describe, image_of, run_cli

pytestmark = pytest.mark.e2e

SMOKE_TEST = "arn:aws:lambda:eu-west-1:123456789012:function:api-smoke-test"
APPSPEC = f"""\
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
  - AfterAllowTestTraffic: "{SMOKE_TEST}"
"""


def test_pipeline_files_deploy_and_the_appspec_hook_reaches_codedeploy(sandbox, tmp_path):
    repo = copy_examples(tmp_path)
    api = repo / "environments" / "production" / "api"
    taskdef = json.loads((api / "taskdef.json").read_text())
    taskdef["containerDefinitions"][0]["image"] = "<IMAGE1_NAME>"        # the blue/green action's taskdef.json
    (api / "taskdef.json").write_text(json.dumps(taskdef, indent=2))
    (api / "imageDetail.json").write_text(json.dumps({"ImageURI": f"{REGISTRY}/api:2.1.0"}))
    (api / "appspec.yaml").write_text(APPSPEC)
    web = repo / "environments" / "production" / "web"
    (web / "imagedefinitions.json").write_text(json.dumps([{"name": "web", "imageUri": f"{REGISTRY}/web:1.5.0"}]))

    assert run_cli(sandbox, "validate", str(repo)).returncode == 0
    result = run_cli(sandbox, "sync", "--repo", str(repo), "--env", "production")
    assert result.returncode == 0, result.stdout + result.stderr

    assert image_of(sandbox, describe(sandbox, "production", "web")["taskDefinition"]).endswith("/web:1.5.0")
    assert image_of(sandbox, describe(sandbox, "production", "api")["taskDefinition"]).endswith("/api:2.1.0")
    cd = sandbox.client("codedeploy")
    [dep_id] = cd.list_deployments(applicationName="api", deploymentGroupName="api-production")["deployments"]
    revision = cd.get_deployment(deploymentId=dep_id)["deploymentInfo"]["revision"]
    appspec = yaml.safe_load(revision["appSpecContent"]["content"])
    assert appspec["Hooks"] == [{"AfterAllowTestTraffic": SMOKE_TEST}]
    props = appspec["Resources"][0]["TargetService"]["Properties"]
    assert props["TaskDefinition"] == describe(sandbox, "production", "api")["taskDefinition"]  # placeholder filled

    # In sync afterwards: the files are part of git's desired state, not a one-off.
    plan = run_cli(sandbox, "plan", "--repo", str(repo), "--env", "production")
    assert plan.returncode == 0, plan.stdout + plan.stderr
