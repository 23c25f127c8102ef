"""ECS behaviour of the sandbox, driven only through boto3 over HTTP."""
from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from reconciler.sandbox import Sandbox
from reconciler.sandbox.pytest_plugin import EXAMPLE_SEED

pytestmark = pytest.mark.e2e
REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
NET = {"awsvpcConfiguration": {"subnets": ["subnet-0a1b2c3d4e5f60001"], "securityGroups": ["sg-0a1b2c3d4e5f60001"]}}


def web_taskdef(ecs: Any, tag: str) -> str:
    return ecs.register_task_definition(
        family="web-production", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        executionRoleArn="arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
        containerDefinitions=[{"name": "web", "image": f"{REGISTRY}/web:{tag}", "portMappings": [{"containerPort": 8080}]}],
    )["taskDefinition"]["taskDefinitionArn"]


def web(ecs: Any) -> dict[str, Any]:
    return ecs.describe_services(cluster="production", services=["web"])["services"][0]


@pytest.fixture
def manual(sandbox_factory: Any) -> Sandbox:
    """The example world on a clock that only moves with advance()."""
    return sandbox_factory(seed=EXAMPLE_SEED, speed=0)


def test_rolling_deploy_progresses_to_completed(manual: Sandbox) -> None:
    ecs = manual.client("ecs")
    old = web(ecs)["taskDefinition"]
    new = web_taskdef(ecs, "1.4.2")
    ecs.update_service(cluster="production", service="web", taskDefinition="web-production")
    svc = web(ecs)
    assert [d["status"] for d in svc["deployments"]] == ["PRIMARY", "ACTIVE"]
    assert svc["deployments"][0]["taskDefinition"] == new and svc["deployments"][1]["taskDefinition"] == old
    assert svc["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    manual.advance(15)
    primary = web(ecs)["deployments"][0]
    assert (primary["pendingCount"], primary["runningCount"]) == (2, 0)
    manual.advance(15)
    svc = web(ecs)
    assert len(svc["deployments"]) == 1
    done = svc["deployments"][0]
    assert (done["status"], done["rolloutState"], done["runningCount"]) == ("PRIMARY", "COMPLETED", 2)
    assert done["rolloutStateReason"] == f"ECS deployment {done['id']} completed."
    assert svc["events"][0]["message"] == "(service web) has reached a steady state."
    assert svc["taskDefinition"] == new


def test_rolling_deploy_completes_in_real_time(sandbox: Sandbox) -> None:
    ecs = sandbox.client("ecs")
    web_taskdef(ecs, "1.5.0")
    ecs.update_service(cluster="production", service="web", taskDefinition="web-production")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        deployments = web(ecs)["deployments"]
        if len(deployments) == 1 and deployments[0]["rolloutState"] == "COMPLETED":
            break
        time.sleep(0.02)  # polling the API like a reconciler would
    assert deployments[0]["rolloutState"] == "COMPLETED"
    assert deployments[0]["taskDefinition"].endswith("web-production:2")


def test_missing_image_trips_breaker_and_rolls_back(manual: Sandbox) -> None:
    ecs = manual.client("ecs")
    good = web(ecs)["taskDefinition"]
    web_taskdef(ecs, "9.9.9-missing")
    ecs.update_service(cluster="production", service="web", taskDefinition="web-production")
    for _ in range(6):  # scheduler passes: launch, fail, relaunch, fail -> breaker trips
        manual.advance(15)
        svc = web(ecs)
        if any(d["rolloutState"] == "FAILED" for d in svc["deployments"]):
            break
    failed = next(d for d in svc["deployments"] if d["rolloutState"] == "FAILED")
    assert failed["rolloutStateReason"] == "ECS deployment circuit breaker: tasks failed to start."
    assert failed["failedTasks"] >= 3 and failed["status"] == "ACTIVE"
    rollback = svc["deployments"][0]
    assert rollback["status"] == "PRIMARY" and rollback["taskDefinition"] == good
    assert rollback["rolloutStateReason"].startswith("ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/")
    messages = [e["message"] for e in svc["events"]]
    assert f"(service web) (deployment {failed['id']}) deployment failed: tasks failed to start." in messages
    stopped = ecs.list_tasks(cluster="production", serviceName="web", desiredStatus="STOPPED")["taskArns"]
    tasks = ecs.describe_tasks(cluster="production", tasks=stopped)["tasks"]
    assert tasks and all(t["stoppedReason"].startswith("CannotPullContainerError") for t in tasks)
    assert all("9.9.9-missing" in t["stoppedReason"] and t["stopCode"] == "TaskFailedToStart" for t in tasks)
    for _ in range(3):
        manual.advance(15)
    svc = web(ecs)
    assert len(svc["deployments"]) == 1 and svc["deployments"][0]["rolloutState"] == "COMPLETED"
    assert svc["taskDefinition"] == good and svc["runningCount"] == 2


def test_breaker_without_rollback_stays_failed(manual: Sandbox) -> None:
    ecs = manual.client("ecs")
    ecs.update_service(cluster="production", service="web",
                       deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": False}})
    manual.fail_image(f"{REGISTRY}/web:1.5.0")
    web_taskdef(ecs, "1.5.0")
    ecs.update_service(cluster="production", service="web", taskDefinition="web-production")
    for _ in range(5):
        manual.advance(15)
    primary = web(ecs)["deployments"][0]
    assert (primary["status"], primary["rolloutState"]) == ("PRIMARY", "FAILED")
    assert web(ecs)["deployments"][1]["runningCount"] == 2  # the old tasks keep serving


def test_force_new_deployment_and_desired_count(manual: Sandbox) -> None:
    ecs = manual.client("ecs")
    ecs.update_service(cluster="production", service="web", desiredCount=3)
    assert len(web(ecs)["deployments"]) == 1  # desiredCount alone makes no deployment
    ecs.update_service(cluster="production", service="web", forceNewDeployment=True)
    assert len(web(ecs)["deployments"]) == 2
    for _ in range(4):
        manual.advance(15)
    svc = web(ecs)
    assert svc["runningCount"] == 3 and svc["deployments"][0]["rolloutState"] == "COMPLETED"


def test_code_deploy_service_refuses_taskdef_change(sandbox: Sandbox) -> None:
    ecs = sandbox.client("ecs")
    arn = ecs.register_task_definition(family="production-api", containerDefinitions=[
        {"name": "api", "image": f"{REGISTRY}/api:2.0.1", "memory": 512}])["taskDefinition"]["taskDefinitionArn"]
    with pytest.raises(ClientError) as err:
        ecs.update_service(cluster="production", service="api", taskDefinition=arn)
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    assert err.value.response["Error"]["Message"] == (
        "Unable to update task definition on services with a CODE_DEPLOY deployment controller. "
        "Use AWS CodeDeploy to trigger a new deployment.")
    svc = ecs.describe_services(cluster="production", services=["api"])["services"][0]
    assert svc["deployments"] == [] and [t["status"] for t in svc["taskSets"]] == ["PRIMARY"]


def test_describe_services_limits_and_tags(sandbox: Sandbox) -> None:
    ecs = sandbox.client("ecs")
    with pytest.raises(ClientError) as err:
        ecs.describe_services(cluster="production", services=[f"s{i}" for i in range(11)])
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    # reference aws-behaviour.md §2: at most 10 per call, "services can have at most 10 items"
    assert err.value.response["Error"]["Message"] == "services can have at most 10 items"
    ten = ecs.describe_services(cluster="production", services=["web", *[f"s{i}" for i in range(9)]])
    assert [s["serviceName"] for s in ten["services"]] == ["web"] and len(ten["failures"]) == 9
    svc = ecs.describe_services(cluster="production", services=["web"], include=["TAGS"])["services"][0]
    assert {"key": "ecs-reconciler:managed-by", "value": "ecs-reconciler"} in svc["tags"]
    assert "tags" not in ecs.describe_services(cluster="production", services=["web"])["services"][0]


def test_awsvpc_service_without_security_groups(sandbox: Sandbox) -> None:
    ecs = sandbox.client("ecs")
    ecs.register_task_definition(family="tiny", networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
                                 cpu="256", memory="512",
                                 containerDefinitions=[{"name": "c", "image": "public.ecr.aws/nginx/nginx:1"}])
    svc = ecs.create_service(cluster="staging", serviceName="tiny", taskDefinition="tiny", desiredCount=1,
                             launchType="FARGATE",
                             networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-0a1b2c3d4e5f60001"]}})
    assert svc["service"]["networkConfiguration"]["awsvpcConfiguration"] == {"subnets": ["subnet-0a1b2c3d4e5f60001"]}


def test_targeted_throttle_is_absorbed_by_standard_retries(sandbox_factory: Any) -> None:
    box = sandbox_factory()
    box.throttle("ListClusters", 2)
    standard = box.client("ecs", retries={"mode": "standard", "total_max_attempts": 3})
    assert standard.list_clusters()["clusterArns"] == []
    box.throttle("ListClusters", 1)
    bare = box.client("ecs", retries={"mode": "standard", "total_max_attempts": 1})
    with pytest.raises(ClientError) as err:
        bare.list_clusters()
    assert err.value.response["Error"] == {"Code": "ThrottlingException", "Message": "Rate exceeded"}
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_token_buckets_throttle_at_aws_rates(sandbox_factory: Any) -> None:
    box = sandbox_factory(throttling=True)
    bare = box.client("ecs", retries={"mode": "standard", "total_max_attempts": 1})
    codes = []
    for i in range(25):  # RegisterTaskDefinition: burst 20, 1 per second
        try:
            bare.register_task_definition(family=f"f{i}", containerDefinitions=[{"name": "c", "image": "x", "memory": 8}])
            codes.append("ok")
        except ClientError as exc:
            codes.append(exc.response["Error"]["Code"])
    assert codes[:20] == ["ok"] * 20 and "ThrottlingException" in codes[20:]


def test_admin_endpoint_injects_faults(sandbox_factory: Any) -> None:
    box = sandbox_factory()
    request = urllib.request.Request(f"{box.endpoint_url}/_sandbox/throttle", method="POST",
                                     data=json.dumps({"action": "ListClusters", "times": 1}).encode())
    with urllib.request.urlopen(request) as response:
        assert json.load(response)["ok"] is True
    env = box.env()
    client = boto3.client("ecs", endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_REGION"],
                          aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                          config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    with pytest.raises(ClientError):
        client.list_clusters()
    assert client.list_clusters()["clusterArns"] == []


def test_deleted_service_is_inactive_and_unlisted(manual: Sandbox) -> None:
    ecs = manual.client("ecs")
    with pytest.raises(ClientError):
        ecs.delete_service(cluster="staging", service="legacy-worker")  # still scaled above 0
    ecs.update_service(cluster="staging", service="legacy-worker", desiredCount=0)
    assert ecs.delete_service(cluster="staging", service="legacy-worker")["service"]["status"] == "DRAINING"
    assert ecs.list_services(cluster="staging")["serviceArns"] == []
    svc = ecs.describe_services(cluster="staging", services=["legacy-worker"])["services"][0]
    assert svc["status"] == "INACTIVE"


def test_list_services_pages_like_ecs(sandbox: Sandbox) -> None:
    ecs = sandbox.client("ecs")
    arn = web_taskdef(ecs, "1.4.2")
    names = [f"p-{i:02d}" for i in range(12)]
    for name in names:
        ecs.create_service(cluster="production", serviceName=name, taskDefinition=arn, desiredCount=0,
                           launchType="FARGATE", networkConfiguration=NET)
    first = ecs.list_services(cluster="production")  # default page: 10 (botocore ListServicesRequest.maxResults)
    assert len(first["serviceArns"]) == 10 and "nextToken" in first
    pages = list(ecs.get_paginator("list_services").paginate(cluster="production", PaginationConfig={"PageSize": 5}))
    listed = [a.rsplit("/", 1)[-1] for p in pages for a in p["serviceArns"]]
    assert set(names) <= set(listed) and len(listed) == len(set(listed)) and all(len(p["serviceArns"]) <= 5 for p in pages)
    with pytest.raises(ClientError, match="maxResults"):
        ecs.list_services(cluster="production", maxResults=101)


def test_describe_services_tags_are_each_services_own(sandbox: Sandbox) -> None:
    """Tags are looked up by cluster and name (moto's own lookup scans every service per call): the same
    name in two clusters keeps its own tags, and a TagResource after creation shows."""
    ecs = sandbox.client("ecs")
    arn = web_taskdef(ecs, "1.4.2")
    for cluster in ("production", "staging"):
        ecs.create_service(cluster=cluster, serviceName="twin", taskDefinition=arn, desiredCount=0,
                           launchType="FARGATE", networkConfiguration=NET, tags=[{"key": "home", "value": cluster}])
    staging = ecs.describe_services(cluster="staging", services=["twin"])["services"][0]
    ecs.tag_resource(resourceArn=staging["serviceArn"], tags=[{"key": "later", "value": "yes"}])
    for cluster in ("production", "staging"):
        tags = ecs.describe_services(cluster=cluster, services=["twin"], include=["TAGS"])["services"][0]["tags"]
        assert {"key": "home", "value": cluster} in tags
        assert ({"key": "later", "value": "yes"} in tags) == (cluster == "staging")


def two_running_services(manual: Sandbox) -> tuple[Any, str]:
    """Services `left` and `right` in production, two tasks each, running; the ECS client and their revision."""
    ecs = manual.client("ecs")
    arn = web_taskdef(ecs, "1.4.2")
    for name in ("left", "right"):
        ecs.create_service(cluster="production", serviceName=name, taskDefinition=arn, desiredCount=2,
                           launchType="FARGATE", networkConfiguration=NET)
    manual.advance(30)
    return ecs, arn


def test_list_tasks_by_service_name_or_arn_lists_only_that_service(manual: Sandbox) -> None:
    """ListTasks with serviceName looks at that service alone (by name or ARN); an unknown one lists none."""
    ecs, arn = two_running_services(manual)
    every = set(ecs.list_tasks(cluster="production")["taskArns"])
    left = ecs.list_tasks(cluster="production", serviceName="left")["taskArns"]
    left_arn = ecs.describe_services(cluster="production", services=["left"])["services"][0]["serviceArn"]
    right = ecs.list_tasks(cluster="production", serviceName="right")["taskArns"]
    assert len(left) == len(right) == 2 and not set(left) & set(right) and set(left) | set(right) <= every
    assert ecs.list_tasks(cluster="production", serviceName=left_arn)["taskArns"] == left
    assert {t["group"] for t in ecs.describe_tasks(cluster="production", tasks=left)["tasks"]} == {"service:left"}
    assert ecs.list_tasks(cluster="production", serviceName="nobody")["taskArns"] == []
    assert ecs.list_tasks(cluster="staging", serviceName="left")["taskArns"] == []


def _by_started_by(ecs: Any, cluster: str, status: str) -> dict[str, list[str]]:
    """The reference: every task ListTasks lists without a filter, grouped by its startedBy."""
    arns = ecs.list_tasks(cluster=cluster, desiredStatus=status)["taskArns"]
    out: dict[str, list[str]] = {}
    for i in range(0, len(arns), 100):
        for task in ecs.describe_tasks(cluster=cluster, tasks=arns[i:i + 100])["tasks"]:
            out.setdefault(task.get("startedBy") or "", []).append(task["taskArn"])
    return {k: sorted(v, key=arns.index) for k, v in out.items()}


def test_list_tasks_by_started_by_matches_the_unfiltered_listing(manual: Sandbox) -> None:
    """ListTasks(startedBy=) (the hook lookup) reads an index: it lists exactly what the unfiltered
    ListTasks holds with that startedBy, for service tasks (running, stopped by a rollout, of a deleted
    service) and one-off tasks, and forgets tasks once they are no longer kept."""
    ecs, arn = two_running_services(manual)
    ecs.update_service(cluster="production", service="left", taskDefinition=web_taskdef(ecs, "1.5.0"))
    manual.advance(60)
    ecs.update_service(cluster="production", service="right", desiredCount=0)
    manual.advance(30)
    ecs.delete_service(cluster="production", service="right")
    for started_by in ("hook-a", "hook-a", "hook-b"):
        ecs.run_task(cluster="production", taskDefinition=arn, startedBy=started_by, launchType="FARGATE",
                     networkConfiguration=NET)
    manual.advance(30)  # the one-off tasks run; the first rollout's old tasks are STOPPED
    for status in ("RUNNING", "STOPPED"):
        reference = _by_started_by(ecs, "production", status)
        for started_by in [*reference, "nobody"]:
            if started_by:
                assert ecs.list_tasks(cluster="production", startedBy=started_by,
                                      desiredStatus=status)["taskArns"] == reference.get(started_by, []), status
    stopped = _by_started_by(ecs, "production", "STOPPED")
    assert len([k for k in stopped if k.startswith("ecs-svc/")]) >= 2 and {"hook-a", "hook-b"} <= set(stopped) | set(
        _by_started_by(ecs, "production", "RUNNING"))
    assert ecs.list_tasks(cluster="staging", startedBy="hook-a")["taskArns"] == []
    manual.advance(2 * 3600)  # stopped tasks are kept about an hour
    assert ecs.list_tasks(cluster="production", startedBy="hook-a", desiredStatus="STOPPED")["taskArns"] == []
    old = next(k for k in stopped if k.startswith("ecs-svc/"))
    assert ecs.list_tasks(cluster="production", startedBy=old, desiredStatus="STOPPED")["taskArns"] == []
    gone = ecs.describe_tasks(cluster="production", tasks=stopped[old])
    assert gone["tasks"] == [] and {f["reason"] for f in gone["failures"]} == {"MISSING"}


def test_list_task_definitions_by_family_is_motos_answer(sandbox: Sandbox) -> None:
    """ListTaskDefinitions(familyPrefix=) is answered from the family's revisions alone: the same
    answer as moto's walk over every family (status filter included)."""
    from reconciler.sandbox import moto_compat

    ecs = sandbox.client("ecs")
    arns = [web_taskdef(ecs, tag) for tag in ("1.4.2", "1.5.0", "1.4.2")]
    ecs.deregister_task_definition(taskDefinition=arns[1])
    backend = moto_compat.ecs_backend("123456789012", "eu-west-1")
    for family in ("web-production", "web", "nope"):
        for status in ("ACTIVE", "INACTIVE"):
            got = ecs.list_task_definitions(familyPrefix=family, status=status)["taskDefinitionArns"]
            assert got == backend.list_task_definitions(family, status), (family, status)
    listed = ecs.list_task_definitions(familyPrefix="web-production")["taskDefinitionArns"]
    assert listed[-2:] == [arns[0], arns[2]] and arns[1] not in listed  # the seed's revision 1 comes first
    assert set(arns) - {arns[1]} <= set(ecs.list_task_definitions()["taskDefinitionArns"])


def test_tag_and_untag_a_service_as_moto_does(sandbox: Sandbox) -> None:
    """TagResource / UntagResource on a service find it by cluster and name (moto scans every service):
    the tags end as moto's own tag_resource / untag_resource leave a twin service's, only that service
    changes, and other resources (a task definition, an unknown service) are still moto's answer."""
    from reconciler.sandbox import moto_compat

    ecs = sandbox.client("ecs")
    taskdef = web_taskdef(ecs, "1.4.2")
    tags = [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]
    arns = {}
    for cluster, name in (("production", "one"), ("production", "two"), ("staging", "one")):
        arns[cluster, name] = ecs.create_service(
            cluster=cluster, serviceName=name, taskDefinition=taskdef, desiredCount=0, launchType="FARGATE",
            networkConfiguration=NET, tags=tags)["service"]["serviceArn"]
    backend = moto_compat.ecs_backend("123456789012", "eu-west-1")
    new, gone = [{"key": "b", "value": "3"}, {"key": "c", "value": "4"}], ["a", "nope"]
    ecs.tag_resource(resourceArn=arns["production", "one"], tags=new)
    backend.tag_resource(arns["production", "two"], [dict(t) for t in new])  # the reference
    assert ecs.list_tags_for_resource(resourceArn=arns["production", "one"])["tags"] == \
        ecs.list_tags_for_resource(resourceArn=arns["production", "two"])["tags"] == \
        [{"key": "b", "value": "3"}, {"key": "c", "value": "4"}, {"key": "a", "value": "1"}]
    ecs.untag_resource(resourceArn=arns["production", "one"], tagKeys=gone)
    backend.untag_resource(arns["production", "two"], gone)
    one = ecs.describe_services(cluster="production", services=["one"], include=["TAGS"])["services"][0]["tags"]
    assert one == ecs.list_tags_for_resource(resourceArn=arns["production", "two"])["tags"] == \
        [{"key": "b", "value": "3"}, {"key": "c", "value": "4"}]
    assert ecs.list_tags_for_resource(resourceArn=arns["staging", "one"])["tags"] == tags
    # Services are found by key; anything else is left to moto.
    assert moto_compat.retag_ecs_service("123456789012", "eu-west-1", arns["staging", "one"], [], None)
    assert not moto_compat.retag_ecs_service("123456789012", "eu-west-1", taskdef, [], None)
    ecs.tag_resource(resourceArn=taskdef, tags=[{"key": "td", "value": "x"}])
    assert {"key": "td", "value": "x"} in ecs.list_tags_for_resource(resourceArn=taskdef)["tags"]
    with pytest.raises(ClientError) as err:
        ecs.tag_resource(resourceArn=arns["production", "one"].replace("/one", "/nobody"), tags=new)
    assert err.value.response["Error"]["Code"] == "ServiceNotFoundException"
