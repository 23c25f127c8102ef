"""ECS-native BLUE_GREEN / LINEAR / CANARY deployments in the sandbox, driven only through boto3.

Sources: reference/ecs-native-deployments.md ([DG:page] = ECS developer guide,
[BC] = botocore 1.43.11 ecs model). Behaviour AWS leaves open is "our choice",
listed in reconciler/sandbox/service_deployments.py.
"""
from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError

from reconciler.sandbox import Sandbox
from reconciler.sandbox.pytest_plugin import EXAMPLE_SEED

pytestmark = pytest.mark.e2e
REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
ELB = "arn:aws:elasticloadbalancing:eu-west-1:123456789012"
BLUE = f"{ELB}:targetgroup/checkout-blue/0000000000000007"
GREEN = f"{ELB}:targetgroup/checkout-green/0000000000000008"
PROD_RULE = f"{ELB}:listener-rule/app/checkout-production/0000000000000007/0000000000000001/0000000000000001"
TEST_RULE = f"{ELB}:listener-rule/app/checkout-production/0000000000000007/0000000000000001/0000000000000002"
ALARM = "checkout-production-5xx"
LAMBDA = "arn:aws:lambda:eu-west-1:123456789012:function:checkout-smoke"
NET = {"awsvpcConfiguration": {"subnets": ["subnet-0a1b2c3d4e5f60001"], "securityGroups": ["sg-0a1b2c3d4e5f60001"]}}


def seed_without_checkout() -> dict[str, Any]:
    """The example world without its production/checkout service: these tests create it themselves."""
    seed = yaml.safe_load(EXAMPLE_SEED.read_text())
    seed["services"] = [s for s in seed["services"] if s["service"]["serviceName"] != "checkout"]
    return seed


@pytest.fixture
def box(sandbox_factory: Any) -> Sandbox:
    return sandbox_factory(seed=seed_without_checkout(), speed=0)


def taskdef(ecs: Any, tag: str) -> str:
    return ecs.register_task_definition(
        family="checkout-production", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256",
        memory="512", containerDefinitions=[{"name": "checkout", "image": f"{REGISTRY}/checkout:{tag}",
                                             "portMappings": [{"containerPort": 8080}]}],
    )["taskDefinition"]["taskDefinitionArn"]


def config(strategy: str, **extra: Any) -> dict[str, Any]:
    return {"strategy": strategy, "bakeTimeInMinutes": 2, **extra}


def create(box: Sandbox, deployment: dict[str, Any], desired: int = 2) -> dict[str, Any]:
    """A checkout service with traffic shifting between blue and green; its first deployment done.

    Hooks also run for CreateService's deployment [DG:deployment-lifecycle-hooks]: they are
    added afterwards (UpdateService with only deploymentConfiguration starts no deployment)."""
    ecs = box.client("ecs")
    first_config = {k: v for k, v in deployment.items() if k != "lifecycleHooks"}
    svc = ecs.create_service(
        cluster="production", serviceName="checkout", taskDefinition=taskdef(ecs, "3.0.0"), desiredCount=desired,
        launchType="FARGATE", networkConfiguration=NET, deploymentConfiguration=first_config,
        loadBalancers=[{"targetGroupArn": BLUE, "containerName": "checkout", "containerPort": 8080,
                        "advancedConfiguration": {"alternateTargetGroupArn": GREEN, "productionListenerRule": PROD_RULE,
                                                  "testListenerRule": TEST_RULE,
                                                  "roleArn": "arn:aws:iam::123456789012:role/ecsInfrastructure"}}],
    )["service"]
    first = run_until(box, svc["currentServiceDeployment"], {"SUCCESSFUL"}, limit=400)
    assert first["sourceServiceRevisions"] == []
    if "lifecycleHooks" in deployment:
        again = ecs.update_service(cluster="production", service="checkout", deploymentConfiguration=deployment)
        assert again["service"]["currentServiceDeployment"] == svc["currentServiceDeployment"]
    return svc


