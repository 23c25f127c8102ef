"""Task definition revisions without churn: reuse an ACTIVE revision that matches git.

A revision matches when its `ecs-reconciler:spec-hash` tag equals the hash of
the desired definition and the normalized definitions agree (the tag alone
could be stale or hand-edited). Only when nothing matches is a new revision
registered, tagged with the hash, the commit and the owner (ecs-deploy-tools.md
§6.2: revision churn is the top complaint about existing tools).

RegisterTaskDefinition is not idempotent (it has no client token): a 5xx may hide
a revision AWS did register. Each attempt is therefore sent once, without
botocore's retries (TaskDefinitions.register), and after an error the ACTIVE
revisions are searched for a match before anything is registered again.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.aws.errors import AwsAccessDenied, AwsError, AwsInvalidRequest
from reconciler.aws.taskdefs import TaskDefinitions
from reconciler.diff.taskdef import normalize_task_definition, spec_hash
from reconciler.log import get_logger
from reconciler.model import COMMIT_TAG, OWNER_TAG, TASKDEF_HASH_TAG, Environment, LiveService, ServiceSpec, tag_dict

log = get_logger(__name__)
REGISTER_ATTEMPTS = 3


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
                     *, instance: str, commit: str | None, dry_run: bool = False,
                     sleep: Callable[[float], None] = time.sleep) -> Revision:
    desired = spec.task_definition
    desired_hash = spec_hash(desired)
    live_td = live.task_definition_data() if live is not None else None
    if live is not None and live_td is not None and matches(desired, desired_hash, live_td, live.task_definition_tags):
        return Revision(str(live_td["taskDefinitionArn"]), False, live_td)
    found = _active_match(taskdefs, env, spec, desired_hash)
    if found is not None:
        log.info("taskdef_reused", service=spec.key, arn=found.arn)
        return found
    if dry_run:
        return Revision(None, True, desired)
    tags = {TASKDEF_HASH_TAG: desired_hash, OWNER_TAG: instance}
    if commit:
        tags[COMMIT_TAG] = commit
    for attempt in range(1, REGISTER_ATTEMPTS + 1):
        try:
            td = taskdefs.register(env, desired, tags)
        except (AwsInvalidRequest, AwsAccessDenied):
            raise  # refused outright: nothing was registered
        except AwsError as exc:
            # Maybe registered anyway (the answer was lost): look before registering again.
            found = _active_match(taskdefs, env, spec, desired_hash)
            if found is not None:
                log.warning("taskdef_register_ambiguous", service=spec.key, arn=found.arn, error=str(exc),
                            hint="the failed call had registered it; reused, not registered twice")
                return Revision(found.arn, True, found.task_definition)
            if attempt == REGISTER_ATTEMPTS:
                raise
            log.info("taskdef_register_retry", service=spec.key, attempt=attempt, error=str(exc))
            sleep(min(8.0, 0.5 * 2 ** attempt))
            continue
        log.info("taskdef_registered", service=spec.key, arn=td["taskDefinitionArn"])
        return Revision(str(td["taskDefinitionArn"]), True, td)
    raise AssertionError("unreachable")


def _active_match(taskdefs: TaskDefinitions, env: Environment, spec: ServiceSpec, desired_hash: str) -> Revision | None:
    for arn in taskdefs.recent_active_arns(env, spec.family):
        td, tags = taskdefs.describe(env, arn)
        if matches(spec.task_definition, desired_hash, td, tags):
            return Revision(arn, False, td)
    return None
