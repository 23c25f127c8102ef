"""A write the lease fence stops never leaves, so it is no AWS call: it is counted as a fenced
write (reconciler_fenced_writes_total), not in reconciler_aws_calls_total."""
from __future__ import annotations

import pytest

from reconciler.aws.clients import CallCounter
from reconciler.daemon.leader import LeaseLost
from reconciler.daemon.metrics import Metrics


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def test_a_refused_attempt_is_not_a_call_and_is_counted_apart() -> None:
    metrics = Metrics()
    counter = CallCounter()
    fenced = {"UpdateService"}

    def fence(service: str, action: str) -> None:
        if action in fenced:
            raise LeaseLost("not sent", service=service, action=action, code="LeaseLost")

    counter.add_guard(fence, on_refused=metrics.fenced_write)
    counter.add_listener(metrics.aws_call)
    counter.record("ecs", "DescribeServices")
    with pytest.raises(LeaseLost):
        counter.record("ecs", "UpdateService")
    assert counter.get("ecs", "UpdateService") == 0 and counter.refused("ecs", "UpdateService") == 1
    assert counter.get("ecs", "DescribeServices") == 1
    labels = {"service": "ecs", "action": "UpdateService"}
    assert sample(metrics, "reconciler_aws_calls_total", **labels) == 0
    assert sample(metrics, "reconciler_fenced_writes_total", **labels) == 1
    assert sample(metrics, "reconciler_aws_calls_total", service="ecs", action="DescribeServices") == 1
