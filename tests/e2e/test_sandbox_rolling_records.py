"""The sandbox keeps service-deployment records of ROLLING deployments as ECS does
([DG:service-deployment]: every deployment-starting UpdateService creates one, whatever the
strategy), so a reconciler that was not watching can read how a rolling deployment ended."""
from __future__ import annotations

from typing import Any

import pytest
from test_sandbox_ecs import manual, web, web_taskdef  # noqa: F401 - fixture

from reconciler.sandbox import Sandbox

pytestmark = pytest.mark.e2e
REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


def history(ecs: Any) -> list[dict[str, Any]]:
    briefs = ecs.list_service_deployments(cluster="production", service="web")["serviceDeployments"]
    arns = [b["serviceDeploymentArn"] for b in briefs]
    return ecs.describe_service_deployments(serviceDeploymentArns=arns)["serviceDeployments"] if arns else []


def test_rolling_deployment_record_succeeds(manual: Sandbox) -> None:
    ecs = manual.client("ecs")
    web_taskdef(ecs, "1.4.2")
    ecs.update_service(cluster="production", service="web", taskDefinition="web-production")
    primary = web(ecs)["deployments"][0]
    newest = history(ecs)[0]
    assert newest["status"] == "IN_PROGRESS" and "lifecycleStage" not in newest
    assert newest["targetServiceRevision"]["arn"].rsplit("/", 1)[-1] == primary["id"].rsplit("/", 1)[-1]
    assert web(ecs)["currentServiceDeployment"] == newest["serviceDeploymentArn"]
    manual.advance(60)
    newest = history(ecs)[0]
    assert newest["status"] == "SUCCESSFUL" and newest["finishedAt"]
    revision = ecs.describe_service_revisions(serviceRevisionArns=[newest["targetServiceRevision"]["arn"]])
    assert revision["serviceRevisions"][0]["taskDefinition"] == primary["taskDefinition"]


def test_circuit_breaker_rollback_is_recorded_on_the_failed_deployment(manual: Sandbox) -> None:
    ecs = manual.client("ecs")
    manual.fail_image(f"{REGISTRY}/web:9.9.9")
    ecs.update_service(cluster="production", service="web", deploymentConfiguration={
        "deploymentCircuitBreaker": {"enable": True, "rollback": True}})
    before = web(ecs)["taskDefinition"]
    bad = web_taskdef(ecs, "9.9.9")
    ecs.update_service(cluster="production", service="web", taskDefinition=bad)
    started = web(ecs)["deployments"][0]["id"]
    manual.advance(600)
    svc = web(ecs)
    assert [d["rolloutState"] for d in svc["deployments"]] == ["COMPLETED"] and svc["taskDefinition"] == before
    failed = history(ecs)[0]  # the failed deployment is the newest record: a rollback is not a new one
    assert failed["status"] == "ROLLBACK_SUCCESSFUL"
    assert failed["targetServiceRevision"]["arn"].endswith("/" + started.rsplit("/", 1)[-1])
    assert failed["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
    assert failed["deploymentCircuitBreaker"]["failureCount"] >= failed["deploymentCircuitBreaker"]["threshold"]
    assert failed["rollback"]["serviceRevisionArn"] in [r["arn"] for r in failed["sourceServiceRevisions"]]


def test_circuit_breaker_without_rollback_stops_the_deployment(manual: Sandbox) -> None:
    ecs = manual.client("ecs")
    manual.fail_image(f"{REGISTRY}/web:9.9.9")
    ecs.update_service(cluster="production", service="web", deploymentConfiguration={
        "deploymentCircuitBreaker": {"enable": True, "rollback": False}})
    ecs.update_service(cluster="production", service="web", taskDefinition=web_taskdef(ecs, "9.9.9"))
    manual.advance(600)
    assert web(ecs)["deployments"][0]["rolloutState"] == "FAILED"
    stopped = history(ecs)[0]
    assert stopped["status"] == "STOPPED" and stopped["stoppedAt"]
    assert stopped["deploymentCircuitBreaker"]["status"] == "TRIGGERED" and "rollback" not in stopped
