"""CodeDeploy calls for ECS blue/green and canary deployments.

Facts (aws-behaviour.md §3, [bc-cd] botocore codedeploy model, [cd-ug] CodeDeploy
user guide): one active deployment per deployment group
(DeploymentLimitExceededException otherwise); active statuses are
Created/Queued/InProgress/Baking/Ready; CreateDeployment takes the AppSpec as
`revision={revisionType: AppSpecContent, appSpecContent: {content, sha256}}`;
custom ECS configs are created with CreateDeploymentConfig(computePlatform=ECS,
trafficRoutingConfig=...) with intervals in minutes.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from reconciler.aws.clients import AwsClients
from reconciler.aws.errors import AwsError, AwsNotFound
from reconciler.model import Environment

ACTIVE_STATUSES = ("Created", "Queued", "InProgress", "Baking", "Ready")
TERMINAL_STATUSES = ("Succeeded", "Failed", "Stopped")
#: [bc-cd] AutoRollbackEvent: roll back on failure, alarm and a stop request (ours, on deadline).
ROLLBACK_EVENTS = ("DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM", "DEPLOYMENT_STOP_ON_REQUEST")


def traffic_routing_config(custom: Mapping[str, Any]) -> dict[str, Any]:
    """Manifest shape {"type": "TimeBasedCanary", "percentage": 10, "intervalMinutes": 1} to the API's."""
    kind = str(custom.get("type", "AllAtOnce"))
    if kind == "TimeBasedCanary":
        return {"type": kind, "timeBasedCanary": {"canaryPercentage": int(custom["percentage"]),
                                                  "canaryInterval": int(custom["intervalMinutes"])}}
    if kind == "TimeBasedLinear":
        return {"type": kind, "timeBasedLinear": {"linearPercentage": int(custom["percentage"]),
                                                  "linearInterval": int(custom["intervalMinutes"])}}
    return {"type": "AllAtOnce"}


