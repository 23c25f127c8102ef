"""Seed files: the AWS world a sandbox starts with, applied through the API itself.

Format (YAML, every section optional)::

    region: eu-west-1                 # informational; the sandbox is eu-west-1
    vpcs:
      - cidr: 10.0.0.0/16
        subnets:                      # exact IDs are honoured
          - {id: subnet-0a1b2c3d4e5f60001, cidr: 10.0.1.0/24, availabilityZone: eu-west-1a}
        securityGroups:
          - {id: sg-0a1b2c3d4e5f60001, name: example, description: example}
    clusters: [staging, production]
    ecr:                              # repository -> image tags that exist (put_image)
      web: ["1.4.1", "1.4.2"]
    ssmParameters:                    # name -> value (String parameters)
      /web/staging/api-url: https://api.staging.example
    secrets:                          # Secrets Manager; `arn` pins the full ARN (moto randomises it)
      - {name: web/staging/db, arn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:web/staging/db-AbCdEf",
         value: '{"password": "example"}'}
    iamRoles:                         # roles and the service principals their trust policy names
      - {name: ecsTaskExecutionRole, trust: [ecs-tasks.amazonaws.com]}
    s3Objects:                        # environment files
      - {bucket: example-config, key: web/staging.env, body: "FEATURE=1"}
    taskOutcomes:                     # one-off tasks (RunTask): by a substring of their command
      - {match: "db:migrate", exitCode: 0, runSeconds: 30, logs: ["migrated 3 tables"]}
    targetGroups:                     # exact ARNs are honoured (moto's are random)
      - {arn: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web-staging/0000000000000001",
         port: 8080, protocol: HTTP, targetType: ip}
    loadBalancers:                    # ALB/NLB with listeners and rules at exact ARNs (after targetGroups)
      - name: api-staging
        type: application             # or network
        listeners:
          - arn: "arn:aws:elasticloadbalancing:…:listener/app/api-staging/…/…"
            port: 80
            targetGroups: [{arn: "<tg arn>", weight: 1}]      # the default forward action
            rules:                    # listener rules (ALB), each a weighted forward
              - {arn: "arn:…:listener-rule/app/…", priority: 1, pathPattern: "/*",
                 targetGroups: [{arn: "<blue>", weight: 1}, {arn: "<green>", weight: 0}]}
    alarms: [{name: api-5xx}]         # CloudWatch alarms (state OK; SetAlarmState moves them)
    lambdaHooks:                      # deployment lifecycle hook answers per Lambda ARN (no Lambda runs)
      "arn:aws:lambda:…:function:check": [{hookStatus: IN_PROGRESS, callBackDelay: 60}, {hookStatus: SUCCEEDED}]
    deploymentConfigs:                # CodeDeploy CreateDeploymentConfig (computePlatform ECS)
      - {name: my-canary, trafficRoutingConfig: {...}}
    services:                         # existing services, created before the groups
      - cluster: production
        taskDefinition: {...}         # a RegisterTaskDefinition request
        service: {...}                # a CreateService request without cluster/taskDefinition
        update: {...}                 # optional UpdateService request applied once the service settled
    codedeploy:
      - application: api              # CreateApplication(computePlatform=ECS)
        deploymentGroups:
          - {...}                     # CreateDeploymentGroup request without applicationName

The target group name is the ARN's name part; moto needs a VPC, so target groups
go into the first seeded VPC.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from reconciler.sandbox import moto_compat
from reconciler.sandbox.ecs_engine import STEP_SECONDS
from reconciler.sandbox.one_off import Outcome
from reconciler.sandbox.state import SandboxState


def load_seed(source: str | Path | dict[str, Any]) -> dict[str, Any]:
    if isinstance(source, dict):
        return source
    return yaml.safe_load(Path(source).read_text()) or {}


def _put_images(ecr: Any, repository: str, tags: list[str]) -> None:
    ecr.create_repository(repositoryName=repository)
    for tag in tags:
        manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                               "config": {"digest": "sha256:" + hashlib.sha256(f"{repository}:{tag}".encode()).hexdigest()},
                               "layers": []})
        # An image digest is the sha256 of the manifest bytes (reference §7); moto needs it pinned.
        digest = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
        ecr.put_image(repositoryName=repository, imageManifest=manifest, imageTag=str(tag), imageDigest=digest)


def _seed_references(seed: dict[str, Any], clients: Any, state: SandboxState) -> None:
    """What task definitions reference: parameters, secrets, roles, environment files."""
    for name, value in (seed.get("ssmParameters") or {}).items():
        clients("ssm").put_parameter(Name=name, Value=str(value), Type="String")
    for secret in seed.get("secrets") or []:
        clients("secretsmanager").create_secret(Name=secret["name"], SecretString=str(secret.get("value", "")))
        if secret.get("arn"):
            moto_compat.pin_secret_arn(state.account, state.region, secret["name"], secret["arn"])
    for role in seed.get("iamRoles") or []:
        trust = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": list(role.get("trust") or [])}, "Action": "sts:AssumeRole"}]}
        clients("iam").create_role(RoleName=role["name"], Path=role.get("path", "/"),
                                   AssumeRolePolicyDocument=json.dumps(trust))
    buckets: set[str] = set()
    for obj in seed.get("s3Objects") or []:
        if obj["bucket"] not in buckets:
            clients("s3").create_bucket(Bucket=obj["bucket"],
                                        CreateBucketConfiguration={"LocationConstraint": state.region})
            buckets.add(obj["bucket"])
        clients("s3").put_object(Bucket=obj["bucket"], Key=obj["key"], Body=str(obj.get("body", "")).encode())


def apply_seed(seed: dict[str, Any], clients: Any, state: SandboxState) -> None:
    """Create the seed's resources through boto3 `clients(service_name)`, then let services settle."""
    ec2, ecs, ecr = clients("ec2"), clients("ecs"), clients("ecr")
    elbv2, codedeploy = clients("elbv2"), clients("codedeploy")
    vpc_ids = []
    for vpc in seed.get("vpcs") or []:
        subnets, groups = vpc.get("subnets") or [], vpc.get("securityGroups") or []
        ec2.describe_vpcs()  # moto creates the default VPC (and its subnets) lazily: do it first
        vpc_id = ec2.create_vpc(CidrBlock=vpc.get("cidr", "10.0.0.0/16"))["Vpc"]["VpcId"]
        with moto_compat.exact_ec2_ids([s["id"] for s in subnets if "id" in s], [g["id"] for g in groups if "id" in g]):
            for subnet in subnets:
                ec2.create_subnet(VpcId=vpc_id, CidrBlock=subnet["cidr"],
                                  AvailabilityZone=subnet.get("availabilityZone", f"{state.region}a"))
            for group in groups:
                ec2.create_security_group(VpcId=vpc_id, GroupName=group["name"],
                                          Description=group.get("description", group["name"]))
        vpc_ids.append(vpc_id)
    for cluster in seed.get("clusters") or []:
        ecs.create_cluster(clusterName=cluster)
    for repository, tags in (seed.get("ecr") or {}).items():
        _put_images(ecr, repository, list(tags or []))
    _seed_references(seed, clients, state)
    state.one_off.outcomes.extend(Outcome.from_seed(doc) for doc in seed.get("taskOutcomes") or [])
    for tg in seed.get("targetGroups") or []:
        name = tg["arn"].split(":targetgroup/")[1].split("/")[0]
        created = elbv2.create_target_group(
            Name=name, Protocol=tg.get("protocol", "HTTP"), Port=int(tg.get("port", 80)),
            VpcId=vpc_ids[0] if vpc_ids else ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"],
            TargetType=tg.get("targetType", "ip"),
        )["TargetGroups"][0]
        moto_compat.rekey_target_group(state.account, state.region, created["TargetGroupArn"], tg["arn"])
    _load_balancers(seed, elbv2, state, vpc_ids)
    cloudwatch = clients("cloudwatch")
    for alarm in seed.get("alarms") or []:
        cloudwatch.put_metric_alarm(AlarmName=alarm["name"], MetricName=alarm.get("metric", "HTTPCode_Target_5XX_Count"),
                                    Namespace=alarm.get("namespace", "AWS/ApplicationELB"), Statistic="Sum",
                                    Period=60, EvaluationPeriods=1, Threshold=float(alarm.get("threshold", 1)),
                                    ComparisonOperator="GreaterThanOrEqualToThreshold")
    state.native.lambda_answers.update({arn: list(answers) for arn, answers in (seed.get("lambdaHooks") or {}).items()})
    for config in seed.get("deploymentConfigs") or []:
        codedeploy.create_deployment_config(deploymentConfigName=config["name"], computePlatform="ECS",
                                            trafficRoutingConfig=config["trafficRoutingConfig"])
    for entry in seed.get("services") or []:
        td = ecs.register_task_definition(**entry["taskDefinition"])["taskDefinition"]
        ecs.create_service(cluster=entry["cluster"], taskDefinition=td["taskDefinitionArn"], **entry["service"])
    for app in seed.get("codedeploy") or []:
        codedeploy.create_application(applicationName=app["application"], computePlatform="ECS")
        for group in app.get("deploymentGroups") or []:
            codedeploy.create_deployment_group(applicationName=app["application"], **group)
    # Let seeded services reach their steady state before anyone looks (a native first deployment
    # walks its stages: up to 40 more passes).
    state.clock.advance(4 * STEP_SECONDS)
    state.tick()
    for _ in range(40):
        if not any(d.ongoing for d in state.native.deployments.values()):
            break
        state.clock.advance(STEP_SECONDS)
        state.tick()
    # Then the UpdateService calls a service's history holds (e.g. a PAUSE hook configured after the
    # first deployment: hooks run for CreateService's deployment too). No deployment starts.
    for entry in seed.get("services") or []:
        if entry.get("update"):
            ecs.update_service(cluster=entry["cluster"], service=entry["service"]["serviceName"], **entry["update"])


