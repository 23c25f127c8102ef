"""State machines and pure helpers of the sandbox, on a manual clock (no sleeping)."""
from __future__ import annotations

from typing import Any

import pytest

from reconciler.sandbox.clock import ManualClock, SandboxClock
from reconciler.sandbox.codedeploy_engine import shift_plan
from reconciler.sandbox.ecs_engine import STEP_SECONDS, EcsSimulator, breaker_threshold
from reconciler.sandbox.faults import Faults
from reconciler.sandbox.taskdefs import aws_task_definition, convert_cpu, convert_memory
from reconciler.sandbox.throttling import RateLimiter


def test_clock_runs_at_speed_plus_advances() -> None:
    real = [100.0]
    clock = SandboxClock(speed=60, start=0.0, monotonic=lambda: real[0])
    real[0] += 2
    assert clock.now() == 120.0
    assert clock.advance(30) == 150.0
    with pytest.raises(ValueError):
        clock.advance(-1)


@pytest.mark.parametrize(("desired", "minimum", "expected"), [(2, 3, 3), (10, 3, 5), (2, 10, 10), (1000, 3, 200)])
def test_breaker_threshold(desired: int, minimum: int, expected: int) -> None:
    assert breaker_threshold(desired, minimum) == expected


def test_unit_strings_are_converted() -> None:
    assert (convert_cpu("1 vCPU"), convert_cpu("0.25 vcpu"), convert_cpu(512)) == ("1024", "256", "512")
    assert (convert_memory("1GB"), convert_memory("0.5 GB"), convert_memory("2048")) == ("1024", "512", "2048")


def test_task_definition_defaults() -> None:
    request: dict[str, Any] = {"family": "f", "containerDefinitions": [
        {"name": "a", "image": "x", "portMappings": [{"containerPort": 80}], "healthCheck": {"command": ["true"]}}]}
    bridge = aws_task_definition(request, arn="arn", revision=1, registered_at=0.0, registered_by="me")
    container = bridge["containerDefinitions"][0]
    assert container["portMappings"] == [{"containerPort": 80, "hostPort": 0, "protocol": "tcp"}]
    assert container["healthCheck"] == {"command": ["true"], "interval": 30, "timeout": 5, "retries": 3}
    assert "networkMode" not in bridge and bridge["compatibilities"] == ["EC2"]
    awsvpc = aws_task_definition({**request, "networkMode": "awsvpc", "cpu": "0.25 vCPU", "memory": "0.5GB"},
                                 arn="arn", revision=1, registered_at=0.0, registered_by="me")
    assert awsvpc["containerDefinitions"][0]["portMappings"][0]["hostPort"] == 80
    assert (awsvpc["cpu"], awsvpc["memory"], awsvpc["compatibilities"]) == ("256", "512", ["EC2", "FARGATE"])
    assert {"name": "ecs.capability.task-eni"} in awsvpc["requiresAttributes"]


def test_shift_plans() -> None:
    assert shift_plan({"type": "AllAtOnce"}) == [(0.0, 100)]
    assert shift_plan({"type": "TimeBasedCanary", "timeBasedCanary": {"canaryPercentage": 10, "canaryInterval": 5}}) \
        == [(0.0, 10), (300.0, 100)]
    linear = shift_plan({"type": "TimeBasedLinear", "timeBasedLinear": {"linearPercentage": 30, "linearInterval": 1}})
    assert [p for _, p in linear] == [30, 60, 90, 100] and linear[1][0] == 60.0


def _service(sim: EcsSimulator, image: str = "ok") -> Any:
    return sim.create_service(arn="arn:svc", name="s", cluster_arn="arn:c", cluster_name="c", task_definition="td:1",
                              containers=[("c", image)], desired_count=2, controller="ECS",
                              deployment_configuration={"maximumPercent": 200, "minimumHealthyPercent": 100,
                                                        "deploymentCircuitBreaker": {"enable": True, "rollback": True}},
                              attributes={}, created_by="me")


