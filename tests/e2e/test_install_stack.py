"""deploy-manifests/reconciler/stack.yaml deployed into the sandbox with CloudFormation creates what the daemon needs."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "deploy-manifests" / "reconciler" / "stack.yaml"
TARGET_ROLE = ROOT / "deploy-manifests" / "reconciler" / "target-role.yaml"
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/ecs-reconciler:0.1.0"
SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecs-reconciler/{}-AbCdEf"
pytestmark = pytest.mark.e2e

SEED = {
    "vpcs": [{"cidr": "10.0.0.0/16",
              "subnets": [{"id": "subnet-0a1b2c3d4e5f60001", "cidr": "10.0.1.0/24", "availabilityZone": "eu-west-1a"},
                          {"id": "subnet-0a1b2c3d4e5f60002", "cidr": "10.0.2.0/24", "availabilityZone": "eu-west-1b"}],
              "securityGroups": [{"id": "sg-0a1b2c3d4e5f60001", "name": "reconciler"}]}],
    "ecr": {"ecs-reconciler": ["0.1.0"]},
}


def deploy(sandbox, name: str, template: Path, **params: str) -> dict:
    cf = sandbox.client("cloudformation")
    cf.create_stack(StackName=name, TemplateBody=template.read_text(), Capabilities=["CAPABILITY_NAMED_IAM"],
                    Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()])
    stack = cf.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def test_stack_creates_service_roles_table_queue_and_rule(sandbox_factory):
    sandbox = sandbox_factory(seed=SEED)
    outputs = deploy(sandbox, "ecs-reconciler", STACK,
                     GitUrl="https://gitlab.example.com/platform/deploy-manifests.git",
                     Subnets="subnet-0a1b2c3d4e5f60001,subnet-0a1b2c3d4e5f60002", SecurityGroups="sg-0a1b2c3d4e5f60001",
                     Image=IMAGE, CodeCommitRepositoryName="deploy-manifests",
                     GitTokenSecretArn=SECRET.format("git-token"), SlackWebhookSecretArn=SECRET.format("slack"),
                     SlackSigningSecretArn=SECRET.format("slack-signing"), SlackBotTokenSecretArn=SECRET.format("slack-bot"),
                     SlackApprovalChannel="C0123456789")

    # The service: two Fargate tasks of the stack's task definition, running.
    sandbox.advance(120)
    ecs = sandbox.client("ecs")
    [svc] = ecs.describe_services(cluster="ecs-reconciler", services=["ecs-reconciler"])["services"]
    assert (svc["desiredCount"], svc["runningCount"], svc["launchType"]) == (2, 2, "FARGATE")
    assert svc["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert sorted(svc["networkConfiguration"]["awsvpcConfiguration"]["subnets"]) == [
        "subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    [container] = td["containerDefinitions"]
    assert container["image"] == IMAGE and container["readonlyRootFilesystem"] is True and container["user"] == "10001"
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert env["RECONCILER_STATE_TABLE"] == outputs["StateTableName"] == "ecs-reconciler-state"
    assert env["RECONCILER_SQS_QUEUE_URL"] == outputs["EventsQueueUrl"]
    assert env["RECONCILER_GIT_URL"] == "https://gitlab.example.com/platform/deploy-manifests.git"
    assert {s["name"]: s["valueFrom"] for s in container["secrets"]} == {
        "RECONCILER_GIT_TOKEN": SECRET.format("git-token"), "SLACK_WEBHOOK_URL": SECRET.format("slack"),
        "RECONCILER_SLACK_SIGNING_SECRET": SECRET.format("slack-signing"),
        "RECONCILER_SLACK_BOT_TOKEN": SECRET.format("slack-bot")}
    assert env["RECONCILER_SLACK_APPROVAL_CHANNEL"] == "C0123456789" and "RECONCILER_SLACK_TEAM_ID" not in env
    assert env["RECONCILER_SHARDS"] == "false" and "RECONCILER_SHARD_SPLIT" not in env  # leader + standby
    assert "slack-webhook" in env["CONFIG_YAML"]

    # The roles: the task role holds the reconcile policy, the execution role reads exactly the two secrets.
    iam = sandbox.client("iam")
    task_role = iam.get_role(RoleName="ecs-reconciler-task")["Role"]
    assert td["taskRoleArn"] == task_role["Arn"] == outputs["TaskRoleArn"]
    policy = iam.get_role_policy(RoleName="ecs-reconciler-task", PolicyName="reconcile")["PolicyDocument"]
    actions = {a for st in policy["Statement"] for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])}
    assert {"ecs:UpdateService", "codedeploy:CreateDeployment", "dynamodb:PutItem", "sqs:ReceiveMessage"} <= actions
    lease = next(st for st in policy["Statement"] if st["Sid"] == "LeaseAndNotifyState")
    assert lease["Resource"] == "arn:aws:dynamodb:eu-west-1:123456789012:table/ecs-reconciler-state"
    secrets = iam.get_role_policy(RoleName="ecs-reconciler-execution", PolicyName="read-secrets")["PolicyDocument"]
    assert SECRET.format("git-token") in secrets["Statement"][0]["Resource"]
    assert td["executionRoleArn"] == iam.get_role(RoleName="ecs-reconciler-execution")["Role"]["Arn"]

    # The state table, with TTL on `ttl`.
    ddb = sandbox.client("dynamodb")
    table = ddb.describe_table(TableName="ecs-reconciler-state")["Table"]
    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {"pk": "HASH", "sk": "RANGE"}
    assert ddb.describe_time_to_live(TableName="ecs-reconciler-state")["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}

    # The queue, its dead-letter queue, and the rule that feeds it CodeCommit pushes.
    sqs = sandbox.client("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=outputs["EventsQueueUrl"], AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attrs["RedrivePolicy"])
    dlq_url = sqs.get_queue_url(QueueName="ecs-reconciler-events-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert redrive == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5}
    events = sandbox.client("events")
    rule = events.describe_rule(Name="ecs-reconciler-codecommit-push")
    pattern = json.loads(rule["EventPattern"])
    assert pattern["source"] == ["aws.codecommit"] and pattern["detail"]["referenceName"] == ["main"]
    assert pattern["resources"] == ["arn:aws:codecommit:eu-west-1:123456789012:deploy-manifests"]
    [target] = events.list_targets_by_rule(Rule="ecs-reconciler-codecommit-push")["Targets"]
    assert target["Arn"] == attrs["QueueArn"]
    assert sandbox.client("logs").describe_log_groups(logGroupNamePrefix="/ecs/ecs-reconciler")["logGroups"]


def test_optional_parts_are_left_out_and_the_target_role_trusts_the_task_role(sandbox_factory):
    sandbox = sandbox_factory(seed=SEED)
    ecs = sandbox.client("ecs")
    ecs.create_cluster(clusterName="platform")
    outputs = deploy(sandbox, "minimal", STACK, GitUrl="codecommit::eu-west-1://deploy-manifests", InstanceName="rec2",
                     ClusterName="platform", Subnets="subnet-0a1b2c3d4e5f60001", SecurityGroups="sg-0a1b2c3d4e5f60001",
                     Image=IMAGE, Replicas="3", Sharding="true", ShardSplit="production=4,staging=2")
    [svc] = ecs.describe_services(cluster="platform", services=["rec2"])["services"]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    [container] = td["containerDefinitions"]
    assert not container.get("secrets")  # no token: CodeCommit through the task role
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert env["RECONCILER_GIT_CODECOMMIT_HELPER"] == "true"
    assert svc["desiredCount"] == 3  # three replicas sharing the shards
    assert (env["RECONCILER_SHARDS"], env["RECONCILER_SHARD_SPLIT"]) == ("true", "production=4,staging=2")
    assert not [name for name in env if name.startswith("RECONCILER_SLACK_")]
    assert "ecs-reconciler" not in {c.rsplit("/", 1)[-1] for c in ecs.list_clusters()["clusterArns"]}
    assert sandbox.client("events").list_rules(NamePrefix="rec2")["Rules"] == []

    target = deploy(sandbox, "target", TARGET_ROLE, ReconcilerRoleArn=outputs["TaskRoleArn"],
                    ExternalId="ecs-reconciler-production", InstanceName="rec2")
    role = sandbox.client("iam").get_role(RoleName="rec2-target")["Role"]
    assert role["Arn"] == target["TargetRoleArn"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"AWS": outputs["TaskRoleArn"]}
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": "ecs-reconciler-production"}}
