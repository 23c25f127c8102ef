"""Verification before any write: which services of a plan may not be deployed, and why."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from reconciler.log import get_logger
from reconciler.model import Environment, ServiceSpec
from reconciler.plan import ServicePlan
from reconciler.verify import Verification, Verifier

log = get_logger(__name__)


def needs_verification(sp: ServicePlan) -> bool:
    """A service about to get a new task definition (created, or its task definition changed)."""
    return sp.spec is not None and (sp.action == "create" or (sp.action == "update" and sp.taskdef_changed))


def verify_plan(verifier: Verifier, work: list[ServicePlan], envs: Mapping[str, Environment],
                sha: str | None) -> dict[str, Verification]:
    """One batch of look-ups per environment (images per repository, parameters per region...)."""
    by_env: dict[str, list[ServiceSpec]] = defaultdict(list)
    for sp in work:
        if needs_verification(sp) and sp.spec is not None and sp.environment in envs:
            by_env[sp.environment].append(sp.spec)
    out: dict[str, Verification] = {}
    for name, specs in sorted(by_env.items()):
        out.update(verifier.verify(envs[name], specs, sha))
    for key, v in sorted(out.items()):
        if not v.ok:
            log.warning("verification_failed", service=key, reason=v.summary())
    return out
