"""`reconciler import` round trip: import live services, plan shows them in sync, a sync only tags them.

The sandbox holds services created outside the reconciler (no ownership tags): a
rolling service, a CODE_DEPLOY service behind a custom canary config, a service
with secrets, several containers and its own circuit breaker settings, and (its own
world) an ECS-native BLUE_GREEN service with alarms and a PAUSE hook.
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from reconciler.model import OWNER_TAG

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "deploy-manifests" / "examples"
pytestmark = pytest.mark.e2e

WORKER_TASKDEF = {
    "family": "worker-production",
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["FARGATE"],
    "cpu": "512",
    "memory": "1024",
    "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
    "taskRoleArn": "arn:aws:iam::123456789012:role/worker",
    "containerDefinitions": [
        {"name": "worker", "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/api:2.1.0",
         "portMappings": [{"containerPort": 9000, "protocol": "tcp"}],
         "environment": [{"name": "QUEUE", "value": "jobs"}, {"name": "BATCH", "value": "10"}],
         "secrets": [{"name": "DB_PASSWORD",
                      "valueFrom": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf"},
                     {"name": "API_TOKEN", "valueFrom": "arn:aws:ssm:eu-west-1:123456789012:parameter/token"}],
         "healthCheck": {"command": ["CMD-SHELL", "test -f /tmp/ok"], "interval": 15},
         "logConfiguration": {"logDriver": "awslogs", "options": {
             "awslogs-group": "/ecs/worker", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "w"}}},
        {"name": "envoy", "image": "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29.4.0-prod", "essential": False,
         "cpu": 64, "memoryReservation": 128, "user": "1337",
         "dependsOn": [{"containerName": "worker", "condition": "START"}]},
    ],
    "tags": [{"key": "team", "value": "jobs"}],
}
WORKER_SERVICE = {
    "serviceName": "worker",
    "desiredCount": 3,
    "launchType": "FARGATE",
    "networkConfiguration": {"awsvpcConfiguration": {
        "subnets": ["subnet-0a1b2c3d4e5f60001"], "securityGroups": ["sg-0a1b2c3d4e5f60001"]}},
    "deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": False, "rollback": False},
                                "maximumPercent": 150, "minimumHealthyPercent": 50},
    "propagateTags": "SERVICE",
    "tags": [{"key": "team", "value": "jobs"}],
}


def unowned_seed() -> dict:
    """The example world with production/web and production/api made by someone else, plus a worker."""
    seed = yaml.safe_load((EXAMPLES / "sandbox-seed.yaml").read_text())
    services = []
    for entry in seed["services"]:
        if entry["cluster"] != "production" or entry["service"]["serviceName"] not in ("web", "api"):
            continue
        entry = copy.deepcopy(entry)
        entry["taskDefinition"].pop("tags", None)
        entry["service"]["tags"] = [{"key": "team", "value": entry["service"]["serviceName"]}]
        services.append(entry)
    services.append({"cluster": "production", "taskDefinition": WORKER_TASKDEF, "service": WORKER_SERVICE})
    seed["services"] = services
    return seed


def reconciler(sandbox, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **sandbox.env(), "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "reconciler", *args], env=env, capture_output=True, text=True,
                          timeout=180)


def new_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "environments" / "production").mkdir(parents=True)
    shutil.copy(EXAMPLES / "environments" / "production" / "environment.yaml",
                repo / "environments" / "production" / "environment.yaml")
    return repo


def test_import_then_plan_in_sync_then_sync_only_tags(sandbox_factory, tmp_path):
    sandbox = sandbox_factory(seed=unowned_seed())
    repo = new_repo(tmp_path)
    result = reconciler(sandbox, "import", "--repo", str(repo), "--env", "production")
    assert result.returncode == 0, result.stdout + result.stderr
    prod = repo / "environments" / "production"
    assert sorted(p.name for p in prod.iterdir() if p.is_dir()) == ["api", "web", "worker"]

    # What the files say: defaults and server-only fields gone, adopt on, CodeDeploy settings imported.
    api = yaml.safe_load((prod / "api" / "service.yaml").read_text())
    assert api["gitops"] == {"strategy": "blue-green", "adopt": True, "codeDeploy": {
        "application": "api", "deploymentGroup": "api-production",
        "deploymentConfig": "api-canary-10-percent-1-minute", "canary": {"percentage": 10, "intervalMinutes": 1}}}
    web = yaml.safe_load((prod / "web" / "service.yaml").read_text())
    assert web["gitops"] == {"adopt": True}
    assert "deploymentConfiguration" not in web  # 200/100 and the circuit breaker the reconciler turns on itself
    assert web["tags"] == [{"key": "team", "value": "web"}]
    worker = yaml.safe_load((prod / "worker" / "service.yaml").read_text())
    assert worker["deploymentConfiguration"] == {"deploymentCircuitBreaker": {"enable": False, "rollback": False},
                                                 "maximumPercent": 150, "minimumHealthyPercent": 50}
    assert list(worker) == ["desiredCount", "launchType", "deploymentConfiguration", "networkConfiguration",
                            "tags", "propagateTags", "gitops"]  # CreateService's member order
    td = json.loads((prod / "worker" / "taskdef.json").read_text())
    assert list(td)[:3] == ["family", "taskRoleArn", "executionRoleArn"]
    main, envoy = td["containerDefinitions"]
    assert "cpu" not in main and "essential" not in main and "hostPort" not in main["portMappings"][0]
    assert main["portMappings"] == [{"containerPort": 9000}]
    assert main["healthCheck"] == {"command": ["CMD-SHELL", "test -f /tmp/ok"], "interval": 15}
    assert {s["name"] for s in main["secrets"]} == {"DB_PASSWORD", "API_TOKEN"}
    assert envoy["essential"] is False and envoy["cpu"] == 64
    for key in ("taskDefinitionArn", "revision", "status", "compatibilities", "registeredAt", "requiresAttributes"):
        assert key not in td
    assert td["tags"] == [{"key": "team", "value": "jobs"}]

    # Running it again refuses to overwrite, and writes nothing.
    before = (prod / "web" / "service.yaml").read_text()
    again = reconciler(sandbox, "import", "--repo", str(repo), "--env", "production", "--service", "web")
    assert again.returncode == 1 and "exists; not overwritten (use --force)" in again.stdout, again.stdout
    forced = reconciler(sandbox, "import", "--repo", str(repo), "--env", "production", "--service", "web", "--force")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert (prod / "web" / "service.yaml").read_text() == before  # stable output

    assert reconciler(sandbox, "validate", str(repo)).returncode == 0

    plan = reconciler(sandbox, "plan", "--repo", str(repo), "--output", "json")
    services = {s["service"]: s for s in json.loads(plan.stdout)["services"]}
    assert {n: (s["action"], s.get("changes") or []) for n, s in services.items()} == {
        n: ("update", []) for n in ("api", "web", "worker")}, plan.stdout  # adopt only: no field differs

    ecs = sandbox.client("ecs")
    live_before = {s["serviceName"]: s for s in ecs.describe_services(
        cluster="production", services=["api", "web", "worker"])["services"]}
    families = {n: ecs.list_task_definitions(familyPrefix=f"{n}-production")["taskDefinitionArns"]
                for n in ("api", "web", "worker")}
    sync = reconciler(sandbox, "sync", "--repo", str(repo), "--env", "production", "--output", "json")
    assert sync.returncode == 0, sync.stdout + sync.stderr
    live_after = {s["serviceName"]: s for s in ecs.describe_services(
        cluster="production", services=["api", "web", "worker"], include=["TAGS"])["services"]}
    for name, svc in live_after.items():
        assert svc["taskDefinition"] == live_before[name]["taskDefinition"], name   # no new revision deployed
        assert [d["id"] for d in svc["deployments"]] == [d["id"] for d in live_before[name]["deployments"]], name
        assert ecs.list_task_definitions(familyPrefix=f"{name}-production")["taskDefinitionArns"] == families[name]
        assert {"key": OWNER_TAG, "value": "ecs-reconciler"} in svc["tags"], name
    assert not sandbox.client("codedeploy").list_deployments(
        applicationName="api", deploymentGroupName="api-production")["deployments"]

    after = reconciler(sandbox, "plan", "--repo", str(repo), "--output", "json")
    assert after.returncode == 0, after.stdout + after.stderr


def test_import_names_services_and_refuses_unknown_ones(sandbox_factory, tmp_path):
    sandbox = sandbox_factory(seed=unowned_seed())
    repo = new_repo(tmp_path)
    out = tmp_path / "elsewhere"
    result = reconciler(sandbox, "import", "--repo", str(repo), "--env", "production", "--service", "worker",
                        "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (out / "environments" / "production" / "environment.yaml").is_file()
    assert sorted(p.name for p in (out / "environments" / "production").iterdir() if p.is_dir()) == ["worker"]
    assert not (repo / "environments" / "production" / "worker").exists()
    missing = reconciler(sandbox, "import", "--repo", str(repo), "--env", "production", "--service", "nope")
    assert missing.returncode == 2 and "no service 'nope'" in missing.stderr


def native_seed() -> dict:
    """The example world with production/checkout (ECS-native, PAUSE hook, alarms) made by someone else."""
    seed = yaml.safe_load((EXAMPLES / "sandbox-seed.yaml").read_text())
    [entry] = [copy.deepcopy(e) for e in seed["services"]
               if e["cluster"] == "production" and e["service"]["serviceName"] == "checkout"]
    entry["taskDefinition"].pop("tags", None)
    entry["service"]["tags"] = [{"key": "team", "value": "checkout"}]
    config = entry["service"]["deploymentConfiguration"]
    config["strategy"] = "BLUE_GREEN"
    config.pop("canaryConfiguration")
    seed["services"] = [entry]
    return seed


def test_import_of_an_ecs_native_blue_green_service_round_trips(sandbox_factory, tmp_path):
    sandbox = sandbox_factory(seed=native_seed())
    ecs = sandbox.client("ecs")
    repo = new_repo(tmp_path)
    result = reconciler(sandbox, "import", "--repo", str(repo), "--env", "production", "--service", "checkout")
    assert result.returncode == 0, result.stdout + result.stderr
    service = yaml.safe_load((repo / "environments" / "production" / "checkout" / "service.yaml").read_text())
    # The ECS-native settings are the service's own fields: strategy, bake, alarms, the PAUSE hook, and the
    # load balancer's alternate target group and listener rules; the ECS controller is the default.
    config = service["deploymentConfiguration"]
    assert config["strategy"] == "BLUE_GREEN" and config["bakeTimeInMinutes"] == 1
    assert config["alarms"] == {"alarmNames": ["checkout-production-5xx"], "enable": True, "rollback": True}
    [hook] = config["lifecycleHooks"]
    assert hook["targetType"] == "PAUSE" and hook["lifecycleStages"] == ["POST_TEST_TRAFFIC_SHIFT"]
    assert hook["timeoutConfiguration"]["timeoutInMinutes"] == 60
    [lb] = service["loadBalancers"]
    assert lb["advancedConfiguration"]["alternateTargetGroupArn"].endswith("targetgroup/checkout-green/0000000000000008")
    assert set(lb["advancedConfiguration"]) == {"alternateTargetGroupArn", "productionListenerRule",
                                                "testListenerRule", "roleArn"}
    assert "deploymentController" not in service and service["gitops"] == {"adopt": True}
    assert reconciler(sandbox, "validate", str(repo)).returncode == 0

    plan = reconciler(sandbox, "plan", "--repo", str(repo), "--output", "json")
    [checkout] = json.loads(plan.stdout)["services"]
    assert (checkout["action"], checkout.get("changes") or []) == ("update", []), plan.stdout  # adopt only

    def deployments() -> list[str]:
        return [d["serviceDeploymentArn"] for d in ecs.list_service_deployments(
            cluster="production", service="checkout")["serviceDeployments"]]

    before = ecs.describe_services(cluster="production", services=["checkout"])["services"][0]
    deployed = deployments()
    assert deployed  # the sandbox lists the service's deployments: the check below can fail
    sync = reconciler(sandbox, "sync", "--repo", str(repo), "--env", "production", "--output", "json")
    assert sync.returncode == 0, sync.stdout + sync.stderr
    after = ecs.describe_services(cluster="production", services=["checkout"], include=["TAGS"])["services"][0]
    assert after["taskDefinition"] == before["taskDefinition"]
    assert deployments() == deployed  # no service deployment started: only tags were added
    assert {"key": OWNER_TAG, "value": "ecs-reconciler"} in after["tags"]
    again = reconciler(sandbox, "plan", "--repo", str(repo), "--output", "json")
    assert again.returncode == 0, again.stdout + again.stderr
