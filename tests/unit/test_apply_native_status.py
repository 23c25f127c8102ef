"""Reading ECS ServiceDeployments: position lines for chat/status and outcomes from structured fields."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from reconciler.apply.native_status import cause, describe_position, outcome_of, step_of

LINEAR = {"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 1}}


def dep(status: str = "IN_PROGRESS", stage: str = "PRODUCTION_TRAFFIC_SHIFT", weight: float = 50.0,
        config: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"status": status, "lifecycleStage": stage, "deploymentConfiguration": config or LINEAR,
            "targetServiceRevision": {"arn": "arn:rev/2", "requestedProductionTrafficWeight": weight}, **extra}


def test_linear_step_from_requested_weight() -> None:
    assert step_of(dep(weight=50.0)).number == 2 and step_of(dep(weight=50.0)).count == 4
    assert describe_position(dep(weight=50.0)) == "LINEAR step 2/4: 50 % (PRODUCTION_TRAFFIC_SHIFT)"
    assert describe_position(dep(weight=0.0, stage="SCALE_UP")) == "LINEAR: SCALE_UP"


def test_canary_and_pause_lines() -> None:
    canary = {"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 10.0}}
    assert describe_position(dep(weight=10.0, config=canary)) == "CANARY step 1/2: 10 % (PRODUCTION_TRAFFIC_SHIFT)"
    paused = dep(weight=0.0, stage="POST_TEST_TRAFFIC_SHIFT", config=canary, lifecycleHookDetails=[
        {"hookId": "ecs-pause-abc", "targetType": "PAUSE", "status": "AWAITING_ACTION",
         "expiresAt": datetime(2026, 1, 1, 14, 5, tzinfo=UTC)}])
    assert describe_position(paused) == "CANARY: paused at POST_TEST_TRAFFIC_SHIFT, expires 14:05, hook ecs-pause-abc"


def test_outcomes_name_their_cause() -> None:
    assert outcome_of(dep()) is None
    assert outcome_of(dep(status="ROLLBACK_IN_PROGRESS")) is None
    assert outcome_of(dep(status="SUCCESSFUL")) == ("succeeded", "service deployment completed", False)
    alarm = dep(status="ROLLBACK_SUCCESSFUL", alarms={"triggeredAlarmNames": ["api-5xx"]},
                rollback={"serviceRevisionArn": "arn:aws:ecs:r:1:service-revision/c/s/123"})
    assert outcome_of(alarm) == ("rolled_back", "alarm api-5xx in ALARM (ECS rolled back to 123)", True)
    breaker = dep(status="ROLLBACK_SUCCESSFUL",
                  deploymentCircuitBreaker={"status": "TRIGGERED", "failureCount": 3, "threshold": 3})
    assert "circuit breaker: 3 failed tasks (threshold 3)" in outcome_of(breaker)[1]
    hooks = [{"hookId": "ecs-pause-x", "targetType": "PAUSE", "status": "TIMED_OUT"},
             {"hookId": "ecs-hook-y", "targetType": "AWS_LAMBDA", "targetArn": "arn:lambda:f", "status": "FAILED"}]
    assert cause(dep(lifecycleHookDetails=hooks)) == "PAUSE hook ecs-pause-x timed out; hook arn:lambda:f ecs-hook-y failed"
    assert outcome_of(dep(status="STOPPED"))[0] == "failed"


def test_milestones_report_every_step_once_even_when_polls_skip_some() -> None:
    from reconciler.apply.native import milestones

    found, reported = milestones(dep(weight=75.0), 1)
    assert found == [("step 2", "LINEAR step 2/4: 50 %"), ("step 3", "LINEAR step 3/4: 75 %")] and reported == 3
    assert milestones(dep(weight=75.0), reported) == ([], 3)
    back, _ = milestones(dep(status="ROLLBACK_IN_PROGRESS", weight=0.0), 3)
    assert back == [("rollback", "LINEAR: rolling back (PRODUCTION_TRAFFIC_SHIFT)")]


def test_a_resent_target_group_pair_keeps_the_live_order() -> None:
    from reconciler.apply.native import explicit_removals

    def lb(primary: str, alternate: str, port: int = 8080) -> dict[str, Any]:
        return {"targetGroupArn": primary, "containerName": "app", "containerPort": port,
                "advancedConfiguration": {"alternateTargetGroupArn": alternate, "productionListenerRule": "rule"}}

    live = {"loadBalancers": [lb("green", "blue")]}
    sent = explicit_removals({"loadBalancers": [lb("blue", "green", 9090)]}, live)["loadBalancers"]
    assert sent == [lb("green", "blue", 9090)]  # the port change goes out, the swap stays
    changed = explicit_removals({"loadBalancers": [lb("blue", "other")]}, live)["loadBalancers"]
    assert changed == [lb("blue", "other")]  # a real change of the pair is sent as git says


BLUE_GREEN = {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 10}


def test_bake_time_line_says_how_long_it_baked_when_the_follower_knows() -> None:
    baking = dep(stage="BAKE_TIME", weight=100.0, config=BLUE_GREEN)
    assert describe_position(baking, baked_seconds=4 * 60 + 59) == "BLUE_GREEN: baking 4 of 10 min"
    assert describe_position(baking) == "BLUE_GREEN step 1/1: 100 % (BAKE_TIME)"  # nobody counted: no figure
    ended = dep(status="SUCCESSFUL", stage="BAKE_TIME", weight=100.0, config=BLUE_GREEN)
    assert describe_position(ended, 600.0) == "BLUE_GREEN step 1/1: 100 % (BAKE_TIME)"  # ended: no bake line


def test_a_traffic_step_that_bakes_says_so_and_the_last_one_does_not() -> None:
    canary = {"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 10}}
    assert describe_position(dep(weight=10.0, config=canary), 125.0) == "CANARY step 1/2: 10 % → baking 2 of 10 min"
    assert describe_position(dep(weight=100.0, config=canary), 125.0) == "CANARY step 2/2: 100 % (PRODUCTION_TRAFFIC_SHIFT)"
    assert describe_position(dep(weight=50.0), 61.0) == "LINEAR step 2/4: 50 % → baking 1 of 1 min"
    assert describe_position(dep(weight=0.0, stage="SCALE_UP"), 61.0) == "LINEAR: SCALE_UP"


class _Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


class _Deployments:
    """DescribeServiceDeployments answers: traffic shift, then BAKE_TIME for 5 polls, then done."""

    def __init__(self) -> None:
        self.answers = [dep(stage="PRODUCTION_TRAFFIC_SHIFT", weight=100.0, config=BLUE_GREEN)] + \
            [dep(stage="BAKE_TIME", weight=100.0, config=BLUE_GREEN)] * 5 + \
            [dep(status="SUCCESSFUL", stage="CLEAN_UP", weight=100.0, config=BLUE_GREEN)]

    def describe(self, env: Any, arn: str) -> dict[str, Any] | None:
        return self.answers.pop(0)


def test_the_controller_counts_the_bake_from_when_it_first_saw_the_stage() -> None:
    from reconciler.apply.deployments import DeployRequest
    from reconciler.apply.native import NativeController
    from reconciler.apply.progress import Progress
    from reconciler.model import Environment

    lines: list[str] = []
    controller = NativeController(None, _Deployments(), _Clock(), poll_interval=60.0)  # type: ignore[arg-type]
    request = DeployRequest(Environment("prod", "prod", "eu-west-1"), "web", "arn:td:2", {}, None)
    outcome = controller.wait(request, "arn:sd/1", deadline=10_000.0,
                              progress=Progress("prod/web", lambda key, line: lines.append(line)))
    assert outcome.status == "succeeded"
    assert [line for line in lines if "baking" in line] == [f"BLUE_GREEN: baking {n} of 10 min" for n in range(5)]
