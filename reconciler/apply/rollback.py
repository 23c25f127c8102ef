"""`reconciler rollback`: point a service back at an earlier task definition revision.

Like `ecspresso rollback` (ecs-deploy-tools.md §3): the target is the named
revision or the newest ACTIVE revision below the current one; a CodeDeploy
deployment still in flight is stopped with rollback instead. Then the service
is tagged `ecs-reconciler:paused-at-commit=<sha>` so the daemon leaves it alone
until git moves on (git still declares the newer revision).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from reconciler.apply.clock import Clock
from reconciler.apply.deployments import Deployments, DeployRequest
from reconciler.apply.native import NativeController
from reconciler.apply.progress import Progress, ProgressCallback
from reconciler.apply.result import ServiceResult
from reconciler.apply.rolling import primary_deployment
from reconciler.aws.codedeploy import CodeDeploy
from reconciler.aws.ecs_write import EcsWriter
from reconciler.aws.taskdefs import TaskDefinitions
from reconciler.desired import is_code_deploy
from reconciler.model import APPLIED_TAG, PAUSED_TAG, Environment, ServiceSpec, ownership_problem, tag_dict


def parse_revision(arn: str) -> tuple[str, int]:
    """`arn:...:task-definition/web:7` (or `web:7`) -> ("web", 7)."""
    family, _, rev = arn.rsplit("/", 1)[-1].rpartition(":")
    return family, int(rev)


def pick_target(current: str, active: list[str], to_revision: int | None) -> str | None:
    family, current_rev = parse_revision(current)
    by_rev = {parse_revision(a)[1]: a for a in active}
    if to_revision is not None:
        return by_rev.get(to_revision)
    older = sorted((r for r in by_rev if r < current_rev), reverse=True)
    return by_rev[older[0]] if older else None


class Rollback:
    """Rolls one service back through the same `Deployments` that applying a plan uses."""

    def __init__(self, instance: str, *, ecs: EcsWriter, codedeploy: CodeDeploy, taskdefs: TaskDefinitions,
                 deployments: Deployments, clock: Clock, on_progress: ProgressCallback | None = None) -> None:
        self.instance = instance
        self.ecs = ecs
        self.codedeploy = codedeploy
        self.taskdefs = taskdefs
        self.deployments = deployments
        self.clock = clock
        self.on_progress = on_progress

    def __call__(self, env: Environment, service: str, *, to_revision: int | None, deregister: bool,
                 spec: ServiceSpec | None, commit: str | None, wait: bool, timeout: float) -> ServiceResult:
        start = self.clock.now()
        deadline = start + timeout
        base = ServiceResult(env.name, service, "rollback", "failed")
        progress = Progress(f"{env.name}/{service}", self.on_progress)
        svc = self.ecs.describe_service(env, service)
        if svc is None:
            return replace(base, message=f"service {service!r} not found in cluster {env.cluster!r}")
        not_ours = ownership_problem(svc.get("tags"), self.instance, env.name)
        if not_ours:
            return replace(base, message=f"{not_ours}: refusing to touch it")
        code_deploy = is_code_deploy(spec, svc)
        bg = spec.gitops.blue_green if spec else None
        if code_deploy and bg is None:
            return replace(base, message="a CODE_DEPLOY service needs its manifest (gitops.codeDeploy) to roll back")
        if code_deploy and bg is not None:
            running = self.codedeploy.active_deployment(env, bg.application, bg.deployment_group)
            if running:
                self._pause(env, svc, commit)
                progress(f"stopping CodeDeploy deployment {running} with rollback")
                self.codedeploy.stop_deployment(env, running, rollback=True)
                result = replace(base, status="succeeded", deployment_id=running, rolled_back=True,
                                 message=f"stopped {running} with rollback")
                return self._finish(env, svc, result, None, False, start)
        controller = self.deployments.controller(spec, svc)
        if isinstance(controller, NativeController):
            # ECS-native deployment still running: StopServiceDeployment(ROLLBACK) [DG:stop-service-deployment].
            request = DeployRequest(env, service, str(svc.get("taskDefinition") or ""), svc, spec)
            running = self.deployments.in_flight(request)
            if running is not None:
                self._pause(env, svc, commit)
                progress(f"stopping {controller.noun} {running.deployment_id} with rollback")
                controller.stop(request, running.deployment_id)
                result = replace(base, status="succeeded", deployment_id=running.deployment_id, rolled_back=True,
                                 message=f"stopped {running.deployment_id} with rollback")
                if wait:
                    outcome = controller.wait(request, running.deployment_id, deadline, progress)
                    if not outcome.rolled_back or outcome.status == "failed":
                        result = replace(result, status="failed", message=outcome.message)
                return self._finish(env, svc, result, None, False, start)
        current = str(svc.get("taskDefinition") or "")
        family, _ = parse_revision(current)
        target = pick_target(current, self.taskdefs.all_active_arns(env, family), to_revision)
        if target is None:
            want = f"no ACTIVE revision {to_revision}" if to_revision is not None else "no earlier ACTIVE revision"
            return replace(base, message=f"{family} has {want} to roll back to")
        if target == current:
            return replace(base, status="noop", task_definition_arn=target, message="already at that revision")
        base = replace(base, task_definition_arn=target)
        # Pause first: a running daemon must not "repair" the rollback while it is rolling out.
        self._pause(env, svc, commit)
        progress(f"rolling back {current.rsplit('/', 1)[-1]} -> {target.rsplit('/', 1)[-1]}")
        request = DeployRequest(env, service, target, svc, spec, description="ecs-reconciler rollback")
        started = self.deployments.start(request, deadline, progress)
        if started.error:
            return replace(base, message=started.error)
        # No new deployment to follow: follow the PRIMARY one (the rollout already under way).
        dep_id = started.deployment_id or str((primary_deployment(svc) or {}).get("id") or "")
        result = self.deployments.finish(request, base, dep_id, wait, deadline, progress)
        return self._finish(env, svc, result, current, deregister, start)

    def _pause(self, env: Environment, svc: dict[str, Any], commit: str | None) -> None:
        """Tag the service so the daemon leaves it alone until git's commit changes."""
        self.ecs.tag(env, str(svc["serviceArn"]), {PAUSED_TAG: commit or "unknown"})
        if APPLIED_TAG in tag_dict(svc.get("tags")):
            # Git's declaration is no longer what runs: once the pause lifts, the daemon applies it again.
            self.ecs.untag(env, str(svc["serviceArn"]), [APPLIED_TAG])

    def _finish(self, env: Environment, svc: dict[str, Any], result: ServiceResult, bad_revision: str | None,
                deregister: bool, start: float) -> ServiceResult:
        if result.status not in ("succeeded", "in_progress"):
            # The service still runs what it ran before: let automated sync look after it again.
            self.ecs.untag(env, str(svc["serviceArn"]), [PAUSED_TAG])
        elif deregister and bad_revision and result.status == "succeeded":
            self.taskdefs.deregister(env, bad_revision)
            result = replace(result, message=f"{result.message}; deregistered {bad_revision.rsplit('/', 1)[-1]}")
        return replace(result, duration_seconds=max(0.0, self.clock.now() - start))
