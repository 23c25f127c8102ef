"""No false drift the other way round: git applied to the sandbox by plain boto3 plans as in-sync.

The example repository's task definitions are registered and its services created
with nothing but the manifest fields (what `aws ecs register-task-definition
--cli-input-json` / `create-service` would send), in a sandbox holding only the
seed's infrastructure. Whatever AWS (and so the sandbox) fills in must then be
recognised by the normalizer as defaults, not reported as drift.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from reconciler.desired import desired_service
from reconciler.manifests import load_repository
from reconciler.model import DEFAULT_INSTANCE, ENV_TAG, OWNER_TAG

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "deploy-manifests" / "examples"
pytestmark = pytest.mark.e2e


def infrastructure_only_seed() -> dict:
    """The example seed without its pre-existing services: the test creates those itself."""
    seed = yaml.safe_load((EXAMPLES / "sandbox-seed.yaml").read_text())
    seed["services"] = []
    return seed


RICH_TASKDEF = {
    "family": "worker-staging",
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["FARGATE"],
    "cpu": "0.5 vCPU",
    "memory": "1 GB",
    "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
    "taskRoleArn": "arn:aws:iam::123456789012:role/worker",
    "volumes": [{"name": "scratch"}],
    "containerDefinitions": [
        {
            "name": "worker",
            "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/api:2.1.0",
            "portMappings": [{"containerPort": 9000}, {"containerPort": 9001, "protocol": "udp"}],
            "environment": [{"name": "Z_LAST", "value": "1"}, {"name": "A_FIRST", "value": "2"}],
            "secrets": [{"name": "TOKEN", "valueFrom": "arn:aws:ssm:eu-west-1:123456789012:parameter/token"}],
            "mountPoints": [{"sourceVolume": "scratch", "containerPath": "/scratch"}],
            "healthCheck": {"command": ["CMD-SHELL", "true"]},
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/ecs/worker", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "w"}},
        },
        {"name": "sidecar", "image": "public.ecr.aws/docker/library/busybox:1.36", "essential": False,
         "command": ["sleep", "86400"], "dependsOn": [{"containerName": "worker", "condition": "START"}]},
    ],
    "tags": [{"key": "team", "value": "core"}],
}
RICH_SERVICE = """\
launchType: FARGATE
desiredCount: 1
propagateTags: SERVICE
enableECSManagedTags: true
networkConfiguration:
  awsvpcConfiguration:
    subnets: [subnet-0a1b2c3d4e5f60002, subnet-0a1b2c3d4e5f60001]
    securityGroups: [sg-0a1b2c3d4e5f60001]
tags: [{key: team, value: core}]
gitops: {strategy: rolling}
"""


def add_rich_service(repo: Path) -> None:
    """A service leaning on AWS's defaults: unit strings, no essential/protocol, no deploymentConfiguration
    (maximumPercent and friends come from AWS; the reconciler adds only its circuit breaker)."""
    worker = repo / "environments" / "staging" / "worker"
    worker.mkdir()
    (worker / "taskdef.json").write_text(json.dumps(RICH_TASKDEF, indent=2))
    (worker / "service.yaml").write_text(RICH_SERVICE)


def apply_with_boto3(sandbox, repo: Path) -> list[str]:
    desired = load_repository(repo)
    assert not [i for i in desired.issues if i.severity == "error"], desired.issues
    ecs = sandbox.client("ecs")
    keys = []
    for spec in desired.services:
        env = desired.environments[spec.environment]
        tags = [{"key": OWNER_TAG, "value": DEFAULT_INSTANCE}, {"key": ENV_TAG, "value": spec.environment}]
        td = ecs.register_task_definition(**spec.task_definition)["taskDefinition"]
        # What the reconciler itself would send: the manifest plus its own defaults (the circuit breaker).
        service = {k: v for k, v in desired_service(spec).items() if k != "tags"}
        ecs.create_service(cluster=env.cluster, taskDefinition=td["taskDefinitionArn"],
                           tags=[*spec.service.get("tags", []), *tags], **service)
        keys.append(spec.key)
    sandbox.advance(120)  # let the rollouts settle: steady state is what plan sees in real life
    return sorted(keys)


def test_example_repository_applied_by_boto3_is_in_sync(sandbox_factory, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLES / "environments", repo / "environments")
    add_rich_service(repo)
    sandbox = sandbox_factory(seed=infrastructure_only_seed())
    keys = apply_with_boto3(sandbox, repo)
    assert len(keys) == 6

    env = {**os.environ, **sandbox.env()}
    result = subprocess.run([sys.executable, "-m", "reconciler", "plan", "--repo", str(repo), "--output", "json"],
                            env=env, capture_output=True, text=True, timeout=120)
    data = json.loads(result.stdout)
    actions = {f"{s['environment']}/{s['service']}": (s["action"], s.get("changes")) for s in data["services"]}
    assert actions == {key: ("in-sync", actions[key][1]) for key in keys}, json.dumps(data, indent=1)
    assert result.returncode == 0, result.stderr


def test_desired_count_changed_in_aws_is_drift_unless_autoscaled(sandbox_factory, tmp_path):
    """Both directions on the same world: a hand-made change is caught, the scaler's is not."""
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLES / "environments", repo / "environments")
    sandbox = sandbox_factory(seed=infrastructure_only_seed())
    apply_with_boto3(sandbox, repo)
    ecs = sandbox.client("ecs")
    sandbox.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="ecs", ResourceId="service/staging/web", ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=1, MaxCapacity=6)
    ecs.update_service(cluster="staging", service="web", desiredCount=5)        # the scaler's move
    ecs.update_service(cluster="production", service="web", desiredCount=3)     # a human's move

    env = {**os.environ, **sandbox.env()}
    result = subprocess.run([sys.executable, "-m", "reconciler", "plan", "--repo", str(repo), "--output", "json"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    plans = {f"{s['environment']}/{s['service']}": s for s in json.loads(result.stdout)["services"]}
    assert plans["staging/web"]["action"] == "in-sync"
    assert plans["production/web"]["action"] == "update"
    assert [(c["path"], c["desired"], c["live"]) for c in plans["production/web"]["changes"]] == [
        ("service/desiredCount", 2, 3)]