def _forward(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": g["arn"], "Weight": int(g.get("weight", 1))} for g in groups]}}]


def _load_balancers(seed: dict[str, Any], elbv2: Any, state: SandboxState, vpc_ids: list[str]) -> None:
    """Load balancers, listeners and weighted rules at the seed's exact ARNs."""
    subnets = [s["id"] for vpc in seed.get("vpcs") or [] for s in vpc.get("subnets") or [] if "id" in s]
    for lb in seed.get("loadBalancers") or []:
        lb_arn = elbv2.create_load_balancer(Name=lb["name"], Subnets=subnets, Type=lb.get("type", "application"),
                                           Scheme="internal")["LoadBalancers"][0]["LoadBalancerArn"]
        for listener in lb.get("listeners") or []:
            created = elbv2.create_listener(
                LoadBalancerArn=lb_arn, Port=int(listener.get("port", 80)),
                Protocol=listener.get("protocol", "HTTP" if lb.get("type", "application") == "application" else "TCP"),
                DefaultActions=_forward(listener["targetGroups"]))["Listeners"][0]["ListenerArn"]
            arn = listener.get("arn") or created
            if arn != created:
                moto_compat.rekey_listener(state.account, state.region, created, arn)
            for rule in listener.get("rules") or []:
                made = elbv2.create_rule(
                    ListenerArn=arn, Priority=int(rule.get("priority", 1)), Actions=_forward(rule["targetGroups"]),
                    Conditions=[{"Field": "path-pattern", "Values": [rule.get("pathPattern", "/*")]}],
                )["Rules"][0]["RuleArn"]
                if rule.get("arn") and rule["arn"] != made:
                    moto_compat.rekey_rule(state.account, state.region, arn, made, rule["arn"])