class CodeDeploy:
    def __init__(self, clients: AwsClients) -> None:
        self.clients = clients

    def _cd(self, env: Environment) -> Any:
        return self.clients.client("codedeploy", env)

    def active_deployment(self, env: Environment, application: str, group: str) -> str | None:
        """The group's in-flight deployment id, if any (at most one can exist)."""
        resp = self._cd(env).list_deployments(applicationName=application, deploymentGroupName=group,
                                              includeOnlyStatuses=list(ACTIVE_STATUSES))
        ids = resp.get("deployments", [])
        return ids[0] if ids else None

    def recent(self, env: Environment, application: str, group: str, limit: int = 25) -> list[dict[str, Any]]:
        """The group's deployments of the first ListDeployments page (at most `limit`, BatchGetDeployments
        takes 25), as DeploymentInfo; callers order them by createTime (AWS documents no order)."""
        ids = self._cd(env).list_deployments(applicationName=application, deploymentGroupName=group)
        wanted = list(ids.get("deployments") or [])[:limit]
        if not wanted:
            return []
        return [dict(i) for i in self._cd(env).batch_get_deployments(deploymentIds=wanted).get("deploymentsInfo") or []]

    def get_deployment(self, env: Environment, deployment_id: str) -> dict[str, Any]:
        return dict(self._cd(env).get_deployment(deploymentId=deployment_id)["deploymentInfo"])

    def traffic_weights(self, env: Environment, deployment_id: str, cluster: str, service: str) -> dict[str, float]:
        """Traffic weight per task set ("PRIMARY"/"ACTIVE" or its identifier), from GetDeploymentTarget.

        Best effort: progress reporting must never fail a deployment.
        """
        try:
            resp = self._cd(env).get_deployment_target(deploymentId=deployment_id, targetId=f"{cluster}:{service}")
        except AwsError:
            return {}
        except NotImplementedError:  # pragma: no cover - a fake without the call
            return {}
        target = (resp.get("deploymentTarget") or {}).get("ecsTarget") or {}
        weights: dict[str, float] = {}
        for info in target.get("taskSetsInfo", []) or []:
            label = str(info.get("taskSetLabel") or info.get("identifer") or info.get("status") or "?")
            weights[label] = float(info.get("trafficWeight") or 0.0)
        return weights

    def ensure_config(self, env: Environment, name: str, custom: Mapping[str, Any] | None) -> bool:
        """Create the custom config if missing; returns True when it was created.

        Predefined `CodeDeployDefault.*` configs always exist and are never created.
        """
        if name.startswith("CodeDeployDefault.") or not custom:
            return False
        cd = self._cd(env)
        try:
            cd.get_deployment_config(deploymentConfigName=name)
            return False
        except AwsNotFound:
            pass
        cd.create_deployment_config(deploymentConfigName=name, computePlatform="ECS",
                                    trafficRoutingConfig=traffic_routing_config(custom))
        return True

    def create_deployment(self, env: Environment, application: str, group: str, config: str,
                          appspec: str, description: str = "") -> str:
        """Start a deployment; the config is always sent explicitly (the API default is OneAtATime)."""
        sha = hashlib.sha256(appspec.encode("utf-8")).hexdigest()
        resp = self._cd(env).create_deployment(
            applicationName=application,
            deploymentGroupName=group,
            deploymentConfigName=config,
            revision={"revisionType": "AppSpecContent",
                      "appSpecContent": {"content": appspec, "sha256": sha}},
            description=description[:100],
            autoRollbackConfiguration={"enabled": True, "events": list(ROLLBACK_EVENTS)},
        )
        return str(resp["deploymentId"])

    def stop_deployment(self, env: Environment, deployment_id: str, rollback: bool = True) -> dict[str, Any]:
        return dict(self._cd(env).stop_deployment(deploymentId=deployment_id, autoRollbackEnabled=rollback))

    def continue_deployment(self, env: Environment, deployment_id: str, wait_type: str = "READY_WAIT") -> None:
        """ContinueDeployment: reroute production traffic of a deployment waiting at Ready
        (deploymentReadyOption STOP_DEPLOYMENT; [bc-cd] DeploymentWaitType READY_WAIT)."""
        self._cd(env).continue_deployment(deploymentId=deployment_id, deploymentWaitType=wait_type)

    # -- reading existing setups (`reconciler import`) ------------------------------------
    def deployment_group_for(self, env: Environment, service: str) -> dict[str, Any] | None:
        """The ECS deployment group that deploys `service` of env.cluster, with its config.

        A CODE_DEPLOY service does not name its group; the group names the service
        ([bc-cd] DeploymentGroupInfo.ecsServices), so every group is looked at.
        Returns {"application", "deploymentGroup", "deploymentConfig", "trafficRoutingConfig"?}.
        """
        cd = self._cd(env)
        for application in _all_pages(lambda **kw: cd.list_applications(**kw), "applications"):
            for group in _all_pages(lambda **kw: cd.list_deployment_groups(**kw), "deploymentGroups",
                                   applicationName=application):
                info = cd.get_deployment_group(applicationName=application,
                                               deploymentGroupName=group)["deploymentGroupInfo"]
                if not any(s.get("clusterName") == env.cluster and s.get("serviceName") == service
                           for s in info.get("ecsServices") or ()):
                    continue
                config = str(info.get("deploymentConfigName") or "CodeDeployDefault.ECSAllAtOnce")
                found: dict[str, Any] = {"application": application, "deploymentGroup": group,
                                         "deploymentConfig": config}
                if not config.startswith("CodeDeployDefault."):
                    cfg = cd.get_deployment_config(deploymentConfigName=config)["deploymentConfigInfo"]
                    if cfg.get("trafficRoutingConfig"):
                        found["trafficRoutingConfig"] = cfg["trafficRoutingConfig"]
                return found
        return None


def _all_pages(call: Any, key: str, **params: Any) -> list[str]:
    """Every name of a nextToken-paged CodeDeploy list call; an empty token ends it
    ([bc-cd] ListApplicationsOutput / ListDeploymentGroupsOutput nextToken)."""
    names: list[str] = []
    token = None
    while True:
        resp = call(**params, **({"nextToken": token} if token else {}))
        names.extend(resp.get(key) or [])
        token = resp.get("nextToken")
        if not token:
            return names
