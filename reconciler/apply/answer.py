"""`reconciler continue` and the daemon's continue endpoint: answer a deployment that waits for a human.

ECS-native: the ongoing service deployment's PAUSE hook in AWAITING_ACTION gets
ContinueServiceDeployment(CONTINUE | ROLLBACK) [DG:continue-service-deployment].
CodeDeploy: a deployment waiting at Ready (deploymentReadyOption STOP_DEPLOYMENT) gets
ContinueDeployment(READY_WAIT), or StopDeployment with rollback [cd-ug].
"""
from __future__ import annotations

from dataclasses import dataclass

from reconciler.apply.native_status import awaiting_hook
from reconciler.aws.codedeploy import CodeDeploy
from reconciler.aws.service_deployments import ServiceDeployments
from reconciler.model import Environment, ServiceSpec


@dataclass(frozen=True)
class Answer:
    ok: bool
    message: str
    deployment_id: str | None = None
    hook_id: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"ok": self.ok, "message": self.message, "deploymentId": self.deployment_id, "hookId": self.hook_id}


class Answerer:
    def __init__(self, service_deployments: ServiceDeployments, codedeploy: CodeDeploy) -> None:
        self.service_deployments = service_deployments
        self.codedeploy = codedeploy

    def answer(self, env: Environment, service: str, spec: ServiceSpec | None, *, rollback: bool) -> Answer:
        bg = spec.gitops.blue_green if spec is not None else None
        if bg is not None:
            return self._codedeploy(env, bg.application, bg.deployment_group, rollback)
        for brief in self.service_deployments.ongoing(env, service):
            arn = str(brief["serviceDeploymentArn"])
            dep = self.service_deployments.describe(env, arn) or {}
            hook = awaiting_hook(dep)
            if hook is None:
                continue
            action = "ROLLBACK" if rollback else "CONTINUE"
            self.service_deployments.continue_(env, arn, str(hook["hookId"]), action)
            verb = "rolling back" if rollback else "continued"
            return Answer(True, f"{verb}: hook {hook['hookId']} at {dep.get('lifecycleStage')}", arn, str(hook["hookId"]))
        return Answer(False, f"{env.name}/{service}: no deployment is waiting (no PAUSE hook in AWAITING_ACTION)")

    def _codedeploy(self, env: Environment, application: str, group: str, rollback: bool) -> Answer:
        dep_id = self.codedeploy.active_deployment(env, application, group)
        if dep_id is None:
            return Answer(False, f"no CodeDeploy deployment in progress in {application}/{group}")
        if rollback:
            self.codedeploy.stop_deployment(env, dep_id, rollback=True)
            return Answer(True, f"stopped CodeDeploy deployment {dep_id} with rollback", dep_id)
        if self.codedeploy.get_deployment(env, dep_id).get("status") != "Ready":
            return Answer(False, f"CodeDeploy deployment {dep_id} is not waiting for traffic reroute", dep_id)
        self.codedeploy.continue_deployment(env, dep_id, "READY_WAIT")
        return Answer(True, f"continued CodeDeploy deployment {dep_id}: rerouting production traffic", dep_id)
