"""AppSpec building for CodeDeploy ECS deployments."""
from __future__ import annotations

import json

import pytest

from reconciler.apply.appspec import AppSpecError, appspec_content, appspec_task_definition, build_appspec
from reconciler.aws.codedeploy import traffic_routing_config
from reconciler.model import BlueGreen

TD = "arn:aws:ecs:eu-west-1:123456789012:task-definition/api-production:7"
SERVICE = {
    "launchType": "FARGATE",
    "platformVersion": "1.4.0",
    "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1", "subnet-2"],
                                                     "securityGroups": ["sg-1"]}},
    "loadBalancers": [{"targetGroupArn": "arn:tg/blue", "containerName": "api", "containerPort": 8080}],
    "capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}],
}


def test_appspec_has_target_service_from_the_service():
    spec = build_appspec(SERVICE, TD, BlueGreen(application="api", deployment_group="api-production"))
    props = spec["Resources"][0]["TargetService"]["Properties"]
    assert spec["version"] == "0.0"
    assert spec["Resources"][0]["TargetService"]["Type"] == "AWS::ECS::Service"
    assert props["TaskDefinition"] == TD
    assert props["LoadBalancerInfo"] == {"ContainerName": "api", "ContainerPort": 8080}
    assert props["PlatformVersion"] == "1.4.0"
    assert props["NetworkConfiguration"] == {"AwsvpcConfiguration": {
        "Subnets": ["subnet-1", "subnet-2"], "SecurityGroups": ["sg-1"], "AssignPublicIp": "DISABLED"}}
    assert props["CapacityProviderStrategy"] == [{"Base": 0, "CapacityProvider": "FARGATE_SPOT", "Weight": 1}]
    assert "Hooks" not in spec


def test_hooks_come_in_lifecycle_order_and_container_can_be_overridden():
    bg = BlueGreen(application="a", deployment_group="g", container_name="sidecar", container_port=9000,
                   hooks={"AfterAllowTraffic": "check-after", "BeforeInstall": "prepare"})
    spec = build_appspec(SERVICE, TD, bg)
    assert spec["Hooks"] == [{"BeforeInstall": "prepare"}, {"AfterAllowTraffic": "check-after"}]
    props = spec["Resources"][0]["TargetService"]["Properties"]
    assert props["LoadBalancerInfo"] == {"ContainerName": "sidecar", "ContainerPort": 9000}


def test_missing_load_balancer_and_unknown_hook_are_errors():
    with pytest.raises(AppSpecError, match="loadBalancers"):
        build_appspec({"launchType": "FARGATE"}, TD, BlueGreen(application="a", deployment_group="g"))
    with pytest.raises(AppSpecError, match="BeforeTraffic"):
        build_appspec(SERVICE, TD, BlueGreen(application="a", deployment_group="g", hooks={"BeforeTraffic": "x"}))


def test_content_round_trips_to_the_task_definition():
    content = appspec_content(build_appspec(SERVICE, TD, BlueGreen(application="a", deployment_group="g")))
    assert json.loads(content)["version"] == "0.0"
    assert appspec_task_definition(content) == TD
    yaml_content = f"version: 0.0\nResources:\n  - TargetService:\n      Properties:\n        TaskDefinition: {TD}\n"
    assert appspec_task_definition(yaml_content) == TD
    assert appspec_task_definition("not: [valid") is None


def test_traffic_routing_config_from_manifest_steps():
    assert traffic_routing_config({"type": "TimeBasedCanary", "percentage": 10, "intervalMinutes": 1}) == {
        "type": "TimeBasedCanary", "timeBasedCanary": {"canaryPercentage": 10, "canaryInterval": 1}}
    assert traffic_routing_config({"type": "TimeBasedLinear", "percentage": 20, "intervalMinutes": 3}) == {
        "type": "TimeBasedLinear", "timeBasedLinear": {"linearPercentage": 20, "linearInterval": 3}}
    assert traffic_routing_config({"type": "AllAtOnce"}) == {"type": "AllAtOnce"}
