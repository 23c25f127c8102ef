"""Per-action token buckets at AWS's documented ECS request rates.

Source: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html
(reference aws-behaviour.md §5): each request takes one token; an empty bucket
answers HTTP 400 `ThrottlingException` "Rate exceeded", which botocore's retry
modes recognise (botocore/data/_retry.json, botocore/retries/standard.py).
Buckets are shared per category, as AWS meters them per account and Region.
CodeDeploy publishes no per-action table, so it is only throttled by faults.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

# category -> (burst, sustained per second)
ECS_RATES: dict[str, tuple[int, float]] = {
    "service-read": (100, 20.0),
    "service-modify": (50, 5.0),
    "taskdef-read": (50, 20.0),
    "taskdef-modify": (20, 1.0),
    "taskdef-delete": (5, 1.0),
    "cluster-read": (50, 20.0),
    "cluster-resource-read": (100, 20.0),
    "cluster-resource-modify": (100, 40.0),
    "tag-modify": (20, 10.0),
    "tag-read": (50, 20.0),
    "service-deployments": (50, 20.0),
}

ECS_ACTION_CATEGORY: dict[str, str] = {
    "DescribeServices": "service-read",
    "ListServices": "service-read",
    "ListServicesByNamespace": "service-read",
    "CreateService": "service-modify",
    "UpdateService": "service-modify",
    "DeleteService": "service-modify",
    "DescribeTaskDefinition": "taskdef-read",
    "ListTaskDefinitions": "taskdef-read",
    "ListTaskDefinitionFamilies": "taskdef-read",
    "RegisterTaskDefinition": "taskdef-modify",
    "DeregisterTaskDefinition": "taskdef-modify",
    "DeleteTaskDefinitions": "taskdef-delete",
    "DescribeClusters": "cluster-read",
    "ListClusters": "cluster-read",
    "DescribeTasks": "cluster-resource-read",
    "ListTasks": "cluster-resource-read",
    "DescribeContainerInstances": "cluster-resource-read",
    "ListContainerInstances": "cluster-resource-read",
    "RunTask": "cluster-resource-modify",
    "StartTask": "cluster-resource-modify",
    "StopTask": "cluster-resource-modify",
    "TagResource": "tag-modify",
    "UntagResource": "tag-modify",
    "ListTagsForResource": "tag-read",
    "ListServiceDeployments": "service-deployments",
    "DescribeServiceDeployments": "service-deployments",
    "DescribeServiceRevisions": "service-deployments",
}


@dataclass
class TokenBucket:
    burst: int
    rate: float
    tokens: float = field(init=False)
    stamp: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)

    def take(self, now: float) -> bool:
        if self.stamp is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class RateLimiter:
    """Decides whether an ECS action is within AWS's published rate (real time)."""

    def __init__(
        self,
        rates: dict[str, tuple[int, float]] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rates = dict(ECS_RATES if rates is None else rates)
        self._monotonic = monotonic
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()
        #: ThrottlingExceptions answered, by action (for benches and tests to read).
        self.rejected: Counter[str] = Counter()

    def allow(self, action: str) -> bool:
        category = ECS_ACTION_CATEGORY.get(action)
        if category is None or category not in self._rates:
            return True
        with self._lock:
            bucket = self._buckets.get(category)
            if bucket is None:
                bucket = self._buckets[category] = TokenBucket(*self._rates[category])
            allowed = bucket.take(self._monotonic())
            if not allowed:
                self.rejected[action] += 1
            return allowed
