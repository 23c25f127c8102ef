"""CodeDeploy blue/green behaviour of the sandbox, driven only through boto3 over HTTP."""
from __future__ import annotations

import hashlib
import json
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from reconciler.sandbox import Sandbox
from reconciler.sandbox.codedeploy_engine import LIFECYCLE
from reconciler.sandbox.pytest_plugin import EXAMPLE_SEED

pytestmark = pytest.mark.e2e
REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
APPSPEC_YAML = """version: 0.0
Resources:
  - TargetService:
      Type: AWS::ECS::Service
      Properties:
        TaskDefinition: "{arn}"
        LoadBalancerInfo:
          ContainerName: api
          ContainerPort: 8080
"""


@pytest.fixture
def box(sandbox_factory: Any) -> Sandbox:
    return sandbox_factory(seed=EXAMPLE_SEED, speed=0)


def api_taskdef(ecs: Any, tag: str, family: str = "api-production") -> str:
    return ecs.register_task_definition(
        family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{"name": "api", "image": f"{REGISTRY}/api:{tag}", "portMappings": [{"containerPort": 8080}]}],
    )["taskDefinition"]["taskDefinitionArn"]


def deploy(cd: Any, arn: str, group: str = "api-production", as_json: bool = False) -> str:
    content = json.dumps({"version": 0.0, "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": {
        "TaskDefinition": arn, "LoadBalancerInfo": {"ContainerName": "api", "ContainerPort": 8080}}}}]}) \
        if as_json else APPSPEC_YAML.format(arn=arn)
    return cd.create_deployment(applicationName="api", deploymentGroupName=group, revision={
        "revisionType": "AppSpecContent",
        "appSpecContent": {"content": content, "sha256": hashlib.sha256(content.encode()).hexdigest()}})["deploymentId"]


def info(cd: Any, dep_id: str) -> dict[str, Any]:
    return cd.get_deployment(deploymentId=dep_id)["deploymentInfo"]


def weights(cd: Any, dep_id: str) -> dict[str, float]:
    target = cd.batch_get_deployment_targets(deploymentId=dep_id, targetIds=["production:api"])
    sets = target["deploymentTargets"][0]["ecsTarget"]["taskSetsInfo"]
    return {s["taskSetLabel"]: s["trafficWeight"] for s in sets}


def api(ecs: Any) -> dict[str, Any]:
    return ecs.describe_services(cluster="production", services=["api"])["services"][0]


def run_until(box: Sandbox, cd: Any, dep_id: str, statuses: set[str], limit: int = 20) -> dict[str, Any]:
    for _ in range(limit):
        current = info(cd, dep_id)
        if current["status"] in statuses:
            return current
        box.advance(15)
    raise AssertionError(f"deployment stayed {current['status']}")


def test_canary_shifts_traffic_in_steps_and_succeeds(box: Sandbox) -> None:
    ecs, cd = box.client("ecs"), box.client("codedeploy")
    new = api_taskdef(ecs, "2.0.1")
    dep_id = deploy(cd, new)
    first = info(cd, dep_id)
    assert first["status"] == "Created" and first["deploymentConfigName"] == "api-canary-10-percent-1-minute"
    assert not {"previousRevision", "errorInformation", "rollbackInfo"} & set(first)
    box.advance(15)
    assert info(cd, dep_id)["status"] == "InProgress"
    assert {t["status"] for t in api(ecs)["taskSets"]} == {"PRIMARY", "ACTIVE"}
    seen = []
    for _ in range(10):
        box.advance(15)
        current = weights(cd, dep_id)
        if current.get("Green") not in (None, 0.0) and current not in seen:
            seen.append(current)
        if current.get("Green") == 10.0:
            break
    assert seen[0] == {"Blue": 90.0, "Green": 10.0}
    box.advance(45)
    assert weights(cd, dep_id)["Green"] == 10.0  # the canary holds for its full minute
    done = run_until(box, cd, dep_id, {"Succeeded"})
    assert any("10% to replacement" in m for m in done["deploymentStatusMessages"])
    assert any("100% to replacement" in m for m in done["deploymentStatusMessages"])
    target = cd.batch_get_deployment_targets(deploymentId=dep_id, targetIds=["production:api"])["deploymentTargets"][0]
    events = target["ecsTarget"]["lifecycleEvents"]
    assert [e["lifecycleEventName"] for e in events] == list(LIFECYCLE)
    assert all(e["status"] == "Succeeded" for e in events)
    svc = api(ecs)
    assert [(t["status"], t["taskDefinition"]) for t in svc["taskSets"]] == [("PRIMARY", new)]
    assert svc["taskDefinition"] == new and svc["taskSets"][0]["externalId"] == dep_id