def update(box: Sandbox, tag: str) -> str:
    ecs = box.client("ecs")
    svc = ecs.update_service(cluster="production", service="checkout", taskDefinition=taskdef(ecs, tag))["service"]
    return str(svc["currentServiceDeployment"])


def describe(box: Sandbox, arn: str) -> dict[str, Any]:
    out = box.client("ecs").describe_service_deployments(serviceDeploymentArns=[arn])
    assert out["failures"] == []
    return out["serviceDeployments"][0]


def weights(box: Sandbox, rule: str = PROD_RULE) -> dict[str, int]:
    found = box.client("elbv2").describe_rules(RuleArns=[rule])["Rules"][0]
    return {g["TargetGroupArn"]: g["Weight"] for g in found["Actions"][0]["ForwardConfig"]["TargetGroups"]}


def run_until(box: Sandbox, arn: str, statuses: set[str], limit: int = 200,
              stage: str | None = None) -> dict[str, Any]:
    for _ in range(limit):
        dep = describe(box, arn)
        if dep["status"] in statuses or (stage and dep.get("lifecycleStage") == stage):
            return dep
        box.advance(15)
    raise AssertionError(f"deployment stayed {dep['status']} at {dep.get('lifecycleStage')}")


def test_botocore_pin_has_the_service_deployment_apis() -> None:
    """[BC] botocore 1.43.11 models every API and field this sandbox answers."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("ecs")
    assert {"ListServiceDeployments", "DescribeServiceDeployments", "DescribeServiceRevisions",
            "StopServiceDeployment", "ContinueServiceDeployment"} <= set(model.operation_names)
    assert {"strategy", "bakeTimeInMinutes", "linearConfiguration", "canaryConfiguration", "lifecycleHooks",
            "alarms"} <= set(model.shape_for("DeploymentConfiguration").members)
    assert {"lifecycleStage", "lifecycleHookDetails", "rollback", "alarms", "deploymentCircuitBreaker"} <= set(
        model.shape_for("ServiceDeployment").members)


def test_blue_green_moves_through_the_stages_in_order_and_swaps_target_groups(box: Sandbox) -> None:
    """[DG:blue-green-deployment-how-it-works] stage order; bake time after production moved;
    [DG:migrate-codedeploy-to-ecs-bluegreen] traffic moves by the weights on the production rule."""
    create(box, config("BLUE_GREEN"))
    arn = update(box, "3.0.1")
    seen: list[str] = []
    prod_during_bake = None
    for _ in range(100):
        dep = describe(box, arn)
        stage = dep.get("lifecycleStage")
        if stage and (not seen or seen[-1] != stage):
            seen.append(stage)
        if stage == "BAKE_TIME":
            prod_during_bake = weights(box)
        if dep["status"] == "SUCCESSFUL":
            break
        box.advance(15)
    assert dep["status"] == "SUCCESSFUL" and dep["finishedAt"] >= dep["startedAt"]
    assert seen == ["PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT",
                    "PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT",
                    "BAKE_TIME", "CLEAN_UP"]
    assert prod_during_bake == {BLUE: 0, GREEN: 100}
    assert weights(box, TEST_RULE) == {BLUE: 0, GREEN: 100}
    assert dep["targetServiceRevision"]["requestedProductionTrafficWeight"] == 100.0
    svc = box.client("ecs").describe_services(cluster="production", services=["checkout"])["services"][0]
    assert svc["currentServiceDeployment"] == arn
    assert [r["arn"] for r in svc["currentServiceRevisions"]] == [dep["targetServiceRevision"]["arn"]]
    assert svc["runningCount"] == 2 and svc["taskDefinition"].endswith(":2")
    # Our choice (user reports, reference §2.2): the service records the swap.
    lb = svc["loadBalancers"][0]
    assert lb["targetGroupArn"] == GREEN and lb["advancedConfiguration"]["alternateTargetGroupArn"] == BLUE
    assert all("rolloutState" not in d for d in svc["deployments"])  # [BC] rolling only
    # The next deployment goes back from green to blue.
    second = update(box, "3.1.0")
    box.advance(15 * 8)
    assert weights(box) == {BLUE: 100, GREEN: 0}
    assert run_until(box, second, {"SUCCESSFUL"})["status"] == "SUCCESSFUL"


def test_linear_steps_with_bakes_between_them(box: Sandbox) -> None:
    """[DG:deployment-type-linear]: equal steps, step bake between steps, none after 100 %."""
    create(box, config("LINEAR", linearConfiguration={"stepPercent": 25.0, "stepBakeTimeInMinutes": 1}))
    arn = update(box, "3.0.1")
    seen: list[tuple[int, float]] = []
    at_step: dict[float, float] = {}
    for _ in range(200):
        dep = describe(box, arn)
        pct = dep["targetServiceRevision"]["requestedProductionTrafficWeight"]
        if weights(box)[GREEN] != (seen[-1][0] if seen else 0):
            seen.append((weights(box)[GREEN], box.now()))
        at_step.setdefault(pct, box.now())
        if dep["status"] == "SUCCESSFUL":
            break
        box.advance(15)
    assert [w for w, _ in seen] == [25, 50, 75, 100]
    gaps = [b - a for (_, a), (_, b) in zip(seen, seen[1:], strict=False)]
    assert all(gap >= 60 for gap in gaps), gaps  # each step bakes 1 minute first
    assert dep["sourceServiceRevisions"][0]["requestedProductionTrafficWeight"] == 0.0


def test_canary_alarm_in_alarm_during_bake_rolls_back(box: Sandbox) -> None:
    """[DG:blue-green-deployment-implementation] alarms roll back; [DG:service-deployment]
    ROLLBACK_IN_PROGRESS -> ROLLBACK_SUCCESSFUL; [BC] alarms.triggeredAlarmNames."""
    create(box, config("CANARY", canaryConfiguration={"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 10},
                       alarms={"alarmNames": [ALARM], "enable": True, "rollback": True}))
    arn = update(box, "3.0.1")
    dep = run_until(box, arn, set(), stage="PRODUCTION_TRAFFIC_SHIFT")
    box.advance(30)
    assert weights(box) == {BLUE: 90, GREEN: 10}
    assert describe(box, arn)["alarms"]["status"] == "MONITORING"
    box.client("cloudwatch").set_alarm_state(AlarmName=ALARM, StateValue="ALARM", StateReason="5xx")
    box.advance(15)
    dep = run_until(box, arn, {"ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"})
    assert dep["status"] == "ROLLBACK_SUCCESSFUL"
    assert dep["alarms"] == {"status": "TRIGGERED", "alarmNames": [ALARM], "triggeredAlarmNames": [ALARM]}
    assert dep["rollback"]["serviceRevisionArn"] == dep["sourceServiceRevisions"][0]["arn"]
    assert weights(box) == {BLUE: 100, GREEN: 0}
    svc = box.client("ecs").describe_services(cluster="production", services=["checkout"])["services"][0]
    assert svc["taskDefinition"].endswith(":1") and svc["loadBalancers"][0]["targetGroupArn"] == BLUE


def pause_config(action: str = "ROLLBACK", minutes: int = 30) -> dict[str, Any]:
    return config("CANARY", canaryConfiguration={"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 1},
                  lifecycleHooks=[{"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
                                   "timeoutConfiguration": {"timeoutInMinutes": minutes, "action": action}}])


def awaiting(dep: dict[str, Any]) -> dict[str, Any]:
    return next(h for h in dep.get("lifecycleHookDetails", []) if h["status"] == "AWAITING_ACTION")


def test_pause_hook_waits_until_continued(box: Sandbox) -> None:
    """[DG:pause-lifecycle-hooks]: hookId ecs-pause-…, AWAITING_ACTION, expiresAt; continue moves on;
    [DG:continue-service-deployment]: only while AWAITING_ACTION."""
    create(box, pause_config())
    ecs = box.client("ecs")
    arn = update(box, "3.0.1")
    dep = run_until(box, arn, set(), stage="POST_TEST_TRAFFIC_SHIFT")
    hook = awaiting(dep)
    assert hook["hookId"].startswith("ecs-pause-") and hook["targetType"] == "PAUSE" and "targetArn" not in hook
    assert hook["timeoutAction"] == "ROLLBACK"
    box.advance(20 * 60)  # still waiting, well before its 30-minute timeout
    dep = describe(box, arn)
    assert dep["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT" and weights(box)[GREEN] == 0
    assert abs(hook["expiresAt"].timestamp() - (dep["startedAt"].timestamp() + 30 * 60)) < 200
    ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook["hookId"])
    with pytest.raises(ClientError) as again:  # no longer AWAITING_ACTION
        ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook["hookId"], action="ROLLBACK")
    assert again.value.response["Error"]["Code"] == "InvalidParameterException"
    dep = run_until(box, arn, {"SUCCESSFUL"})
    assert [h["status"] for h in dep["lifecycleHookDetails"]] == ["SUCCEEDED"]


def test_pause_hook_timeout_rolls_back_or_continues(box: Sandbox) -> None:
    """[DG:pause-lifecycle-hooks]: on timeout ECS applies timeoutConfiguration.action."""
    create(box, pause_config(minutes=5))
    arn = update(box, "3.0.1")
    run_until(box, arn, set(), stage="POST_TEST_TRAFFIC_SHIFT")
    box.advance(5 * 60 + 15)
    dep = run_until(box, arn, {"ROLLBACK_SUCCESSFUL"})
    assert [h["status"] for h in dep["lifecycleHookDetails"]] == ["TIMED_OUT"]
    assert dep["rollback"]["reason"] == dep["statusReason"]
    ecs = box.client("ecs")
    ecs.update_service(cluster="production", service="checkout",
                       deploymentConfiguration=pause_config(action="CONTINUE", minutes=1))
    arn = update(box, "3.1.0")
    dep = run_until(box, arn, {"SUCCESSFUL", "ROLLBACK_SUCCESSFUL"})
    assert dep["status"] == "SUCCESSFUL" and dep["lifecycleHookDetails"][0]["status"] == "TIMED_OUT"


def test_continue_with_rollback_and_stop_service_deployment(box: Sandbox) -> None:
    """[DG:continue-service-deployment] action ROLLBACK; [DG:stop-service-deployment] ROLLBACK,
    ConflictException once completed; unknown ARNs: ServiceDeploymentNotFoundException."""
    create(box, pause_config())
    ecs = box.client("ecs")
    arn = update(box, "3.0.1")
    hook = awaiting(run_until(box, arn, set(), stage="POST_TEST_TRAFFIC_SHIFT"))
    ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook["hookId"], action="ROLLBACK")
    assert describe(box, arn)["status"] == "ROLLBACK_REQUESTED"
    dep = run_until(box, arn, {"ROLLBACK_SUCCESSFUL"})
    assert dep["lifecycleHookDetails"][0]["status"] == "FAILED"
    with pytest.raises(ClientError) as done:
        ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    assert done.value.response["Error"]["Code"] == "ConflictException"
    arn = update(box, "3.1.0")
    run_until(box, arn, set(), stage="SCALE_UP")
    ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    assert run_until(box, arn, {"ROLLBACK_SUCCESSFUL"})["rollback"]["reason"]
    with pytest.raises(ClientError) as missing:
        ecs.stop_service_deployment(serviceDeploymentArn=arn + "x", stopType="ROLLBACK")
    assert missing.value.response["Error"]["Code"] == "ServiceDeploymentNotFoundException"


def test_lambda_hook_answers_per_function(box: Sandbox) -> None:
    """[DG:lambda-lifecycle-hooks]: IN_PROGRESS re-invokes after callBackDelay; FAILED rolls back.
    Answers are configured over the admin API (no Lambda runs in the sandbox)."""
    hooks = [{"hookTargetArn": LAMBDA, "roleArn": "arn:aws:iam::123456789012:role/hooks",
              "lifecycleStages": ["POST_SCALE_UP"]}]
    create(box, config("BLUE_GREEN", lifecycleHooks=hooks))
    request = urllib.request.Request(f"{box.endpoint_url}/_sandbox/lambda-hook", method="POST", data=json.dumps(
        {"functionArn": LAMBDA, "answers": [{"hookStatus": "IN_PROGRESS", "callBackDelay": 120},
                                            {"hookStatus": "SUCCEEDED"}]}).encode())
    assert json.loads(urllib.request.urlopen(request).read())["ok"]
    arn = update(box, "3.0.1")
    dep = run_until(box, arn, set(), stage="POST_SCALE_UP")
    box.advance(60)
    hook = describe(box, arn)["lifecycleHookDetails"][0]
    assert hook["status"] == "IN_PROGRESS" and hook["targetArn"] == LAMBDA
    assert run_until(box, arn, {"SUCCESSFUL"})["lifecycleHookDetails"][0]["status"] == "SUCCEEDED"
    box.set_lambda_hook(LAMBDA, [{"hookStatus": "FAILED"}])
    arn = update(box, "3.1.0")
    dep = run_until(box, arn, {"ROLLBACK_SUCCESSFUL"})
    assert dep["lifecycleHookDetails"][-1]["status"] == "FAILED"


def test_circuit_breaker_rolls_back_in_scale_up(box: Sandbox) -> None:
    """[DG:deployment-failure-detection] breaker with blue/green; [BC] failureCount and threshold."""
    create(box, config("BLUE_GREEN", deploymentCircuitBreaker={"enable": True, "rollback": True}))
    box.fail_image(f"{REGISTRY}/checkout:3.0.1")
    arn = update(box, "3.0.1")
    dep = run_until(box, arn, {"ROLLBACK_SUCCESSFUL"})
    assert dep["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
    assert dep["deploymentCircuitBreaker"]["failureCount"] >= dep["deploymentCircuitBreaker"]["threshold"] == 3
    stopped = box.client("ecs").list_tasks(cluster="production", serviceName="checkout", desiredStatus="STOPPED")
    reasons = {t["stoppedReason"] for t in box.client("ecs").describe_tasks(
        cluster="production", tasks=stopped["taskArns"])["tasks"]}
    assert any(r.startswith("CannotPullContainerError") for r in reasons)


def test_new_update_stops_the_running_deployment(box: Sandbox) -> None:
    """[DG:service-deployment]: a new deployment moves the running one to STOP_REQUESTED/STOPPED;
    the next starts with two active revisions, so it runs RECONCILE_SERVICE."""
    create(box, pause_config())
    first = update(box, "3.0.1")
    run_until(box, first, set(), stage="POST_TEST_TRAFFIC_SHIFT")
    second = update(box, "3.1.0")
    assert describe(box, first)["status"] == "STOPPED" and describe(box, first)["stoppedAt"]
    box.advance(15)
    assert describe(box, second)["lifecycleStage"] == "RECONCILE_SERVICE"
    dep = run_until(box, second, set(), stage="POST_TEST_TRAFFIC_SHIFT")
    assert len(dep["sourceServiceRevisions"]) == 1


def test_list_service_deployments_filters_and_pages(box: Sandbox) -> None:
    """[BC] ListServiceDeployments: status and createdAt filters, maxResults, nextToken."""
    create(box, config("BLUE_GREEN", bakeTimeInMinutes=0))
    ecs = box.client("ecs")
    started = box.now()
    for tag in ("3.0.1", "3.1.0"):
        run_until(box, update(box, tag), {"SUCCESSFUL"})
    arn = update(box, "3.0.0")
    everything = ecs.list_service_deployments(cluster="production", service="checkout")["serviceDeployments"]
    assert len(everything) == 4 and everything[0]["serviceDeploymentArn"] == arn
    assert everything[0]["targetServiceRevisionArn"].startswith(
        "arn:aws:ecs:eu-west-1:123456789012:service-revision/production/checkout/")
    done = ecs.list_service_deployments(cluster="production", service="checkout", status=["SUCCESSFUL"])
    assert len(done["serviceDeployments"]) == 3
    recent = ecs.list_service_deployments(cluster="production", service="checkout", createdAt={"after": started})
    assert len(recent["serviceDeployments"]) == 3
    page = ecs.list_service_deployments(cluster="production", service="checkout", maxResults=3)
    rest = ecs.list_service_deployments(cluster="production", service="checkout", nextToken=page["nextToken"])
    assert [d["serviceDeploymentArn"] for d in page["serviceDeployments"] + rest["serviceDeployments"]] == \
        [d["serviceDeploymentArn"] for d in everything] and "nextToken" not in rest
    revisions = ecs.describe_service_revisions(serviceRevisionArns=[everything[1]["targetServiceRevisionArn"], "x"])
    assert revisions["failures"] == [{"arn": "x", "reason": "MISSING"}]
    revision = revisions["serviceRevisions"][0]
    assert revision["taskDefinition"].endswith(":3") and revision["containerImages"][0]["image"].endswith("3.1.0")
    assert revision["resolvedConfiguration"]["loadBalancers"][0] == {
        "targetGroupArn": BLUE, "productionListenerRule": PROD_RULE}
    with pytest.raises(ClientError):
        ecs.list_service_deployments(cluster="production", service="checkout", maxResults=101)


def test_code_deploy_service_moves_to_ecs_blue_green(box: Sandbox) -> None:
    """[DG:update-service-parameters]: CODE_DEPLOY -> ECS is allowed, no path back to CODE_DEPLOY."""
    ecs = box.client("ecs")
    moved = ecs.update_service(cluster="production", service="api", deploymentController={"type": "ECS"},
                               deploymentConfiguration={"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 0})["service"]
    assert moved["deploymentController"] == {"type": "ECS"} and "taskSets" not in moved
    assert moved["runningCount"] == 2 and len(moved["deployments"]) == 1
    with pytest.raises(ClientError) as back:
        ecs.update_service(cluster="production", service="api", deploymentController={"type": "CODE_DEPLOY"})
    assert back.value.response["Error"]["Code"] == "InvalidParameterException"


def test_listener_rules_must_forward_to_both_target_groups(box: Sandbox) -> None:
    """[DG:migrate-code-deploy-to-ecs-blue-green]: "Service deployment rolled back because of invalid
    networking configuration. Both targetGroup and alternateTargetGroup must be associated with the
    productionListenerRule or testListenerRule." """
    create(box, config("BLUE_GREEN"))
    ecs = box.client("ecs")
    other = f"{ELB}:targetgroup/web-production/0000000000000002"
    lb = ecs.describe_services(cluster="production", services=["checkout"])["services"][0]["loadBalancers"]
    lb[0]["advancedConfiguration"]["alternateTargetGroupArn"] = other
    ecs.update_service(cluster="production", service="checkout", loadBalancers=lb, taskDefinition=taskdef(ecs, "3.0.1"))
    arn = ecs.describe_services(cluster="production", services=["checkout"])["services"][0]["currentServiceDeployment"]
    dep = run_until(box, arn, {"ROLLBACK_SUCCESSFUL", "SUCCESSFUL"})
    assert dep["status"] == "ROLLBACK_SUCCESSFUL" and "invalid networking configuration" in dep["statusReason"]
