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

    def describe(self, env: Environment, arn: str) -> dict[str, Any] | None:
        found = self._ecs(env).describe_service_deployments(serviceDeploymentArns=[arn])
        deployments = found.get("serviceDeployments") or []
        return dict(deployments[0]) if deployments else None

    def stop(self, env: Environment, arn: str, stop_type: str = "ROLLBACK") -> None:
        self._ecs(env).stop_service_deployment(serviceDeploymentArn=arn, stopType=stop_type)

    def continue_(self, env: Environment, arn: str, hook_id: str, action: str = "CONTINUE") -> None:
        self._ecs(env).continue_service_deployment(serviceDeploymentArn=arn, hookId=hook_id, action=action)
