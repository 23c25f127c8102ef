"""Task definition revisions without churn: reuse an ACTIVE revision that matches git.

A revision matches when its `ecs-reconciler:spec-hash` tag equals the hash of
the desired definition and the normalized definitions agree (the tag alone
could be stale or hand-edited). Only when nothing matches is a new revision
registered, tagged with the hash, the commit and the owner (ecs-deploy-tools.md
§6.2: revision churn is the top complaint about existing tools).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.aws.taskdefs import TaskDefinitions
from reconciler.diff.taskdef import normalize_task_definition, spec_hash
from reconciler.log import get_logger
from reconciler.model import COMMIT_TAG, OWNER_TAG, TASKDEF_HASH_TAG, Environment, LiveService, ServiceSpec, tag_dict

log = get_logger(__name__)


@dataclass(frozen=True)
class Revision:
    arn: str | None                 # None only in a dry run that would register
    registered: bool
    task_definition: Mapping[str, Any]


def matches(desired: Mapping[str, Any], desired_hash: str, live_td: Mapping[str, Any],
            live_tags: Any) -> bool:
    """Hash tag equal and normalized content equal."""
    if tag_dict(live_tags).get(TASKDEF_HASH_TAG) != desired_hash:
        return False
    if normalize_task_definition({"taskDefinition": live_td, "tags": list(live_tags or [])}) \
            != normalize_task_definition(desired):
        log.warning("taskdef_hash_tag_mismatch", arn=live_td.get("taskDefinitionArn"),
                    hint="spec-hash tag matches but the content differs; registering a fresh revision")
        return False
    return True


def resolve_revision(taskdefs: TaskDefinitions, env: Environment, spec: ServiceSpec, live: LiveService | None,
                     *, instance: str, commit: str | None, dry_run: bool = False) -> Revision:
    desired = spec.task_definition
    desired_hash = spec_hash(desired)
    if live is not None and live.task_definition is not None and matches(
            desired, desired_hash, live.task_definition, live.task_definition_tags):
        return Revision(str(live.task_definition["taskDefinitionArn"]), False, live.task_definition)
    for arn in taskdefs.recent_active_arns(env, spec.family):
        td, tags = taskdefs.describe(env, arn)
        if matches(desired, desired_hash, td, tags):
            log.info("taskdef_reused", service=spec.key, arn=arn)
            return Revision(arn, False, td)
    if dry_run:
        return Revision(None, True, desired)
    tags = {TASKDEF_HASH_TAG: desired_hash, OWNER_TAG: instance}
    if commit:
        tags[COMMIT_TAG] = commit
    td = taskdefs.register(env, desired, tags)
    log.info("taskdef_registered", service=spec.key, arn=td["taskDefinitionArn"])
    return Revision(str(td["taskDefinitionArn"]), True, td)
