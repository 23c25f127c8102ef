"""Services: no false drift on AWS's own samples, real changes caught, desiredCount left to the scaler."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.diff import diff_service_spec, diff_services, normalize_service
from reconciler.model import GitOpsSettings, LiveService, ServiceSpec

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_create_service_request_equals_response() -> None:
    request = load("diff/create-service_fargate_request.json")["request"]
    response = load("aws-samples/awscli_create-service_fargate.json")["response"]["service"]
    drift = diff_services(request, response)
    assert drift.in_sync, drift.paths()


def test_ecspresso_service_equals_synthesized_describe_item() -> None:
    desired = load("diff/ecspresso_service_desired.json")
    live = load("diff/ecspresso_service_live.json")
    assert "volumeConfigurations" not in live  # only on the PRIMARY deployment, as AWS returns it
    drift = diff_services(desired, live)
    assert drift.in_sync, drift.paths()


def test_server_fields_dropped_and_defaults_applied() -> None:
    canonical = normalize_service(load("diff/ecspresso_service_live.json"))
    for key in ("serviceArn", "status", "runningCount", "deployments", "events", "roleArn",
                "createdAt", "platformFamily", "taskDefinition", "serviceName"):
        assert key not in canonical
    minimal = normalize_service({"serviceName": "s", "desiredCount": 1, "launchType": "FARGATE",
                                 "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["b", "a"]}}})
    assert minimal["deploymentConfiguration"]["maximumPercent"] == 200
    assert minimal["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": False, "rollback": False}
    assert minimal["networkConfiguration"]["awsvpcConfiguration"] == {"subnets": ["a", "b"], "assignPublicIp": "DISABLED"}
    assert minimal["platformVersion"] == "LATEST" and minimal["propagateTags"] == "NONE"


def test_daemon_defaults_and_no_desired_count() -> None:
    canonical = normalize_service({"schedulingStrategy": "DAEMON", "desiredCount": 3})
    assert canonical["deploymentConfiguration"]["maximumPercent"] == 100
    assert canonical["deploymentConfiguration"]["minimumHealthyPercent"] == 0
    assert "desiredCount" not in canonical


@pytest.mark.parametrize(("field", "value", "path", "kind", "live"), [
    ("deploymentConfiguration", {"maximumPercent": 150}, "service/deploymentConfiguration/maximumPercent", "changed", 200),
    ("deploymentConfiguration", {"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
     "service/deploymentConfiguration/deploymentCircuitBreaker/enable", "changed", False),
    ("propagateTags", "TASK_DEFINITION", "service/propagateTags", "changed", "NONE"),
    ("enableExecuteCommand", True, "service/enableExecuteCommand", "changed", False),
    ("healthCheckGracePeriodSeconds", 60, "service/healthCheckGracePeriodSeconds", "changed", 0),
    ("platformVersion", "1.4.0", "service/platformVersion", "changed", "LATEST"),
    ("tags", [{"key": "key1", "value": "value1"}, {"key": "key2", "value": "value2"},
              {"key": "key3", "value": "value3"}, {"key": "team", "value": "web"}], "service/tags/team", "added", None),
    ("desiredCount", 3, "service/desiredCount", "changed", 2),
])
def test_real_service_change_is_detected(field: str, value: Any, path: str, kind: str, live: Any) -> None:
    request = load("diff/create-service_fargate_request.json")["request"]
    response = load("aws-samples/awscli_create-service_fargate.json")["response"]["service"]
    request[field] = value
    drift = diff_services(request, response)
    assert drift.paths()[0] == path
    assert drift.changes[0].kind == kind and drift.changes[0].live == live


def test_hand_changed_subnets_detected() -> None:
    request = load("diff/create-service_fargate_request.json")["request"]
    response = copy.deepcopy(load("aws-samples/awscli_create-service_fargate.json")["response"]["service"])
    response["networkConfiguration"]["awsvpcConfiguration"]["subnets"].append("subnet-99")
    change = diff_services(request, response).changes[0]
    assert change.path == "service/networkConfiguration/awsvpcConfiguration/subnets"
    assert change.live == ["subnet-12344321", "subnet-99"] and change.desired == ["subnet-12344321"]


def test_task_definition_arn_and_owned_tags_not_compared() -> None:
    request = load("diff/create-service_fargate_request.json")["request"]
    response = copy.deepcopy(load("aws-samples/awscli_create-service_fargate.json")["response"]["service"])
    response["taskDefinition"] = "arn:aws:ecs:us-west-2:123456789012:task-definition/sample-fargate:9"
    response["tags"].append({"key": "ecs-reconciler:managed-by", "value": "ecs-reconciler"})
    response["tags"].append({"key": "aws:cloudformation:stack-name", "value": "x"})
    assert diff_services(request, response).in_sync


# --- diff_service_spec: both documents, ignoreDifferences, desiredCount vs autoscaling ----------

def _spec(service: dict[str, Any], ignore: tuple[str, ...] = ()) -> ServiceSpec:
    return ServiceSpec(environment="prod", name="nginx", service=service,
                       task_definition=load("diff/ecspresso_taskdef_desired.json"),
                       gitops=GitOpsSettings(ignore_differences=ignore),
                       service_file="service.yaml", taskdef_file="taskdef.json")


def _live(service: dict[str, Any], autoscaled: bool = False) -> LiveService:
    described = load("diff/ecspresso_taskdef_live.json")
    return LiveService(environment="prod", name="nginx", arn=service["serviceArn"], service=service,
                       task_definition=described["taskDefinition"],
                       task_definition_tags=tuple(described["tags"]), autoscaled=autoscaled)


def test_service_spec_in_sync() -> None:
    drift = diff_service_spec(_spec(load("diff/ecspresso_service_desired.json")),
                              _live(load("diff/ecspresso_service_live.json")))
    assert drift.in_sync, drift.paths()


def test_service_spec_combines_both_diffs() -> None:
    desired = load("diff/ecspresso_service_desired.json")
    desired["deploymentConfiguration"]["minimumHealthyPercent"] = 50
    spec = _spec(desired)
    spec.task_definition["containerDefinitions"][0]["image"] = "nginx:1.28.0"  # type: ignore[index]
    drift = diff_service_spec(spec, _live(load("diff/ecspresso_service_live.json")))
    assert drift.paths() == ["taskDefinition/containerDefinitions/nginx/image",
                             "service/deploymentConfiguration/minimumHealthyPercent"]


@pytest.mark.parametrize(("autoscaled", "manifest_count", "compared"), [
    (False, 5, True), (True, 5, False), (False, None, False), (True, None, False),
])
def test_desired_count_left_to_autoscaling(autoscaled: bool, manifest_count: int | None, compared: bool) -> None:
    desired = load("diff/ecspresso_service_desired.json")
    desired.pop("desiredCount")
    if manifest_count is not None:
        desired["desiredCount"] = manifest_count
    live = load("diff/ecspresso_service_live.json")  # desiredCount 1
    drift = diff_service_spec(_spec(desired), _live(live, autoscaled=autoscaled))
    assert drift.paths() == (["service/desiredCount"] if compared else [])


@pytest.mark.parametrize(("ignore", "remaining"), [
    ((), ["service/deploymentConfiguration/maximumPercent", "service/tags/deployed_at"]),
    (("service/tags/deployed_at",), ["service/deploymentConfiguration/maximumPercent"]),
    (("service/*/maximumPercent",), ["service/tags/deployed_at"]),
    (("service/tags", "service/deploymentConfiguration"), []),
])
def test_service_spec_ignore_differences(ignore: tuple[str, ...], remaining: list[str]) -> None:
    live = load("diff/ecspresso_service_live.json")
    live["deploymentConfiguration"]["maximumPercent"] = 300
    next(t for t in live["tags"] if t["key"] == "deployed_at")["value"] = "2025-02-02T00:00:00Z"
    drift = diff_service_spec(_spec(load("diff/ecspresso_service_desired.json"), ignore), _live(live))
    assert drift.paths() == remaining


def test_missing_live_task_definition_is_added() -> None:
    live = _live(load("diff/ecspresso_service_live.json"))
    live = LiveService(environment=live.environment, name=live.name, arn=live.arn, service=live.service,
                       task_definition=None)
    drift = diff_service_spec(_spec(load("diff/ecspresso_service_desired.json")), live)
    assert [(c.path, c.kind) for c in drift.changes] == [("taskDefinition", "added")]


# --- CODE_DEPLOY: network and capacity providers come from the PRIMARY task set ----------

def _blue_green_pair() -> tuple[dict[str, Any], dict[str, Any]]:
    """git moved the service to subnet-new; CodeDeploy put that on the PRIMARY task set only."""
    request = load("diff/create-service_fargate_request.json")["request"]
    request["deploymentController"] = {"type": "CODE_DEPLOY"}
    request["networkConfiguration"]["awsvpcConfiguration"]["subnets"] = ["subnet-new"]
    request["capacityProviderStrategy"] = [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]
    request.pop("launchType")
    live = copy.deepcopy(load("aws-samples/awscli_create-service_fargate.json")["response"]["service"])
    live.pop("launchType")
    live["deploymentController"] = {"type": "CODE_DEPLOY"}
    live["deployments"] = []
    live["capacityProviderStrategy"] = [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}]  # stale
    new_network = copy.deepcopy(live["networkConfiguration"])
    new_network["awsvpcConfiguration"]["subnets"] = ["subnet-new"]
    live["taskSets"] = [
        {"status": "PRIMARY", "networkConfiguration": new_network, "platformVersion": "1.4.0",
         "capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}],
         "loadBalancers": [{"targetGroupArn": "arn:tg/green", "containerName": "c", "containerPort": 80}]},
        {"status": "DRAINING", "networkConfiguration": live["networkConfiguration"]},
    ]
    return request, live


def test_code_deploy_network_read_from_primary_task_set() -> None:
    request, live = _blue_green_pair()
    assert live["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == ["subnet-12344321"]  # stale
    drift = diff_services(request, live)
    assert drift.in_sync, drift.paths()


def test_code_deploy_difference_against_primary_task_set_is_drift() -> None:
    request, live = _blue_green_pair()
    request["networkConfiguration"]["awsvpcConfiguration"]["subnets"] = ["subnet-12344321"]
    change = diff_services(request, live).changes[0]
    assert change.path == "service/networkConfiguration/awsvpcConfiguration/subnets"
    assert change.live == ["subnet-new"] and change.desired == ["subnet-12344321"]


def test_rolling_service_ignores_task_sets() -> None:
    request, live = _blue_green_pair()
    request["deploymentController"] = live["deploymentController"] = {"type": "ECS"}
    paths = diff_services(request, live).paths()
    assert "service/networkConfiguration/awsvpcConfiguration/subnets" in paths
