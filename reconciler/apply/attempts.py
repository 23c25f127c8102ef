"""Read from AWS how a deployment we started, and nobody followed to its end, ended.

A leader killed mid-rollout and restarted after AWS failed or rolled the deployment back:
the service runs the previous revision, git still declares the new one, and without this
the next leader deploys the same change a second time. Reads only, for services
`recovery.attempted` picks: the newest ServiceDeployment (ECS rolling and ECS-native, both
have records [DG:service-deployment]) or the CodeDeploy group's newest deployment, and the
task definition it deployed, which must be the revision git declares (spec-hash tag and
content, `revisions.matches`); `recovery` judges the answers.
"""
from __future__ import annotations

from reconciler.apply.bluegreen import deployment_target
from reconciler.apply.recovery import failed_code_deploy, failed_service_deployment
from reconciler.apply.result import Outcome
from reconciler.apply.revisions import matches
from reconciler.aws.codedeploy import CodeDeploy
from reconciler.aws.service_deployments import ServiceDeployments
from reconciler.aws.taskdefs import TaskDefinitions
from reconciler.desired import is_code_deploy
from reconciler.diff.taskdef import spec_hash
from reconciler.manifests.ecs_deployments import native_strategy
from reconciler.model import Environment, LiveService, ServiceSpec


class AttemptHistory:
    def __init__(self, service_deployments: ServiceDeployments, codedeploy: CodeDeploy,
                 taskdefs: TaskDefinitions) -> None:
        self.service_deployments = service_deployments
        self.codedeploy = codedeploy
        self.taskdefs = taskdefs

    def failure(self, env: Environment, name: str, spec: ServiceSpec, live: LiveService) -> Outcome | None:
        """How AWS ended the newest deployment of the service, when it failed and deployed the task
        definition git declares; None otherwise. Raises AwsError when AWS cannot be read."""
        if is_code_deploy(spec, live.service):
            bg = spec.gitops.blue_green
            if bg is None:
                return None
            found = failed_code_deploy(self.codedeploy.recent(env, bg.application, bg.deployment_group))
            if found is None or not self._declared(env, spec, deployment_target(found[0])):
                return None
            return found[1]
        dep = self.service_deployments.latest(env, name)
        if dep is None:
            return None
        # The record says which strategy ran it (its deploymentConfiguration), whatever git says now.
        rolling = native_strategy({"deploymentConfiguration": dep.get("deploymentConfiguration") or {}}) is None
        outcome = failed_service_deployment(dep, rolling=rolling)
        if outcome is None:
            return None
        target = str((dep.get("targetServiceRevision") or {}).get("arn") or "")
        td = self.service_deployments.revision_task_definition(env, target) if target else None
        return outcome if self._declared(env, spec, td) else None

    def _declared(self, env: Environment, spec: ServiceSpec, arn: str | None) -> bool:
        if not arn:
            return False
        td, tags = self.taskdefs.describe(env, arn)
        return matches(spec.task_definition, spec_hash(spec.task_definition), td, tags)
