"""Everything one running sandbox knows beyond moto: clock, faults, simulators."""
from __future__ import annotations

import collections
import re
from dataclasses import dataclass, field
from typing import Any

from reconciler.sandbox import moto_compat
from reconciler.sandbox.clock import SandboxClock
from reconciler.sandbox.codedeploy_engine import CodeDeploySimulator
from reconciler.sandbox.ecs_engine import EcsSimulator
from reconciler.sandbox.faults import Faults
from reconciler.sandbox.one_off import OneOffTasks
from reconciler.sandbox.service_deployments import ServiceDeploymentSimulator, is_native
from reconciler.sandbox.throttling import RateLimiter

ACCOUNT = "123456789012"
REGION = "eu-west-1"
_ECR_IMAGE = re.compile(r"^(?P<acct>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<repo>[^:@]+)(?::(?P<tag>[^@]+))?")


def pull_error(image: str) -> str:
    """The stoppedReason ECS reports when an image cannot be pulled.

    ECS developer guide, "CannotPullContainer task errors" (task_cannot_pull_image):
    the reason starts with `CannotPullContainerError:` followed by the runtime's message.
    """
    return (f"CannotPullContainerError: pull image manifest has been retried 5 time(s): "
            f"failed to resolve ref {image}: {image}: not found")


@dataclass
class SandboxState:
    clock: SandboxClock
    throttling: bool = False
    breaker_min: int = 3
    account: str = ACCOUNT
    region: str = REGION
    faults: Faults = field(default_factory=Faults)
    limiter: RateLimiter = field(default_factory=RateLimiter)
    #: task definition ARN -> the AWS-shaped taskDefinition (fidelity copy of moto's)
    taskdefs: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: (application, group) -> the CreateDeploymentGroup request, as AWS keeps it
    groups: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    #: Accepted requests per (action, service or deployment group): a test counts the rollouts
    #: each service was given (our choice, test support: AWS offers no such count).
    accepted: collections.Counter[tuple[str, str]] = field(default_factory=collections.Counter)
    ecs: EcsSimulator = field(init=False)
    codedeploy: CodeDeploySimulator = field(init=False)
    one_off: OneOffTasks = field(init=False)  # RunTask tasks
    native: ServiceDeploymentSimulator = field(init=False)

    def __post_init__(self) -> None:
        self.ecs = EcsSimulator(self.clock, self.image_error, account=self.account,
                                region=self.region, breaker_min=self.breaker_min)
        self.codedeploy = CodeDeploySimulator(self.clock, self.ecs)
        self.native = ServiceDeploymentSimulator(
            self.ecs,
            alarm_state=lambda name: moto_compat.alarm_state(self.account, self.region, name),
            set_weights=lambda arn, weights: moto_compat.set_forward_weights(self.account, self.region, arn, weights),
            read_weights=lambda arn: moto_compat.forward_weights(self.account, self.region, arn),
        )
        self.ecs.native_step, self.ecs.is_native = self.native.step, is_native
        self.ecs.records = self.native
        # One lock for both simulators: the ticker thread and request threads share them.
        self.lock = self.ecs.lock
        self.codedeploy.lock = self.lock
        self.codedeploy.target_group_arn = self.target_group_arn
        self.one_off = OneOffTasks(self.clock, self.image_error, self.account, self.region)

    @property
    def principal(self) -> str:
        return f"arn:aws:iam::{self.account}:root"

    def tick(self) -> None:
        with self.lock:
            self.ecs.tick()
            self.codedeploy.tick()
            self.one_off.tick()

    def image_error(self, image: str) -> str | None:
        """Why a task with this image cannot start, or None: untagged ECR images and
        tags missing from the sandbox ECR fail, as do images marked with fail_image."""
        if self.faults.image_fails(image):
            return pull_error(image)
        match = _ECR_IMAGE.match(image)
        if not match:
            return None  # public registries are assumed reachable
        tag = match.group("tag") or "latest"
        if "@" in image:
            return None
        ok = moto_compat.image_tag_exists(match.group("acct"), match.group("region"), match.group("repo"), tag)
        return None if ok else pull_error(image)

    def target_group_arn(self, name: str) -> str | None:
        backend = moto_compat.elbv2_backend(self.account, self.region)
        return next((tg.arn for tg in backend.target_groups.values() if tg.name == name), None)

    def find_taskdef(self, ref: str) -> dict[str, Any] | None:
        """Resolve family, family:revision or ARN; a bare family gives the latest ACTIVE revision."""
        if ref in self.taskdefs:
            return self.taskdefs[ref]
        name = ref.split("task-definition/")[-1]
        if ":" in name:
            family, revision = name.rsplit(":", 1)
            return next((td for td in self.taskdefs.values()
                         if td["family"] == family and str(td["revision"]) == revision), None)
        active = [td for td in self.taskdefs.values() if td["family"] == name and td["status"] == "ACTIVE"]
        return max(active, key=lambda td: td["revision"]) if active else None
