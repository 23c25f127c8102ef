"""deploy-manifests/reconciler: parseable, every IAM action real, every AWS call the code makes allowed.

The task role's policy lives in stack.yaml (the CloudFormation install); target-role.yaml
repeats the statements a target account needs. Both are linted by cfn-lint in `make test`.
"""
from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import botocore.session
import yaml
from botocore import xform_name

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy-manifests" / "reconciler"
# IAM permissions that are not API operations of the service's model.
PERMISSION_ONLY = {"iam:PassRole", "codecommit:GitPull"}
# API calls authorised by a differently named IAM action.
PERMISSION_FOR = {"s3:HeadObject": "s3:GetObject"}
#: Services the reconciler calls in an environment's account (through its roleArn, aws/clients.py);
#: the rest (DynamoDB state, SQS events, SNS reports, CodeCommit) stay in the reconciler's own account.
ENVIRONMENT_SERVICES = ("ecs", "codedeploy", "application-autoscaling", "sts",
                        "ecr", "ssm", "secretsmanager", "s3", "iam",  # pre-deploy verification
                        "logs")  # hook tasks' log lines


def template(name: str) -> dict[str, Any]:
    """The templates use long-form intrinsics (Fn::Sub, Ref), so plain YAML reads them."""
    return yaml.safe_load((DEPLOY / name).read_text())


def statements(name: str, role: str) -> list[dict[str, Any]]:
    policies = template(name)["Resources"][role]["Properties"]["Policies"]
    return [st for policy in policies for st in policy["PolicyDocument"]["Statement"]]


def actions_of(sts: list[dict[str, Any]]) -> set[str]:
    actions: set[str] = set()
    for st in sts:
        actions.update(st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
    return actions


def policy_actions() -> set[str]:
    return actions_of(statements("stack.yaml", "TaskRole"))


def test_every_action_exists_in_botocore() -> None:
    session = botocore.session.get_session()
    for action in sorted((policy_actions() | actions_of(statements("target-role.yaml", "TargetRole"))) - PERMISSION_ONLY):
        prefix, _, op = action.partition(":")
        model = session.get_service_model(prefix)
        assert op in model.operation_names, action


def aws_calls() -> set[str]:
    """`service:Operation` for every API call in the product: per module, the services of its
    `client("…")` (and `table_client`) calls, and the method calls and paginators that are
    operations of those services in botocore's models."""
    session = botocore.session.get_session()
    found: set[str] = set()
    for path in (ROOT / "reconciler").rglob("*.py"):
        if "sandbox" in path.parts:
            continue
        services, names = set(), set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            literal = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else None
            if name == "client" and isinstance(literal, str):
                services.add(literal)
            elif name == "table_client":
                services.add("dynamodb")
            elif name == "get_paginator" and isinstance(literal, str):
                names.add(literal)
            elif isinstance(func, ast.Attribute):
                names.add(name)
        for service in services:
            operations = {xform_name(op): op for op in session.get_service_model(service).operation_names}
            found.update(f"{service}:{operations[n]}" for n in names if n in operations)
    return found


def test_the_call_scan_finds_the_calls() -> None:
    calls = aws_calls()
    assert {"ecs:UpdateService", "ecs:ListServices", "codedeploy:CreateDeployment", "dynamodb:PutItem",
            "sns:Publish", "sts:GetCallerIdentity", "application-autoscaling:DescribeScalableTargets"} <= calls


def called_by_the_code() -> set[str]:
    called = {PERMISSION_FOR.get(call, call) for call in aws_calls()}
    assert called, "no AWS calls found"
    return called


def test_every_call_in_the_code_is_allowed() -> None:
    called = called_by_the_code()
    assert called <= policy_actions(), sorted(called - policy_actions())


def test_target_role_allows_every_call_made_in_an_environment() -> None:
    target = statements("target-role.yaml", "TargetRole")
    in_environment = {c for c in called_by_the_code() if c.partition(":")[0] in ENVIRONMENT_SERVICES}
    assert in_environment <= actions_of(target), sorted(in_environment - actions_of(target))
    # The same statements as the stack's task role, so the two cannot drift apart.
    stack = {st["Sid"]: st for st in statements("stack.yaml", "TaskRole")}
    for st in target:
        assert st == stack[st["Sid"]], st["Sid"]


def test_task_definition_and_service_shape() -> None:
    td = json.loads((DEPLOY / "task-definition.json").read_text())
    [container] = td["containerDefinitions"]
    assert container["readonlyRootFilesystem"] is True and container["user"] != "0"
    assert container["stopTimeout"] <= 120
    assert {m["containerPath"] for m in container["mountPoints"]} == {"/var/cache/reconciler", "/tmp"}
    names = {e["name"] for e in container["environment"]}
    assert "RECONCILER_GIT_URL" in names and "RECONCILER_GIT_TOKEN" not in names  # secrets come from `secrets`
    svc = json.loads((DEPLOY / "service.json").read_text())
    assert svc["desiredCount"] == 2 and svc["taskDefinition"] == td["family"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "USER 10001" in dockerfile and "HEALTHCHECK" in dockerfile and 'ENTRYPOINT ["reconciler", "run"]' in dockerfile


def test_stack_container_keeps_the_hardening_of_task_definition_json() -> None:
    """The JSON files are for installs without CloudFormation: both run the container the same way."""
    [plain] = json.loads((DEPLOY / "task-definition.json").read_text())["containerDefinitions"]
    [cfn] = template("stack.yaml")["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"]
    assert (cfn["User"], cfn["ReadonlyRootFilesystem"], cfn["StopTimeout"]) == (
        plain["user"], plain["readonlyRootFilesystem"], plain["stopTimeout"])
    assert {m["ContainerPath"] for m in cfn["MountPoints"]} == {m["containerPath"] for m in plain["mountPoints"]}
    assert cfn["HealthCheck"]["Command"] == plain["healthCheck"]["command"]
    stack = template("stack.yaml")
    assert stack["Resources"]["Service"]["Properties"]["DesiredCount"] == {"Ref": "Replicas"}
    assert stack["Parameters"]["Replicas"]["Default"] == json.loads((DEPLOY / "service.json").read_text())["desiredCount"] == 2
