"""ECS service deployments (the ECS-native BLUE_GREEN / LINEAR / CANARY controller): find, read,
stop and continue them by ARN ([bc-ecs] 1.43.11: ListServiceDeployments,
DescribeServiceDeployments, StopServiceDeployment, ContinueServiceDeployment).

Plain dicts in and out; `AwsClients` translate botocore's exceptions, so callers see AwsError only.
"""
from __future__ import annotations

from typing import Any

from reconciler.aws.clients import AwsClients
from reconciler.model import Environment

#: [DG:service-deployment] "Ongoing": the deployment still moves (a new one must not start over it).
ONGOING = ("PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS")


class ServiceDeployments:
    def __init__(self, clients: AwsClients) -> None:
        self.clients = clients

    def _ecs(self, env: Environment) -> Any:
        return self.clients.client("ecs", env)

    def ongoing(self, env: Environment, service: str) -> list[dict[str, Any]]:
        """ServiceDeploymentBriefs still in progress, newest first (AWS documents no order: sorted here)."""
        briefs: list[dict[str, Any]] = []
        token = None
        while True:  # no paginator for this operation in botocore 1.43.11
            kwargs: dict[str, Any] = {"cluster": env.cluster, "service": service, "status": list(ONGOING),
                                      "maxResults": 100}
            if token:
                kwargs["nextToken"] = token
            page = self._ecs(env).list_service_deployments(**kwargs)
            briefs += page.get("serviceDeployments") or []
            token = page.get("nextToken")
            if not token:
                break
        return sorted(briefs, key=lambda b: str(b.get("createdAt") or ""), reverse=True)

    def latest(self, env: Environment, service: str) -> dict[str, Any] | None:
        """The newest ServiceDeployment of the service, whatever its status (ROLLING deployments have
        records too [DG:service-deployment]); the newest by createdAt of the first page, as AWS
        documents no order (reference ecs-native-deployments.md §3.5)."""
        page = self._ecs(env).list_service_deployments(cluster=env.cluster, service=service, maxResults=20)
        briefs = page.get("serviceDeployments") or []
        if not briefs:
            return None
        newest = max(briefs, key=lambda b: str(b.get("createdAt") or ""))
        return self.describe(env, str(newest["serviceDeploymentArn"]))

    def of_rolling(self, env: Environment, service: str, deployment_id: str) -> dict[str, Any] | None:
        """The ServiceDeployment of the rolling deployment `ecs-svc/<N>`: its target revision ARN ends
        in the same <N> (reference ecs-native-deployments.md §3.4); None when not in the first page."""
        number = deployment_id.rsplit("/", 1)[-1]
        page = self._ecs(env).list_service_deployments(cluster=env.cluster, service=service, maxResults=20)
        brief = next((b for b in page.get("serviceDeployments") or []
                      if str(b.get("targetServiceRevisionArn") or "").rsplit("/", 1)[-1] == number), None)
        return self.describe(env, str(brief["serviceDeploymentArn"])) if brief else None

    def revision_task_definition(self, env: Environment, arn: str) -> str | None:
        """The task definition a ServiceRevision runs ([bc-ecs] DescribeServiceRevisions)."""
        found = self._ecs(env).describe_service_revisions(serviceRevisionArns=[arn])
        revisions = found.get("serviceRevisions") or [{}]
        return str(revisions[0].get("taskDefinition") or "") or None

    def describe(self, env: Environment, arn: str) -> dict[str, Any] | None:
        found = self._ecs(env).describe_service_deployments(serviceDeploymentArns=[arn])
        deployments = found.get("serviceDeployments") or []
        return dict(deployments[0]) if deployments else None

    def stop(self, env: Environment, arn: str, stop_type: str = "ROLLBACK") -> None:
        self._ecs(env).stop_service_deployment(serviceDeploymentArn=arn, stopType=stop_type)

    def continue_(self, env: Environment, arn: str, hook_id: str, action: str = "CONTINUE") -> None:
        self._ecs(env).continue_service_deployment(serviceDeploymentArn=arn, hookId=hook_id, action=action)