def test_one_active_deployment_per_group(box: Sandbox) -> None:
    ecs, cd = box.client("ecs"), box.client("codedeploy")
    arn = api_taskdef(ecs, "2.0.1")
    first = deploy(cd, arn, as_json=True)
    with pytest.raises(ClientError) as err:
        deploy(cd, arn)
    assert err.value.response["Error"]["Code"] == "DeploymentLimitExceededException"
    assert first in err.value.response["Error"]["Message"]


def test_stop_deployment_rolls_back(box: Sandbox) -> None:
    ecs, cd = box.client("ecs"), box.client("codedeploy")
    original = api(ecs)["taskDefinition"]
    dep_id = deploy(cd, api_taskdef(ecs, "2.0.1"))
    box.advance(45)
    cd.stop_deployment(deploymentId=dep_id, autoRollbackEnabled=True)
    stopped = info(cd, dep_id)
    assert stopped["status"] == "Stopped" and stopped["errorInformation"]["code"] == "MANUAL_STOP"
    rollback_id = stopped["rollbackInfo"]["rollbackDeploymentId"]
    rollback = run_until(box, cd, rollback_id, {"Succeeded"})
    assert rollback["creator"] == "codeDeployRollback"
    assert rollback["rollbackInfo"]["rollbackTriggeringDeploymentId"] == dep_id
    svc = api(ecs)
    assert [(t["status"], t["taskDefinition"]) for t in svc["taskSets"]] == [("PRIMARY", original)]
    with pytest.raises(ClientError) as err:
        cd.stop_deployment(deploymentId=dep_id)
    assert err.value.response["Error"]["Code"] == "DeploymentAlreadyCompletedException"


def test_alarm_fails_and_rolls_back(box: Sandbox) -> None:
    ecs, cd = box.client("ecs"), box.client("codedeploy")
    original = api(ecs)["taskDefinition"]
    dep_id = deploy(cd, api_taskdef(ecs, "2.1.0"))
    box.advance(60)
    request = urllib.request.Request(f"{box.endpoint_url}/_sandbox/fire-alarm", method="POST",
                                     data=json.dumps({"name": "api-production-5xx"}).encode())
    with urllib.request.urlopen(request) as response:
        assert json.load(response)["deployments"] == [dep_id]
    failed = info(cd, dep_id)
    assert failed["status"] == "Failed" and failed["errorInformation"]["code"] == "ALARM_ACTIVE"
    run_until(box, cd, failed["rollbackInfo"]["rollbackDeploymentId"], {"Succeeded"})
    assert api(ecs)["taskDefinition"] == original


def test_missing_image_in_replacement_fails_deployment(box: Sandbox) -> None:
    ecs, cd = box.client("ecs"), box.client("codedeploy")
    original = api(ecs)["taskDefinition"]
    dep_id = deploy(cd, api_taskdef(ecs, "9.9.9-missing"))
    failed = run_until(box, cd, dep_id, {"Failed"})
    assert failed["errorInformation"]["code"] == "ECS_UPDATE_ERROR"
    assert "CannotPullContainerError" in failed["errorInformation"]["message"]
    assert "rollbackDeploymentId" in failed["rollbackInfo"]
    assert [t["taskDefinition"] for t in api(ecs)["taskSets"]] == [original]


def test_ready_wait_until_continue(box: Sandbox) -> None:
    ecs, cd = box.client("ecs"), box.client("codedeploy")
    cd.update_deployment_group(applicationName="api", currentDeploymentGroupName="api-production",
                               deploymentConfigName="CodeDeployDefault.ECSAllAtOnce",
                               blueGreenDeploymentConfiguration={"deploymentReadyOption": {
                                   "actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": 60}})
    dep_id = deploy(cd, api_taskdef(ecs, "2.0.1"))
    ready = run_until(box, cd, dep_id, {"Ready"})
    assert ready["deploymentOverview"]["Ready"] == 1
    cd.continue_deployment(deploymentId=dep_id, deploymentWaitType="READY_WAIT")
    assert run_until(box, cd, dep_id, {"Succeeded"})["status"] == "Succeeded"


def test_deployment_configs(box: Sandbox) -> None:
    cd = box.client("codedeploy")
    names = cd.list_deployment_configs()["deploymentConfigsList"]
    assert "CodeDeployDefault.ECSAllAtOnce" in names and "api-canary-10-percent-1-minute" in names
    custom = cd.get_deployment_config(deploymentConfigName="api-canary-10-percent-1-minute")["deploymentConfigInfo"]
    assert custom["trafficRoutingConfig"] == {"type": "TimeBasedCanary",
                                              "timeBasedCanary": {"canaryPercentage": 10, "canaryInterval": 1}}
    group = cd.get_deployment_group(applicationName="api", deploymentGroupName="api-staging")["deploymentGroupInfo"]
    assert group["deploymentConfigName"] == "CodeDeployDefault.ECSAllAtOnce"
    assert group["alarmConfiguration"]["alarms"] == [{"name": "api-staging-5xx"}]
