"""ECS service writes and the reads a deployment wait needs.

Only plain dicts go in and out; which fields to send is decided by
`reconciler.apply`. Callers see the AwsError tree only: the clients from
`AwsClients` translate botocore's exceptions (clients.py).
"""
from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import botocore.session

from reconciler.aws.clients import AwsClients
from reconciler.aws.errors import AwsNotFound
from reconciler.model import Environment, tag_list

#: DescribeTasks takes at most 100 task ARNs ([bc-ecs] DescribeTasksRequest.tasks).
DESCRIBE_TASKS_MAX = 100


@lru_cache(maxsize=1)
def update_service_fields() -> frozenset[str]:
    """CreateService members that UpdateService also accepts ([bc-ecs] UpdateService input shape)."""
    model = botocore.session.get_session().get_service_model("ecs")
    create = set(model.operation_model("CreateService").input_shape.members)
    update = set(model.operation_model("UpdateService").input_shape.members)
    return frozenset((create & update) - {"cluster", "service", "serviceName", "taskDefinition"})


#: What UpdateService may change on a CODE_DEPLOY service: "only desired count, deployment
#: configuration, health check grace period, placement constraints and strategies,
#: enableECSManagedTags and propagateTags" ([bc-ecs] UpdateService docs; aws-behaviour.md §3).
CODE_DEPLOY_UPDATABLE = frozenset({
    "desiredCount", "deploymentConfiguration", "healthCheckGracePeriodSeconds",
    "placementConstraints", "placementStrategy", "enableECSManagedTags", "propagateTags",
})


class EcsWriter:
    def __init__(self, clients: AwsClients) -> None:
        self.clients = clients

    def _ecs(self, env: Environment) -> Any:
        return self.clients.client("ecs", env)

    def describe_service(self, env: Environment, name: str) -> dict[str, Any] | None:
        """One fresh DescribeServices (with tags); None when missing or INACTIVE."""
        resp = self._ecs(env).describe_services(cluster=env.cluster, services=[name], include=["TAGS"])
        for svc in resp.get("services", []):
            if svc.get("status") != "INACTIVE":
                return svc
        return None

    def create_service(self, env: Environment, params: Mapping[str, Any]) -> dict[str, Any]:
        return self._ecs(env).create_service(cluster=env.cluster, **params)["service"]

    def update_service(self, env: Environment, name: str, params: Mapping[str, Any]) -> dict[str, Any]:
        return self._ecs(env).update_service(cluster=env.cluster, service=name, **params)["service"]

    def delete_service(self, env: Environment, name: str) -> dict[str, Any]:
        """Scale to zero (tasks drain gracefully), then delete.

        DeleteService refuses a service with desiredCount > 0 unless forced ([bc-ecs] DeleteService.force);
        `force` covers an autoscaler that raises the count again between the two calls.
        """
        self.update_service(env, name, {"desiredCount": 0})
        return self._ecs(env).delete_service(cluster=env.cluster, service=name, force=True)["service"]

    def tag(self, env: Environment, arn: str, tags: Mapping[str, str]) -> None:
        if not tags:
            return
        self._ecs(env).tag_resource(resourceArn=arn, tags=tag_list(tags))

    def untag(self, env: Environment, arn: str, keys: list[str]) -> None:
        if not keys:
            return
        self._ecs(env).untag_resource(resourceArn=arn, tagKeys=keys)

    def stopped_tasks(self, env: Environment, service: str, limit: int = DESCRIBE_TASKS_MAX) -> list[dict[str, Any]]:
        """Recently stopped tasks of the service (AWS keeps them listed for about an hour)."""
        ecs = self._ecs(env)
        try:
            arns = ecs.list_tasks(cluster=env.cluster, serviceName=service, desiredStatus="STOPPED",
                                  maxResults=limit).get("taskArns", [])
        except AwsNotFound:
            return []
        if not arns:
            return []
        return list(ecs.describe_tasks(cluster=env.cluster, tasks=arns[:DESCRIBE_TASKS_MAX]).get("tasks", []))
