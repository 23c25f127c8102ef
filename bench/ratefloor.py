"""The fastest a rollout of N services can start under ECS's token buckets (pure arithmetic).

Each service needs one RegisterTaskDefinition ("task definition modify": burst 20,
1/s) and then one UpdateService ("service modify": burst 50, 5/s) — ECS API
reference, request-throttling.html; the sandbox uses the same table
(reconciler.sandbox.throttling.ECS_RATES). Buckets start full and refill
continuously, so the k-th call of a category can go at (k − burst) / rate at the
earliest, and a service's UpdateService cannot precede its registration.
"""
from __future__ import annotations

from reconciler.sandbox.throttling import ECS_ACTION_CATEGORY, ECS_RATES


def earliest(k: int, category: str) -> float:
    """Earliest second (from a full bucket) at which the k-th call (1-based) of `category` is allowed."""
    burst, rate = ECS_RATES[category]
    return max(0.0, (k - burst) / rate)


def rollout_floor(n: int) -> float:
    """Seconds from the first call until the N-th service's UpdateService is accepted."""
    register = ECS_ACTION_CATEGORY["RegisterTaskDefinition"]
    update = ECS_ACTION_CATEGORY["UpdateService"]
    t_register = t_update = 0.0
    for k in range(1, n + 1):
        t_register = max(t_register, earliest(k, register))
        t_update = max(t_update, t_register, earliest(k, update))
    return t_update


def calls_floor(calls: dict[str, float]) -> float:
    """Lower bound implied by the calls actually made: the slowest category to drain."""
    per_category: dict[str, float] = {}
    for action, count in calls.items():
        category = ECS_ACTION_CATEGORY.get(action)
        if category is not None:
            per_category[category] = per_category.get(category, 0) + count
    return max((earliest(int(c), cat) for cat, c in per_category.items()), default=0.0)


if __name__ == "__main__":
    for n in (20, 50, 200, 1000):
        print(n, rollout_floor(n))
