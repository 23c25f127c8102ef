"""Validation of ECS-native deployment settings: each combination AWS refuses, with its line.

Sources per rule: reconciler/manifests/ecs_deployments.py (botocore 1.43.11 model, ECS guide).
"""
from __future__ import annotations

from reconciler.manifests.issues import FileIssues
from reconciler.manifests.service import read_service
from reconciler.manifests.yamlsource import parse_text

ELB = "arn:aws:elasticloadbalancing:eu-west-1:123456789012"
LB = f"""loadBalancers:
  - targetGroupArn: {ELB}:targetgroup/blue/1
    containerName: app
    containerPort: 8080
    advancedConfiguration:
      alternateTargetGroupArn: {ELB}:targetgroup/green/2
      productionListenerRule: {ELB}:listener-rule/app/lb/1/1/1
      roleArn: arn:aws:iam::123456789012:role/ecsInfrastructure
"""
CANARY_WITH_PAUSE = LB + """deploymentConfiguration:
  strategy: CANARY
  bakeTimeInMinutes: 5
  canaryConfiguration: {canaryPercent: 10.0, canaryBakeTimeInMinutes: 4}
  alarms: {alarmNames: [app-5xx], enable: true, rollback: true}
  lifecycleHooks:
    - targetType: PAUSE
      lifecycleStages: [POST_TEST_TRAFFIC_SHIFT]
      timeoutConfiguration: {timeoutInMinutes: 60, action: ROLLBACK}
    - hookTargetArn: arn:aws:lambda:eu-west-1:123456789012:function:smoke
      roleArn: arn:aws:iam::123456789012:role/hooks
      lifecycleStages: [PRODUCTION_TRAFFIC_SHIFT]
"""


def issues(text: str) -> list[tuple[int | None, str, str, str]]:
    parsed = parse_text("launchType: FARGATE\n" + text)
    sink = FileIssues("service.yaml", parsed)
    read_service(parsed.data, sink, dir_name="app", cluster=None)
    return [(i.line, i.path, i.reason, i.severity) for i in sink.issues]


def errors(text: str) -> list[tuple[int | None, str, str]]:
    return [(line, path, reason) for line, path, reason, severity in issues(text) if severity == "error"]


def test_a_canary_with_a_pause_hook_is_valid() -> None:
    assert issues(CANARY_WITH_PAUSE) == []


def test_blue_green_needs_bake_time() -> None:
    found = errors(LB + "deploymentConfiguration:\n  strategy: BLUE_GREEN\n")
    assert [(line, path) for line, path, _ in found] == [(10, "deploymentConfiguration")]
    assert "needs bakeTimeInMinutes" in found[0][2]


def test_blue_green_without_advanced_configuration() -> None:
    text = f"""loadBalancers:
  - targetGroupArn: {ELB}:targetgroup/blue/1
    containerName: app
    containerPort: 8080
deploymentConfiguration: {{strategy: BLUE_GREEN, bakeTimeInMinutes: 0}}
"""
    [(line, path, reason)] = errors(text)
    assert (line, path) == (3, "loadBalancers[0]") and "add advancedConfiguration" in reason


def test_headless_blue_green_is_allowed_but_not_linear() -> None:
    assert errors("deploymentConfiguration: {strategy: BLUE_GREEN, bakeTimeInMinutes: 0}\n") == []
    [(line, path, reason)] = errors("deploymentConfiguration:\n  strategy: LINEAR\n")
    assert (line, path) == (3, "deploymentConfiguration.strategy") and "serviceConnectConfiguration" in reason


def test_step_configuration_needs_its_strategy_and_ranges() -> None:
    found = errors(LB + """deploymentConfiguration:
  strategy: CANARY
  linearConfiguration: {stepPercent: 2.5, stepBakeTimeInMinutes: 2000}
  canaryConfiguration: {canaryPercent: 10.05}
""")
    assert [(line, path) for line, path, _ in found] == [
        (12, "deploymentConfiguration.linearConfiguration"),
        (12, "deploymentConfiguration.linearConfiguration.stepPercent"),
        (12, "deploymentConfiguration.linearConfiguration.stepBakeTimeInMinutes"),
        (13, "deploymentConfiguration.canaryConfiguration.canaryPercent"),
    ]
    assert "only valid with strategy LINEAR (strategy is CANARY)" in found[0][2]
    assert "multiple of 0.1 from 3.0 to 100.0" in found[1][2]


def test_pause_hooks_not_at_traffic_shift_stages() -> None:
    text = CANARY_WITH_PAUSE.replace("[POST_TEST_TRAFFIC_SHIFT]", "[TEST_TRAFFIC_SHIFT, PRODUCTION_TRAFFIC_SHIFT]")
    found = errors(text)
    assert [(line, path) for line, path, _ in found] == [
        (17, "deploymentConfiguration.lifecycleHooks[0].lifecycleStages[0]"),
        (17, "deploymentConfiguration.lifecycleHooks[0].lifecycleStages[1]"),
    ]
    assert "cannot run at TEST_TRAFFIC_SHIFT" in found[0][2]


def test_lambda_hooks_need_a_function_and_role_and_timeouts_in_range() -> None:
    text = CANARY_WITH_PAUSE.replace("      roleArn: arn:aws:iam::123456789012:role/hooks\n", "").replace(
        "timeoutInMinutes: 60", "timeoutInMinutes: 30000")
    found = errors(text)
    assert (18, "deploymentConfiguration.lifecycleHooks[0].timeoutConfiguration.timeoutInMinutes") == found[0][:2]
    assert "from 1 to 20160 for a PAUSE hook" in found[0][2]
    assert found[1][:2] == (19, "deploymentConfiguration.lifecycleHooks[1]") and "needs roleArn" in found[1][2]


def test_native_settings_need_the_ecs_controller() -> None:
    text = "deploymentController: {type: CODE_DEPLOY}\ngitops: {strategy: blue-green, codeDeploy: {application: a, " \
           "deploymentGroup: g}}\n" + LB + "deploymentConfiguration:\n  strategy: BLUE_GREEN\n  bakeTimeInMinutes: 1\n"
    found = [(path, reason) for _, path, reason in errors(text)]
    assert ("deploymentConfiguration.strategy", "strategy needs the ECS deployment controller (deploymentController "
            "is CODE_DEPLOY)") in found


def test_advanced_configuration_fields() -> None:
    text = LB.replace(f"      alternateTargetGroupArn: {ELB}:targetgroup/green/2\n",
                      f"      alternateTargetGroupArn: {ELB}:targetgroup/blue/1\n").replace(
        "      roleArn: arn:aws:iam::123456789012:role/ecsInfrastructure\n", "")
    found = errors(text + "deploymentConfiguration: {strategy: BLUE_GREEN, bakeTimeInMinutes: 0}\n")
    assert [(line, path) for line, path, _ in found] == [
        (6, "loadBalancers[0].advancedConfiguration"),
        (7, "loadBalancers[0].advancedConfiguration.alternateTargetGroupArn"),
    ]
