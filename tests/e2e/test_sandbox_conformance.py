"""Sandbox responses against real AWS samples (tests/fixtures/aws-samples, see its README.md):
same keys, same defaults; ARNs, ids and timestamps are ignored."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.sandbox import Sandbox

pytestmark = pytest.mark.e2e
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "aws-samples"
IGNORED = {"taskDefinitionArn", "serviceArn", "clusterArn", "revision", "createdAt", "updatedAt", "id",
           "registeredAt", "registeredBy", "createdBy", "taskDefinition", "platformVersion", "tags", "runningCount"}
# Fields AWS added to responses after the samples were recorded (reference aws-behaviour.md §1-§2).
NEWER_FIELDS = {"registeredAt", "registeredBy", "requiresAttributes", "systemControls", "deploymentController",
                "createdBy", "healthCheckGracePeriodSeconds", "enableExecuteCommand", "platformFamily",
                "failedTasks", "rolloutState", "rolloutStateReason", "deploymentCircuitBreaker",
                # service deployments, every strategy (ecs-native-deployments.md §3.4, [BC] Service)
                "currentServiceDeployment", "currentServiceRevisions"}
SEED = {"vpcs": [{"subnets": [{"id": "subnet-12344321", "cidr": "10.0.1.0/24"}],
                  "securityGroups": [{"id": "sg-12344321", "name": "sample"}]}],
        "clusters": ["MyCluster"]}


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def assert_conforms(real: Any, ours: Any, path: str = "$", extra_ok: frozenset[str] = frozenset()) -> None:
    """Every key of the real sample is present with the same value; extra keys are newer AWS fields."""
    if isinstance(real, dict):
        assert isinstance(ours, dict), path
        missing = set(real) - set(ours)
        assert not missing, f"{path}: missing {missing}"
        extra = set(ours) - set(real) - NEWER_FIELDS - extra_ok
        assert not extra, f"{path}: unexpected {extra}"
        for key, value in real.items():
            if key not in IGNORED:
                assert_conforms(value, ours[key], f"{path}.{key}", extra_ok)
    elif isinstance(real, list):
        assert isinstance(ours, list) and len(ours) == len(real), path
        for i, (r, o) in enumerate(zip(real, ours, strict=True)):
            assert_conforms(r, o, f"{path}[{i}]", extra_ok)
    else:
        assert real == ours, f"{path}: AWS {real!r} != sandbox {ours!r}"


@pytest.fixture
def box(sandbox_factory: Any) -> Sandbox:
    return sandbox_factory(seed=SEED, speed=0)


def test_register_task_definition_matches_aws_cli_sample(box: Sandbox) -> None:
    sample = load("awscli_register-task-definition_sleep360.json")
    ours = box.client("ecs").register_task_definition(**sample["request"])
    assert_conforms(sample["response"], {"taskDefinition": ours["taskDefinition"]})
    assert "networkMode" not in ours["taskDefinition"]


def test_describe_task_definition_matches_fargate_sample(box: Sandbox) -> None:
    real = load("sil-ecs-deploy_describe-task-definition_fargate.json")["taskDefinition"]
    request = {k: v for k, v in real.items()
               if k not in ("status", "taskDefinitionArn", "revision", "requiresAttributes", "compatibilities")}
    ecs = box.client("ecs")
    ecs.register_task_definition(**request)
    ours = ecs.describe_task_definition(taskDefinition=real["family"])["taskDefinition"]
    real_attrs = real.pop("requiresAttributes")
    assert set(map(str, real_attrs)) <= set(map(str, ours.pop("requiresAttributes")))
    # The sample is a test heredoc that leaves out `placementConstraints: []`, which AWS
    # returns on every definition (aws-cli register-task-definition example, reference §1).
    assert ours["placementConstraints"] == []
    assert_conforms(real, ours, extra_ok=frozenset({"placementConstraints"}))


def test_create_and_describe_service_match_aws_cli_sample(box: Sandbox) -> None:
    sample = load("awscli_create-service_fargate.json")["response"]["service"]
    ecs = box.client("ecs")
    ecs.register_task_definition(family="sample-fargate", networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
                                 cpu="256", memory="512", containerDefinitions=[{"name": "c", "image": "busybox"}])
    created = ecs.create_service(
        cluster="MyCluster", serviceName="MyService", taskDefinition="sample-fargate:1", desiredCount=2,
        launchType="FARGATE", platformVersion="LATEST",
        networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-12344321"], "securityGroups": ["sg-12344321"],
                                                      "assignPublicIp": "ENABLED"}},
        tags=[{"key": f"key{i}", "value": f"value{i}"} for i in (1, 2, 3)])["service"]
    real_config = sample.pop("deploymentConfiguration")
    assert created.pop("deploymentConfiguration") == {**real_config,
                                                      "deploymentCircuitBreaker": {"enable": False, "rollback": False}}
    assert_conforms(sample, created)
    described = ecs.describe_services(cluster="MyCluster", services=["MyService"], include=["TAGS"])["services"][0]
    described.pop("deploymentConfiguration")
    assert_conforms(sample, described)
    assert described["taskDefinition"].endswith(":task-definition/sample-fargate:1")


def test_service_defaults_match_ecspresso_live_definition(box: Sandbox) -> None:
    real = load("ecspresso_ci_ecs-service-def.json")
    ecs = box.client("ecs")
    ecs.register_task_definition(family="t", containerDefinitions=[{"name": "c", "image": "busybox", "memory": 8}])
    ours = ecs.create_service(cluster="MyCluster", serviceName="s", taskDefinition="t", desiredCount=1)["service"]
    for key in ("deploymentConfiguration", "enableECSManagedTags", "healthCheckGracePeriodSeconds",
                "placementConstraints", "placementStrategy", "schedulingStrategy", "serviceRegistries"):
        assert ours[key] == real[key], key
