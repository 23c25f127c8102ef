"""Push notifications from GitLab, GitHub and CodeCommit, reduced to one `PushHint`.

A hint only wakes the loop: the daemon always re-reads the branch head from git
itself, so a forged or stale payload can never choose what gets applied
(GitLab's docs: treat the hook as a hint; chat-and-git-triggers.md §1).
"""
from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.signing import signature_matches

ZERO_SHA = "0" * 40


@dataclass(frozen=True)
class PushHint:
    source: str                  # gitlab | github | codecommit
    branch: str | None           # short name, e.g. "main"; None for tags
    after: str | None            # new head, when the payload says
    delivery_id: str | None = None
    repository: str | None = None
    deleted: bool = False


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _branch(ref: str | None) -> str | None:
    return ref[len("refs/heads/"):] if ref and ref.startswith("refs/heads/") else None


def verify_gitlab_token(headers: Mapping[str, str], secret: str) -> bool:
    """GitLab sends the configured secret in clear in X-Gitlab-Token: compare in constant time."""
    given = _lower(headers).get("x-gitlab-token", "")
    return hmac.compare_digest(given.encode("utf-8"), secret.encode("utf-8"))


def verify_github_signature(headers: Mapping[str, str], body: bytes, secret: str) -> bool:
    """X-Hub-Signature-256 = sha256=HMAC-SHA256(secret, raw body), compared in constant time."""
    given = _lower(headers).get("x-hub-signature-256", "")
    return signature_matches(given, secret, body)


def detect_provider(headers: Mapping[str, str]) -> str | None:
    h = _lower(headers)
    if "x-gitlab-event" in h:
        return "gitlab"
    if "x-github-event" in h:
        return "github"
    return None


def delivery_id(headers: Mapping[str, str]) -> str | None:
    """The retry-stable id: GitLab's Idempotency-Key (17.4+, same on retries), else its event UUID."""
    h = _lower(headers)
    return h.get("idempotency-key") or h.get("x-gitlab-event-uuid") or h.get("x-github-delivery")


def parse_gitlab_push(headers: Mapping[str, str], payload: Mapping[str, Any]) -> PushHint | None:
    """`Push Hook` bodies become hints; every other event kind is None (ignored, not an error)."""
    if payload.get("object_kind") != "push":
        return None
    after = payload.get("checkout_sha") or payload.get("after")
    deleted = payload.get("after") == ZERO_SHA
    project = payload.get("project") or {}
    return PushHint(source="gitlab", branch=_branch(payload.get("ref")), after=None if deleted else after,
                    delivery_id=delivery_id(headers), repository=project.get("path_with_namespace"), deleted=deleted)


def parse_github_push(headers: Mapping[str, str], payload: Mapping[str, Any]) -> PushHint | None:
    if _lower(headers).get("x-github-event") != "push":
        return None
    deleted = bool(payload.get("deleted")) or payload.get("after") == ZERO_SHA
    repo = payload.get("repository") or {}
    return PushHint(source="github", branch=_branch(payload.get("ref")),
                    after=None if deleted else payload.get("after"), delivery_id=delivery_id(headers),
                    repository=repo.get("full_name"), deleted=deleted)


def parse_codecommit_message(body: str) -> list[PushHint]:
    """An SQS body: an EventBridge event, an SNS envelope around one, or a legacy trigger.

    Raises ValueError for bodies that are none of these (left on the queue for its DLQ).
    """
    doc = json.loads(body)
    if isinstance(doc, dict) and doc.get("Type") == "Notification" and isinstance(doc.get("Message"), str):
        doc = json.loads(doc["Message"])  # SNS -> SQS without raw delivery (SNS docs "Fanout to SQS")
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    if doc.get("detail-type") == "CodeCommit Repository State Change":
        # EventBridge: CodeCommit user guide, monitoring-events.
        detail = doc.get("detail") or {}
        if detail.get("referenceType") != "branch":
            return []
        deleted = detail.get("event") == "referenceDeleted"
        return [PushHint(source="codecommit", branch=detail.get("referenceName"),
                         after=None if deleted else detail.get("commitId"), delivery_id=doc.get("id"),
                         repository=detail.get("repositoryName"), deleted=deleted)]
    if isinstance(doc.get("Records"), list):
        # Legacy repository triggers (Lambda developer guide, services-codecommit).
        hints = []
        for record in doc["Records"]:
            repo = str(record.get("eventSourceARN", "")).split(":")
            for ref in (record.get("codecommit") or {}).get("references", []):
                deleted = bool(ref.get("deleted"))
                hints.append(PushHint(source="codecommit", branch=_branch(ref.get("ref")),
                                      after=None if deleted else ref.get("commit"), delivery_id=record.get("eventId"),
                                      repository=repo[5] if len(repo) > 5 else None, deleted=deleted))
        return hints
    raise ValueError("neither a CodeCommit EventBridge event nor a trigger record")
