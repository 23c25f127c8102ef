"""Task definition writes: find a reusable revision, register (paced), deregister.

RegisterTaskDefinition is the tightest ECS rate limit: burst 20, 1 per second
sustained, per account and Region (aws-behaviour.md §5, ECS API reference
request-throttling.html). A commit touching hundreds of services would burn
botocore's retry quota if every worker fired at once, so registrations share a
client-side token bucket sized to that limit; botocore's retry mode still
handles the throttles that slip through (no hand-written retry loop here).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Protocol

from reconciler.aws.clients import AwsClients
from reconciler.aws.live import LiveReader, Tag
from reconciler.model import Environment, tag_dict, tag_list

#: [ECS API reference, request-throttling.html; aws-behaviour.md §5] "Task definition modify":
#: burst 20, sustained 1/s, per account and Region.
REGISTER_BURST = 20
AWS_REGISTER_RATE = 1.0
#: One token per 1.05 s rather than 1.00 s: our bucket and AWS's refill on different clocks and
#: requests reach AWS with network jitter, so pacing to the exact second lets some arrive just
#: before AWS's token and come back ThrottlingException (bench/RESULTS.md: 87 of 287 attempts).
REGISTER_INTERVAL_MARGIN = 1.05
REGISTER_RATE = AWS_REGISTER_RATE / REGISTER_INTERVAL_MARGIN
#: How many of the newest ACTIVE revisions are checked for a reusable one.
REUSE_LOOKBACK = 10


class Pacer(Protocol):
    """Paces RegisterTaskDefinition: `acquire()` returns once a call may go (and how long it waited)."""

    def acquire(self) -> float: ...


class TokenBucket:
    """Classic token bucket; `acquire()` blocks (via the injected sleep) until a token is free."""

    def __init__(self, rate: float, burst: int, *, now: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0 or burst <= 0:
            raise ValueError("rate and burst must be positive")
        self.rate = rate
        self.burst = float(burst)
        #: The account-wide pace this bucket was made for; `share` divides it among replicas.
        self.base_rate, self.base_burst = rate, burst
        self._now = now
        self._sleep = sleep
        self._tokens = float(burst)
        self._last = now()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        current = self._now()
        self._tokens = min(self.burst, self._tokens + (current - self._last) * self.rate)
        self._last = current

    def _reserve(self) -> float:
        """Take a token (possibly going into debt); return how long the caller must wait."""
        with self._lock:
            self._refill()
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def resize(self, rate: float, burst: int) -> None:
        """Change the pace (e.g. this replica's share of the account's rate); tokens above the new
        burst are dropped, a debt is kept, so a smaller share takes effect at once."""
        if rate <= 0 or burst <= 0:
            raise ValueError("rate and burst must be positive")
        with self._lock:
            self._refill()
            self.rate, self.burst = rate, float(burst)
            self._tokens = min(self._tokens, self.burst)

    def share(self, replicas: int) -> None:
        """Take 1/`replicas` of the base rate and burst: replicas registering at once stay within
        the account's limit together (reconciler.daemon.leader.ShardLeadership re-evaluates it)."""
        n = max(1, replicas)
        self.resize(self.base_rate / n, max(1, self.base_burst // n))

    def acquire(self) -> float:
        wait = self._reserve()
        if wait > 0:
            self._sleep(wait)
        return wait


def register_bucket_from_env(environ: Mapping[str, str] | None = None) -> TokenBucket:
    """The shared RegisterTaskDefinition bucket; RECONCILER_REGISTER_RATE/BURST override the AWS limits."""
    import os

    env = os.environ if environ is None else environ
    return TokenBucket(float(env.get("RECONCILER_REGISTER_RATE", REGISTER_RATE)),
                       int(env.get("RECONCILER_REGISTER_BURST", REGISTER_BURST)))


class TaskDefinitions:
    """RegisterTaskDefinition and friends for one reconciler process."""

    def __init__(self, clients: AwsClients, reader: LiveReader, bucket: Pacer | None = None) -> None:
        self.clients = clients
        self.reader = reader
        self.bucket = bucket or register_bucket_from_env()
        # RegisterTaskDefinition is not idempotent: sent once per attempt, never retried by botocore
        # (reconciler.apply.revisions looks for the revision a failed call may have registered).
        self._once = AwsClients(replace(clients.settings, max_attempts=1), counter=clients.counter, models_from=clients)

    def recent_active_arns(self, env: Environment, family: str, limit: int = REUSE_LOOKBACK) -> list[str]:
        """Newest ACTIVE revisions of `family` first (one ListTaskDefinitions call)."""
        ecs = self.clients.client("ecs", env)
        resp = ecs.list_task_definitions(familyPrefix=family, status="ACTIVE", sort="DESC", maxResults=limit)
        # familyPrefix is a prefix match: keep only this exact family.
        return [arn for arn in resp.get("taskDefinitionArns", [])
                if arn.rsplit("/", 1)[-1].rsplit(":", 1)[0] == family]

    def all_active_arns(self, env: Environment, family: str) -> list[str]:
        ecs = self.clients.client("ecs", env)
        arns: list[str] = []
        for page in ecs.get_paginator("list_task_definitions").paginate(
                familyPrefix=family, status="ACTIVE", sort="DESC"):
            arns.extend(a for a in page.get("taskDefinitionArns", [])
                        if a.rsplit("/", 1)[-1].rsplit(":", 1)[0] == family)
        return arns

    def describe(self, env: Environment, arn: str) -> tuple[dict[str, Any], tuple[Tag, ...]]:
        """Cached by ARN in the reader (revisions are immutable); a fresh copy each call."""
        packed, tags = self.reader.task_definition(env, arn)
        return packed.unpack(), tags

    def register(self, env: Environment, task_definition: Mapping[str, Any], tags: Mapping[str, str]) -> dict[str, Any]:
        """Register one revision (paced by the shared bucket); returns the new taskDefinition."""
        body = dict(task_definition)
        own = tag_list(tags)
        existing = tag_list({k: v for k, v in tag_dict(body.pop("tags", None)).items() if k not in tags})
        self.bucket.acquire()
        ecs = self._once.client("ecs", env)
        resp = ecs.register_task_definition(**body, tags=existing + own)
        td = resp["taskDefinition"]
        self.reader.cache.put(td["taskDefinitionArn"], td, tuple(resp.get("tags") or existing + own))
        return td

    def deregister(self, env: Environment, arn: str) -> None:
        ecs = self.clients.client("ecs", env)
        ecs.deregister_task_definition(taskDefinition=arn)
