"""ECS-native blue/green services: a finished swap of the target group pair is not drift,
a real change of either group is; step configurations and hooks compare with AWS's defaults."""
from __future__ import annotations

import copy
from typing import Any

from reconciler.diff import diff_services

ELB = "arn:aws:elasticloadbalancing:eu-west-1:123456789012"
BLUE, GREEN, OTHER = (f"{ELB}:targetgroup/{n}/{i}" for n, i in (("blue", 1), ("green", 2), ("other", 3)))


def service(primary: str = BLUE, alternate: str = GREEN) -> dict[str, Any]:
    return {
        "serviceName": "checkout", "desiredCount": 2, "launchType": "FARGATE",
        "loadBalancers": [{"targetGroupArn": primary, "containerName": "checkout", "containerPort": 8080,
                           "advancedConfiguration": {"alternateTargetGroupArn": alternate,
                                                     "productionListenerRule": f"{ELB}:listener-rule/app/x/1/1/1",
                                                     "roleArn": "arn:aws:iam::123456789012:role/infra"}}],
        "deploymentConfiguration": {"strategy": "LINEAR", "bakeTimeInMinutes": 5,
                                    "linearConfiguration": {"stepPercent": 25},
                                    "lifecycleHooks": [{"targetType": "PAUSE",
                                                        "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}]},
    }


def test_swapped_pair_after_a_blue_green_deployment_is_in_sync() -> None:
    drift = diff_services(service(), service(primary=GREEN, alternate=BLUE))
    assert drift.in_sync, drift.paths()


def test_a_changed_target_group_is_still_drift() -> None:
    for live in (service(primary=GREEN, alternate=OTHER), service(primary=OTHER, alternate=GREEN),
                 service(primary=BLUE, alternate=OTHER)):
        assert not diff_services(service(), live).in_sync


def test_aws_defaults_of_step_configuration_and_hooks_are_not_drift() -> None:
    live = copy.deepcopy(service())
    config = live["deploymentConfiguration"]
    config["linearConfiguration"] = {"stepPercent": 25.0, "stepBakeTimeInMinutes": 6}
    config["lifecycleHooks"][0]["timeoutConfiguration"] = {"timeoutInMinutes": 1440, "action": "ROLLBACK"}
    assert diff_services(service(), live).in_sync
    config["linearConfiguration"]["stepPercent"] = 20.0
    assert not diff_services(service(), live).in_sync
