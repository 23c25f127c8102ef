"""Blue/green and canary deployments of CODE_DEPLOY services.

Never UpdateService with a task definition for these services (AWS rejects it,
aws-behaviour.md §3): the new revision goes out through CreateDeployment with an
AppSpec. One deployment per group may be active: an in-flight one towards the
same task definition is followed, one towards another is waited for first, and
DeploymentLimitExceededException means "someone just started one" (never a failure).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from reconciler.apply.appspec import AppSpecError, appspec_content, appspec_task_definition, build_appspec
from reconciler.apply.clock import Clock
from reconciler.apply.progress import Progress
from reconciler.apply.result import Outcome, released, unknown
from reconciler.aws.codedeploy import TERMINAL_STATUSES, CodeDeploy
from reconciler.aws.errors import AwsConflict, AwsError
from reconciler.log import get_logger
from reconciler.model import BlueGreen, Environment

log = get_logger(__name__)


def deployment_target(info: Mapping[str, Any]) -> str | None:
    content = (((info.get("revision") or {}).get("appSpecContent") or {}).get("content"))
    return appspec_task_definition(content) if content else None


def traffic_line(weights: Mapping[str, float]) -> str:
    return "traffic " + ", ".join(f"{label} {weight:g}%" for label, weight in sorted(weights.items()))


class BlueGreenDeployer:
    def __init__(self, codedeploy: CodeDeploy, clock: Clock, poll_interval: float, *,
                 keep_waiting: Callable[[], bool] = lambda: True) -> None:
        self.cd = codedeploy
        self.clock = clock
        self.poll_interval = poll_interval
        self.keep_waiting = keep_waiting

    def start_or_follow(self, env: Environment, bg: BlueGreen, service: Mapping[str, Any], td_arn: str,
                        deadline: float, progress: Progress, description: str = "") -> tuple[str | None, str]:
        """(deployment id, how it was obtained: "started"/"followed"); (None, reason) if the deadline passed."""
        app, group = bg.application, bg.deployment_group
        for _ in range(3):  # a racing deployment can appear between our check and our create
            existing = self.cd.active_deployment(env, app, group)
            if existing:
                target = deployment_target(self.cd.get_deployment(env, existing))
                if target in (None, td_arn):
                    progress(f"following CodeDeploy deployment {existing} already in progress")
                    return existing, "followed"
                progress(f"waiting for CodeDeploy deployment {existing} of {target} to finish")
                outcome = self.wait(env, existing, deadline, progress, cluster="", service_name="",
                                    stop_on_deadline=False)
                if outcome.status == "in_progress":
                    return None, f"{outcome.message}: {existing} was still running"
                continue
            content = appspec_content(build_appspec(service, td_arn, bg))
            self.cd.ensure_config(env, bg.deployment_config, bg.custom_config)
            try:
                dep_id = self.cd.create_deployment(env, app, group, bg.deployment_config, content, description)
            except AwsConflict as exc:
                if exc.code != "DeploymentLimitExceededException":
                    raise
                log.info("codedeploy_limit_race", application=app, group=group)
                continue
            progress(f"started CodeDeploy deployment {dep_id} ({bg.deployment_config})")
            return dep_id, "started"
        raise AwsError("could not start a CodeDeploy deployment: the group stays busy",
                       service="codedeploy", action="CreateDeployment")

    def wait(self, env: Environment, deployment_id: str, deadline: float, progress: Progress, *,
             cluster: str, service_name: str, stop_on_deadline: bool = True) -> Outcome:
        while True:
            try:
                info = self.cd.get_deployment(env, deployment_id)
                status = str(info.get("status", ""))
                if cluster and service_name and status not in TERMINAL_STATUSES:
                    weights = self.cd.traffic_weights(env, deployment_id, cluster, service_name)
                    if weights:
                        progress(traffic_line(weights), "traffic")
            except AwsError as exc:  # a failed read says nothing about the deployment: still following
                progress(f"AWS unreadable ({exc.code or type(exc).__name__}); still following {deployment_id}")
                if self.clock.now() >= deadline or not self.keep_waiting():
                    return unknown(deployment_id, str(exc))
                self.clock.sleep(self.poll_interval)
                continue
            progress(f"CodeDeploy {deployment_id}: {status}", "status")
            if status == "Ready":  # deploymentReadyOption STOP_DEPLOYMENT: `reconciler continue` reroutes
                progress.milestone(f"ready {deployment_id}", f"CodeDeploy {deployment_id}: waiting for traffic reroute "
                                                             "(reconciler continue)", awaiting=True)
            if status == "Succeeded":
                return Outcome("succeeded", deployment_id, "CodeDeploy deployment succeeded")
            if status in ("Failed", "Stopped"):
                return self.ended_badly(info, deployment_id, status)
            if self.clock.now() >= deadline:
                if not stop_on_deadline:
                    return Outcome("in_progress", deployment_id, "deadline exceeded")
                return self._stop(env, deployment_id)
            if not self.keep_waiting():
                return released(deployment_id)
            self.clock.sleep(self.poll_interval)

    @staticmethod
    def ended_badly(info: Mapping[str, Any], deployment_id: str, status: str) -> Outcome:
        error = info.get("errorInformation") or {}
        rollback = info.get("rollbackInfo") or {}
        message = str(error.get("message") or rollback.get("rollbackMessage") or f"deployment {status}")
        reasons = (f"{error.get('code')}: {error.get('message')}",) if error.get("code") else ()
        rolled_back = bool(rollback.get("rollbackDeploymentId"))
        return Outcome("rolled_back" if rolled_back else "failed", deployment_id, message, reasons, rolled_back)

    def _stop(self, env: Environment, deployment_id: str) -> Outcome:
        """Deadline: stop with rollback so traffic returns to the original task set."""
        try:
            resp = self.cd.stop_deployment(env, deployment_id, rollback=True)
            msg = f"deadline exceeded: stopped with rollback ({resp.get('status')}: {resp.get('statusMessage', '')})"
            return Outcome("rolled_back", deployment_id, msg, rolled_back=True)
        except AwsConflict:  # DeploymentAlreadyCompletedException: it ended while we decided
            info = self.cd.get_deployment(env, deployment_id)
            if info.get("status") == "Succeeded":
                return Outcome("succeeded", deployment_id, "CodeDeploy deployment succeeded")
            return self.ended_badly(info, deployment_id, str(info.get("status")))


__all__ = ["AppSpecError", "BlueGreenDeployer", "deployment_target", "traffic_line"]