def test_rolling_update_steps_on_manual_clock() -> None:
    clock = ManualClock()
    sim = EcsSimulator(clock, lambda image: None if image != "bad" else "CannotPullContainerError: nope")
    svc = _service(sim)
    for _ in range(2):
        clock.advance(STEP_SECONDS)
        sim.tick()
    assert svc.deployments[0].rollout_state == "COMPLETED" and svc.deployments[0].running == 2
    sim.start_deployment(svc, "td:2", [("c", "ok2")])
    clock.advance(STEP_SECONDS)
    sim.tick()
    assert [(d.status, d.pending, d.running) for d in svc.deployments] == [("PRIMARY", 2, 0), ("ACTIVE", 0, 2)]
    clock.advance(STEP_SECONDS)
    sim.tick()
    assert len(svc.deployments) == 1 and svc.deployments[0].task_definition == "td:2"
    assert svc.events[0]["message"] == "(service s) has reached a steady state."


def test_breaker_rolls_back_to_last_completed() -> None:
    clock = ManualClock()
    sim = EcsSimulator(clock, lambda image: "CannotPullContainerError: x" if image == "bad" else None)
    svc = _service(sim)
    clock.advance(2 * STEP_SECONDS)
    sim.tick()
    sim.start_deployment(svc, "td:2", [("c", "bad")])
    clock.advance(3 * STEP_SECONDS)
    sim.tick()
    assert svc.deployments[0].task_definition == "td:1"
    assert any(d.rollout_state == "FAILED" for d in svc.deployments)


def test_rate_limiter_refills() -> None:
    now = [0.0]
    limiter = RateLimiter({"taskdef-modify": (2, 1.0)}, monotonic=lambda: now[0])
    assert [limiter.allow("RegisterTaskDefinition") for _ in range(3)] == [True, True, False]
    assert limiter.rejected == {"RegisterTaskDefinition": 1}
    now[0] += 1.0
    assert limiter.allow("RegisterTaskDefinition")
    assert limiter.allow("SomethingUnlisted")


def test_faults_are_consumed() -> None:
    faults = Faults()
    faults.throttle("A", 1)
    assert faults.take_throttle("A") and not faults.take_throttle("A")
    faults.fail_image("img")
    faults.reset()
    assert not faults.image_fails("img")


def test_steady_services_are_not_stepped_and_lookup_is_by_name_or_arn() -> None:
    clock = ManualClock()
    sim = EcsSimulator(clock, lambda image: None)
    svc = _service(sim)
    assert sim.find_service("c", "s") is svc and sim.find_service("c", "arn:svc") is svc
    assert sim.find_service("other", "s") is None and sim.find_service("c", "nope") is None
    clock.advance(2 * STEP_SECONDS)
    sim.tick()
    assert svc.steady and svc.next_step_at is None
    events = len(svc.events)
    clock.advance(10 * STEP_SECONDS)
    sim.tick()
    assert len(svc.events) == events  # a steady service gets no scheduler pass
    sim.set_desired_count(svc, 3)
    clock.advance(2 * STEP_SECONDS)
    sim.tick()
    assert svc.deployments[0].running == 3 and svc.steady
    svc.status = "INACTIVE"
    assert sim.find_service("c", "s") is None and sim.find_service("c", "s", include_inactive=True) is svc


def test_appspec_network_and_capacity_become_task_set_shapes() -> None:
    from reconciler.sandbox.codedeploy_api import _appspec_capacity, _appspec_network

    props = {"NetworkConfiguration": {"AwsvpcConfiguration": {"Subnets": ["s-1"], "SecurityGroups": ["sg-1"]}},
             "CapacityProviderStrategy": [{"CapacityProvider": "FARGATE_SPOT", "Weight": 2, "Base": 1}]}
    assert _appspec_network(props) == {"awsvpcConfiguration": {
        "subnets": ["s-1"], "securityGroups": ["sg-1"], "assignPublicIp": "DISABLED"}}
    assert _appspec_capacity(props) == [{"capacityProvider": "FARGATE_SPOT", "weight": 2, "base": 1}]
    assert _appspec_network({}) is None and _appspec_capacity({}) is None
