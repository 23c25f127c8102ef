"""Which git declaration was last applied to a service, kept on the service itself.

After a successful sync the applier tags the service with a hash of the declared
spec (and the commit). The daemon's memory is lost on restart; without this
marker a restarted daemon would take every live difference for "a commit not
applied yet" and revert hand-made changes even with self-heal off. With it, a
difference on a service whose declaration was already applied is drift, whatever
commit git points at. Pure: no AWS calls.
"""
from __future__ import annotations

import hashlib
import json

from reconciler.desired import declared_service
from reconciler.model import APPLIED_TAG, COMMIT_TAG, FAILED_TAG, LiveService, ServiceSpec


def applied_marker(spec: ServiceSpec) -> str:
    """Stable identity of what git declares for the service (32 hex characters)."""
    # declared_service: the same body whether or not the manifest spells out the implied controller
    # (the loader once wrote it into spec.service; markers written then still match).
    body = json.dumps({"service": declared_service(spec), "taskDefinition": spec.task_definition,
                       "strategy": spec.gitops.strategy}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:32]


def applied_tags(spec: ServiceSpec, commit: str | None) -> dict[str, str]:
    tags = {APPLIED_TAG: applied_marker(spec)}
    if commit:
        tags[COMMIT_TAG] = commit
    return tags


def already_applied(spec: ServiceSpec | None, live: LiveService | None) -> bool:
    """True when the live service was last synced from exactly this declaration."""
    if spec is None or live is None:
        return False
    return live.tags.get(APPLIED_TAG) == applied_marker(spec)


def failed_before(spec: ServiceSpec | None, live: LiveService | None) -> bool:
    """True when AWS failed (or rolled back) the deployment of exactly this declaration and it was
    never applied since: it is not re-applied automatically until git declares something else."""
    if spec is None or live is None or already_applied(spec, live):
        return False
    return live.tags.get(FAILED_TAG) == applied_marker(spec)
