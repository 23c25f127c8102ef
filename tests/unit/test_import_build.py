"""reconciler import's pure part: a live service to service.yaml and taskdef.json contents."""
from __future__ import annotations

import json

import pytest
import yaml

from reconciler.commands._import_build import NotImportable, gitops_block, import_files
from reconciler.model import LiveService

TD = {"taskDefinitionArn": "arn:aws:ecs:eu-west-1:123456789012:task-definition/jobs:4", "revision": 4,
      "family": "jobs", "status": "ACTIVE", "networkMode": "awsvpc", "cpu": "256", "memory": "512",
      "requiresCompatibilities": ["FARGATE"], "registeredBy": "arn:aws:iam::123456789012:user/ci",
      "containerDefinitions": [{"name": "jobs", "image": "jobs:1.0.0", "cpu": 0, "essential": True,
                                "environment": [], "mountPoints": [], "volumesFrom": []}]}
SERVICE = {"serviceArn": "arn:aws:ecs:eu-west-1:123456789012:service/c/jobs", "serviceName": "jobs",
           "clusterArn": "arn:aws:ecs:eu-west-1:123456789012:cluster/c", "status": "ACTIVE", "desiredCount": 4,
           "runningCount": 4, "launchType": "FARGATE", "platformVersion": "LATEST", "taskDefinition": TD["taskDefinitionArn"],
           "schedulingStrategy": "REPLICA", "deploymentController": {"type": "ECS"}, "enableECSManagedTags": False,
           "roleArn": "arn:aws:iam::123456789012:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS",
           "deploymentConfiguration": {"maximumPercent": 200, "minimumHealthyPercent": 100,
                                       "deploymentCircuitBreaker": {"enable": True, "rollback": True}},
           "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1"], "securityGroups": ["sg-1"],
                                                            "assignPublicIp": "DISABLED"}},
           "tags": [{"key": "ecs-reconciler:managed-by", "value": "other"}, {"key": "aws:cloudformation:stack-name", "value": "x"}]}


def live(**changes) -> LiveService:
    return LiveService(environment="prod", name="jobs", arn=SERVICE["serviceArn"], service={**SERVICE, **changes},
                       task_definition=TD, task_definition_tags=({"key": "ecs-reconciler:spec-hash", "value": "abc"},))


def test_defaults_server_fields_and_foreign_tags_are_left_out() -> None:
    files = import_files(live(), None)
    service = yaml.safe_load(files.service_yaml)
    assert service == {"desiredCount": 4, "launchType": "FARGATE",
                       "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1"], "securityGroups": ["sg-1"]}},
                       "gitops": {"adopt": True}}
    assert json.loads(files.taskdef_json) == {
        "family": "jobs", "networkMode": "awsvpc", "containerDefinitions": [{"name": "jobs", "image": "jobs:1.0.0"}],
        "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512"}


def test_an_autoscaled_service_leaves_desired_count_to_the_scaler() -> None:
    service = yaml.safe_load(import_files(
        LiveService(environment="prod", name="jobs", arn="a", service=SERVICE, task_definition=TD, autoscaled=True),
        None).service_yaml)
    assert "desiredCount" not in service


def test_code_deploy_without_a_deployment_group_and_external_are_not_importable() -> None:
    with pytest.raises(NotImportable, match="no CodeDeploy deployment group names it"):
        import_files(live(deploymentController={"type": "CODE_DEPLOY"}), None)
    with pytest.raises(NotImportable, match="EXTERNAL"):
        import_files(live(deploymentController={"type": "EXTERNAL"}), None)


def test_a_linear_custom_config_becomes_the_linear_step() -> None:
    block = gitops_block("blue-green", {"application": "a", "deploymentGroup": "g", "deploymentConfig": "lin",
                                        "trafficRoutingConfig": {"type": "TimeBasedLinear", "timeBasedLinear": {
                                            "linearPercentage": 20, "linearInterval": 2}}})
    assert block["codeDeploy"]["linear"] == {"percentage": 20, "intervalMinutes": 2}
    assert block["strategy"] == "blue-green" and block["adopt"] is True
