"""The normalizer used the other way: only what the diff can tell from its absence stays."""
from __future__ import annotations

from reconciler.diff.minimal import minimal_document, minimal_service, minimal_task_definition
from reconciler.manifests.shapes import ordered_like, required_members

LIVE_TD = {
    "taskDefinitionArn": "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:3", "revision": 3,
    "status": "ACTIVE", "family": "web", "networkMode": "awsvpc", "cpu": "256", "memory": "512",
    "requiresCompatibilities": ["FARGATE"], "compatibilities": ["EC2", "FARGATE"], "volumes": [],
    "containerDefinitions": [{"name": "web", "image": "web:1", "cpu": 0, "essential": True, "environment": [],
                              "mountPoints": [], "portMappings": [{"containerPort": 80, "hostPort": 80,
                                                                   "protocol": "tcp"}]}],
}


def test_task_definition_defaults_and_server_fields_go() -> None:
    minimal = minimal_task_definition(LIVE_TD, LIVE_TD, [])
    assert minimal == {"family": "web", "networkMode": "awsvpc", "cpu": "256", "memory": "512",
                       "requiresCompatibilities": ["FARGATE"],
                       "containerDefinitions": [{"name": "web", "image": "web:1",
                                                 "portMappings": [{"containerPort": 80}]}]}


def test_a_value_differing_from_the_default_stays() -> None:
    live = {**LIVE_TD, "containerDefinitions": [{**LIVE_TD["containerDefinitions"][0], "essential": False}]}
    minimal = minimal_task_definition(live, live, [])
    assert minimal["containerDefinitions"][0]["essential"] is False


def test_circuit_breaker_the_reconciler_adds_itself_is_left_out_but_a_disabled_one_is_kept() -> None:
    base = {"serviceName": "web", "launchType": "FARGATE", "desiredCount": 2, "schedulingStrategy": "REPLICA",
            "platformVersion": "LATEST", "deploymentController": {"type": "ECS"}}
    on = {**base, "deploymentConfiguration": {"maximumPercent": 200, "minimumHealthyPercent": 100,
                                              "deploymentCircuitBreaker": {"enable": True, "rollback": True}}}
    assert minimal_service(on, on, strategy="rolling", compare_desired_count=True) == {
        "launchType": "FARGATE", "desiredCount": 2}
    off = {**base, "deploymentConfiguration": {"maximumPercent": 200, "minimumHealthyPercent": 100,
                                               "deploymentCircuitBreaker": {"enable": False, "rollback": False}}}
    required = lambda path: required_members("CreateService", path)  # noqa: E731
    kept = minimal_service(off, off, strategy="rolling", compare_desired_count=True, required=required)
    # enable and rollback are both required by the API, though `enable: false` alone is the default
    assert kept["deploymentConfiguration"] == {"deploymentCircuitBreaker": {"enable": False, "rollback": False}}
    assert "desiredCount" not in minimal_service(on, on, strategy="rolling", compare_desired_count=False)


def test_a_nested_object_is_never_emptied() -> None:
    # Removing `a` changes the judged value; inside it, removing `x` alone would not: `a` keeps one member.
    def drift_of(doc):
        from reconciler.model import Drift, FieldChange
        return Drift() if doc.get("a") is not None else Drift((FieldChange("a", 1, None),))
    assert minimal_document({"a": {"x": 1}}, drift_of) == {"a": {"x": 1}}


def test_keys_follow_the_api_member_order() -> None:
    doc = ordered_like("RegisterTaskDefinition", {"memory": "512", "containerDefinitions": [
        {"image": "i", "name": "n", "zzz": 1}], "family": "f"})
    assert list(doc) == ["family", "containerDefinitions", "memory"]
    assert list(doc["containerDefinitions"][0]) == ["name", "image", "zzz"]
