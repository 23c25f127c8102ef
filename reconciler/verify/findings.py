"""Turn what AWS answered about each reference into per-service findings. Pure.

A finding blocks the deployment of its service; a note does not (something that
could not be checked, e.g. IAM unreadable with the reconciler's role, or an image
outside ECR).
"""
from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.verify.refs import EcrImage, Reference, Role, S3Object, Secret, SsmParameter

ECS_TASKS = "ecs-tasks.amazonaws.com"


@dataclass(frozen=True)
class Fact:
    """What AWS said about one referenced thing."""

    exists: bool | None                 # None: could not be checked; `note` says why
    note: str = ""                      # why unchecked, or AWS's failure code for a missing image
    digest: str | None = None           # image: the digest the tag resolves to
    stages: tuple[str, ...] = ()        # secret: version stages that exist
    version_ids: tuple[str, ...] = ()   # secret: version ids that exist
    trusted_by: tuple[str, ...] = ()    # role: service principals its trust policy lets assume it
    neighbours: tuple[str, ...] = ()    # image: other tags of the repository (for a hint)


UNCHECKED = Fact(exists=None, note="not checked")


@dataclass(frozen=True)
class Finding:
    kind: str          # image | ssm | secret | s3 | role
    where: str         # "container web: image"
    message: str       # "image …/web:1.5.1 not found in ECR"
    hint: str = ""     # "similar tag: 1.5.0"

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "where": self.where, "message": self.message, "hint": self.hint or None}


@dataclass(frozen=True)
class Verification:
    environment: str
    service: str
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()
    digests: Mapping[str, str] = field(default_factory=dict)   # image as written -> digest
    error: str | None = None          # the checks themselves could not run (AWS unreachable...)

    @property
    def key(self) -> str:
        return f"{self.environment}/{self.service}"

    @property
    def ok(self) -> bool:
        return not self.findings and self.error is None

    def summary(self) -> str:
        """One line for chat and the sync report: why the service is not deployed."""
        if self.error is not None:
            return f"not deployed: verification could not run: {self.error}"
        return "not deployed: " + "; ".join(str(f) for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        return {"environment": self.environment, "service": self.service, "ok": self.ok,
                "findings": [f.to_json() for f in self.findings], "notes": list(self.notes),
                "digests": dict(self.digests), "error": self.error}


def evaluate(environment: str, service: str, refs: list[Reference],
             facts: Mapping[Any, Fact]) -> Verification:
    """Findings for one service from the facts gathered for every reference."""
    findings: list[Finding] = []
    notes: list[str] = []
    digests: dict[str, str] = {}
    for ref in refs:
        if ref.kind == "other-image":
            notes.append(f"{ref.where}: {ref.target} not checked (not a private ECR image)")
            continue
        fact = facts.get(fact_key(ref.target), UNCHECKED)
        if fact.exists is None:
            notes.append(f"{ref.where}: {_describe(ref.target)} not checked: {fact.note}")
            continue
        problem = _problem(ref.target, fact)
        if problem is not None:
            findings.append(Finding(ref.kind, ref.where, problem, _hint(ref.target, fact)))
        elif isinstance(ref.target, EcrImage) and fact.digest:
            digests[ref.target.image] = fact.digest
    return Verification(environment, service, tuple(findings), tuple(dict.fromkeys(notes)), digests)


def fact_key(target: Any) -> Any:
    """Secrets are looked up once per secret, whatever suffix each reference carries."""
    return ("secret", target.arn) if isinstance(target, Secret) else target


def _problem(target: Any, fact: Fact) -> str | None:
    what = _describe(target)
    if not fact.exists:
        where = {EcrImage: "in ECR", SsmParameter: "in SSM Parameter Store", Secret: "in Secrets Manager",
                 S3Object: "in S3", Role: "in IAM"}.get(type(target), "")
        return f"{what} not found {where}".strip()
    if isinstance(target, Secret):
        if target.version_stage and target.version_stage not in fact.stages:
            return f"{what}: version stage {target.version_stage!r} not found"
        if target.version_id and target.version_id not in fact.version_ids:
            return f"{what}: version id {target.version_id!r} not found"
    if isinstance(target, Role) and ECS_TASKS not in fact.trusted_by:
        return f"{what} cannot be assumed by ECS tasks (its trust policy does not name {ECS_TASKS})"
    return None


def _hint(target: Any, fact: Fact) -> str:
    if isinstance(target, EcrImage) and target.tag and fact.neighbours:
        close = difflib.get_close_matches(target.tag, fact.neighbours, n=3, cutoff=0.6)
        if close:
            return "similar tag" + ("s" if len(close) > 1 else "") + ": " + ", ".join(close)
    return ""


def _describe(target: Any) -> str:
    if isinstance(target, EcrImage):
        return f"image {target.image}"
    if isinstance(target, SsmParameter):
        return f"SSM parameter {target.name}"
    if isinstance(target, Secret):
        return f"secret {target.arn}"
    if isinstance(target, S3Object):
        return f"environment file s3://{target.bucket}/{target.key}"
    if isinstance(target, Role):
        return f"role {target.arn}"
    return str(target)


def trusted_services(policy: Mapping[str, Any]) -> tuple[str, ...]:
    """Service principals an IAM trust policy allows to call sts:AssumeRole (IAM policy grammar:
    Statement may be one object or a list; Action and Principal.Service a string or a list)."""
    statements = policy.get("Statement") or []
    if isinstance(statements, Mapping):
        statements = [statements]
    services: list[str] = []
    for st in statements:
        if not isinstance(st, Mapping) or st.get("Effect") != "Allow":
            continue
        actions = st.get("Action") or []
        actions = [actions] if isinstance(actions, str) else list(actions)
        if not any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions):
            continue
        principal = st.get("Principal") or {}
        service = principal.get("Service") if isinstance(principal, Mapping) else None
        services.extend([service] if isinstance(service, str) else list(service or []))
    return tuple(dict.fromkeys(services))
