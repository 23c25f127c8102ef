"""Recovery from AWS, not memory: record rollouts that finished while nobody followed them.

The failed half: a deployment we started for exactly what git declares now (the attempted-spec
tag, written before it started) that AWS failed or rolled back while nobody followed it is
recorded as failed (the failed-spec tag, one final report, `/status`) and not deployed again
until git declares something else; `attempted` picks the candidates, `failed_service_deployment`
and `failed_code_deploy` judge what AWS returned (reconciler.apply.attempts reads it).

A leader killed after its UpdateService, a takeover after the deployment ended, a
read outage while following: AWS runs the new revision, but nobody wrote the
applied-spec tags, sent the final report or updated `/status`. Without the tags a
later restart takes a hand-made change for "a commit not applied yet" and reverts
it even with self-heal off. On every full cycle (so also on start and takeover)
such a service is recognised from AWS alone and recorded by whoever observes it.
Pure: judges describe output, no AWS calls.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.apply.bluegreen import BlueGreenDeployer
from reconciler.apply.marker import already_applied, applied_marker
from reconciler.apply.native_status import ROLLING_BACK, cause, outcome_of
from reconciler.apply.result import Outcome
from reconciler.apply.rolling import in_flight, primary_deployment
from reconciler.model import ATTEMPT_TAG, COMMIT_TAG, FAILED_TAG, is_owned, tag_dict
from reconciler.plan import ServicePlan

RECORDED = "; ended while no reconciler followed it, recorded from AWS"
#: [bc-cd] DeploymentCreator: the deployment CodeDeploy starts itself to roll a failed one back.
CODE_DEPLOY_ROLLBACK = "codeDeployRollback"


def needs_record(sp: ServicePlan, instance: str) -> bool:
    """In sync with git and ours (the service and its running revision, which we registered),
    but not marked as applied from this declaration."""
    if sp.action != "in-sync" or sp.live is None or sp.spec is None or already_applied(sp.spec, sp.live):
        return False
    return is_owned(sp.live.tags, instance, sp.environment) and \
        is_owned(sp.live.task_definition_tags, instance, sp.environment)


def completed(service: Mapping[str, Any]) -> Outcome | None:
    """What following the deployment of the running revision would have concluded, when it is
    over and succeeded; None while it rolls out or when it did not complete (a failed rollout's
    service runs the previous revision, so it is not in sync and is planned as a change)."""
    if in_flight(service) is not None:
        return None
    task_sets = [ts for ts in service.get("taskSets") or [] if ts.get("status") == "PRIMARY"]
    if task_sets:  # CODE_DEPLOY controller: the PRIMARY task set is the live revision
        primary_set = task_sets[0]
        if primary_set.get("stabilityStatus") != "STEADY_STATE":
            return None
        # The CodeDeploy deployment that created the set is its externalId (aws-behaviour.md §3, [bc-ecs]
        # TaskSet): the id the dead leader's follower reported, so the final report's dedup key matches.
        return Outcome("succeeded", primary_set.get("externalId") or None,
                       "completed while no reconciler followed it; recorded from AWS")
    primary = primary_deployment(service)
    if primary is None or primary.get("rolloutState", "COMPLETED") != "COMPLETED":
        return None
    if primary.get("taskDefinition") != service.get("taskDefinition"):
        return None
    return Outcome("succeeded", str(primary.get("id")) if primary.get("id") else None,
                   "completed while no reconciler followed it; recorded from AWS")


def newly_deployed(sp: ServicePlan) -> bool:
    """A deployment nobody reported, unless the running revision is known to be the one already
    recorded (registered at the commit the service's tags name): then only the marker is stale
    (e.g. git changed a field AWS does not keep) and the tags are refreshed without a report."""
    if sp.live is None:
        return False
    revision_commit = tag_dict(sp.live.task_definition_tags).get(COMMIT_TAG)
    return not revision_commit or revision_commit != sp.live.tags.get(COMMIT_TAG)


def attempted(sp: ServicePlan, instance: str) -> bool:
    """A change git declares that we already started deploying (attempted-spec tag equal to its
    marker) without a recorded outcome: AWS may have failed it while nobody followed it."""
    if sp.action != "update" or sp.live is None or sp.spec is None or already_applied(sp.spec, sp.live):
        return False
    marker = applied_marker(sp.spec)
    tags = sp.live.tags
    return tags.get(ATTEMPT_TAG) == marker and tags.get(FAILED_TAG) != marker and \
        is_owned(tags, instance, sp.environment)


def rolling_deployment_id(dep: Mapping[str, Any]) -> str:
    """`ecs-svc/<N>` of a rolling ServiceDeployment: its target revision ARN ends in <N>
    (reference ecs-native-deployments.md §3.4), the id the rolling follower reports."""
    target = str((dep.get("targetServiceRevision") or {}).get("arn") or "")
    return f"ecs-svc/{target.rsplit('/', 1)[-1]}"


def failed_service_deployment(dep: Mapping[str, Any], *, rolling: bool) -> Outcome | None:
    """How a ServiceDeployment (DescribeServiceDeployments item) that failed ended, by its status,
    rollback and circuit breaker fields only [DG:service-deployment]; None unless it failed.
    Rolling back (ROLLBACK_REQUESTED / _IN_PROGRESS) counts as rolled back, as the follower judges
    a circuit-breaker rollback as soon as it starts. The deployment id is the one the follower of
    that controller reports, so the final report's dedup key is the dead leader's."""
    deployment_id = rolling_deployment_id(dep) if rolling else str(dep.get("serviceDeploymentArn") or "")
    if str(dep.get("status") or "") in ROLLING_BACK:
        return Outcome("rolled_back", deployment_id, f"{cause(dep) or 'failed'}; ECS is rolling back{RECORDED}",
                       rolled_back=True)
    ended = outcome_of(dep)
    if ended is None or ended[0] == "succeeded":
        return None
    status, message, rolled_back = ended
    return Outcome(status, deployment_id, message + RECORDED, rolled_back=rolled_back)  # type: ignore[arg-type]


def failed_code_deploy(infos: Sequence[Mapping[str, Any]]) -> tuple[Mapping[str, Any], Outcome] | None:
    """The deployment group's newest deployment, when it ended Failed or Stopped (DeploymentInfo items,
    [bc-cd] DeploymentStatus): a rollback CodeDeploy started itself (creator codeDeployRollback) stands
    for the deployment that triggered it (rollbackInfo.rollbackTriggeringDeploymentId)."""
    if not infos:
        return None
    by_id = {str(i.get("deploymentId")): i for i in infos}
    newest: Mapping[str, Any] | None = max(infos, key=lambda i: str(i.get("createTime") or ""))
    if newest is not None and newest.get("creator") == CODE_DEPLOY_ROLLBACK:
        newest = by_id.get(str((newest.get("rollbackInfo") or {}).get("rollbackTriggeringDeploymentId")))
    if newest is None or newest.get("status") not in ("Failed", "Stopped"):
        return None
    deployment_id = str(newest.get("deploymentId"))
    outcome = BlueGreenDeployer.ended_badly(newest, deployment_id, str(newest.get("status")))
    return newest, Outcome(outcome.status, deployment_id, outcome.message + RECORDED, outcome.stopped_reasons,
                           outcome.rolled_back)
