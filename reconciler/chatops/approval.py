"""Approval requests: one per environment and commit, bound to a plan hash. Pure (model and Block Kit).

The request is stored as JSON in the state table (so it survives restarts and leader
changes) and shown in Slack as one message that is edited in place as it moves:
pending → approved / rejected / expired / superseded.
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from reconciler.chatops.planhash import image_changes, other_fields
from reconciler.model import ApprovalPolicy
from reconciler.plan import ServicePlan

APPROVE, REJECT = "approval_approve", "approval_reject"  # Block Kit action_ids
#: Buttons on a paused progressive deployment: the same as `continue ENV SERVICE` / `abort ENV SERVICE`.
CONTINUE, ROLLBACK = "deployment_continue", "deployment_rollback"


def pause_actions(environment: str, service: str) -> dict[str, Any]:
    """The Continue / Roll back buttons for a deployment waiting at a pause (ECS PAUSE hook, CodeDeploy wait)."""
    value = f"{environment}|{service}"
    return {"type": "actions", "block_id": f"pause:{value}"[:255], "elements": [
        {"type": "button", "action_id": CONTINUE, "style": "primary", "value": value,
         "text": {"type": "plain_text", "text": "Continue"}},
        {"type": "button", "action_id": ROLLBACK, "style": "danger", "value": value,
         "text": {"type": "plain_text", "text": "Roll back"}},
    ]}


@dataclass(frozen=True)
class ApprovalRequest:
    environment: str
    commit: str
    plan_hash: str
    requested_at: float
    expires_at: float
    count: int = 1
    allow_author: bool = False
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    title: str = ""                    # commit title
    author: str = ""                   # commit author (name)
    author_email: str = ""
    requested_by: str | None = None    # Slack user ID of a chat deploy/promote (Requested-by trailer)
    services: tuple[dict[str, Any], ...] = ()  # {service, action, images: [[container, old, new]], fields: [...]}
    status: str = "pending"            # pending | approved | rejected | expired | superseded
    approvals: tuple[str, ...] = ()    # Slack user IDs (or "api:<name>")
    decided_by: str | None = None      # who rejected / the last approver
    decided_at: float | None = None
    superseded_by: str | None = None
    channel: str | None = None         # the Slack message, once posted
    ts: str | None = None
    url: str | None = None             # commit link

    @property
    def short(self) -> str:
        return self.commit[:8]

    @property
    def button_value(self) -> str:
        return f"{self.environment}|{self.commit}|{self.plan_hash}"

    def dumps(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def loads(cls, raw: str) -> ApprovalRequest:
        doc = json.loads(raw)
        known = {f.name: f for f in fields(cls)}
        values = {k: tuple(tuple(x) if isinstance(x, list) else x for x in v) if isinstance(v, list) else v
                  for k, v in doc.items() if k in known}
        return cls(**values)

    def with_(self, **changes: Any) -> ApprovalRequest:
        return replace(self, **changes)


def parse_button(value: str) -> tuple[str, str, str] | None:
    parts = value.split("|")
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 and all(parts) else None


def combined_policy(policies: Iterable[ApprovalPolicy]) -> ApprovalPolicy:
    """Several gated services in one request: any listed approver, the highest count, the author
    only if every service allows it, the shortest lifetime (our choice: the strictest reading)."""
    items = list(policies)
    return ApprovalPolicy(users=tuple(sorted({u for p in items for u in p.users})),
                          groups=tuple(sorted({g for p in items for g in p.groups})),
                          count=max(p.count for p in items), allow_author=all(p.allow_author for p in items),
                          lifetime_seconds=min(p.lifetime_seconds for p in items))


def summarize(plans: Sequence[ServicePlan]) -> tuple[dict[str, Any], ...]:
    return tuple({"service": sp.name, "action": sp.action,
                  "images": [[c.container, c.old, c.new] for c in image_changes(sp)],
                  "fields": other_fields(sp)} for sp in sorted(plans, key=lambda p: p.name))


def requested_by(message: str) -> str | None:
    """The Slack user ID in a `Requested-by: Name (U123) in #chan (C456)` trailer."""
    for line in reversed(message.splitlines()):
        if line.startswith("Requested-by:") and "(" in line:
            return line.split("(", 1)[1].split(")", 1)[0].strip() or None
    return None


def _clock(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%H:%M UTC")


def _short_image(image: str | None) -> str:
    if not image:
        return "(none)"
    return "…/" + image.rsplit("/", 1)[-1] if "/" in image else image


def status_line(req: ApprovalRequest) -> str:
    who = ", ".join(f"<@{u}>" if not u.startswith("api:") else u for u in req.approvals)
    if req.status == "approved":
        return f":white_check_mark: Approved by {who} {_clock(req.decided_at or req.requested_at)}"
    if req.status == "rejected":
        return f":no_entry: Rejected by <@{req.decided_by}> {_clock(req.decided_at or req.requested_at)}"
    if req.status == "expired":
        return f":hourglass: Expired {_clock(req.expires_at)}: nothing was applied"
    if req.status == "superseded":
        return f":fast_forward: Superseded by `{(req.superseded_by or '')[:8]}`: this plan will not be applied"
    need = req.count - len(req.approvals)
    got = f" ({len(req.approvals)}/{req.count}: {who})" if req.approvals else ""
    return f":raised_hand: Waiting for {need} approval{'s' if need != 1 else ''}{got}; expires {_clock(req.expires_at)}"


def render(req: ApprovalRequest) -> dict[str, Any]:
    """The Block Kit message (with a text fallback) for the request in its current state."""
    commit = f"<{req.url}|{req.short}>" if req.url else f"`{req.short}`"
    head = f"[{req.environment}] Approval needed: {len(req.services)} service(s) would change"
    lines = []
    for svc in req.services[:20]:
        parts = [f"*{svc['service']}* ({svc['action']})"]
        for container, old, new in svc.get("images") or []:
            parts.append(f"{container}: `{_short_image(old)}` → `{_short_image(new)}`")
        if svc.get("fields"):
            parts.append("fields: " + ", ".join(f"`{f}`" for f in svc["fields"][:8]))
        lines.append(" · ".join(parts))
    if len(req.services) > 20:
        lines.append(f"… and {len(req.services) - 20} more")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": head[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": (
            f"Commit {commit} {req.title} — by {req.author}"
            + (f", requested by <@{req.requested_by}>" if req.requested_by else "") + "\n"
            + "\n".join(lines))[:3000]}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": status_line(req)[:3000]}]},
    ]
    if req.status == "pending":
        blocks.append({"type": "actions", "block_id": f"approval:{req.environment}", "elements": [
            {"type": "button", "action_id": APPROVE, "style": "primary", "value": req.button_value,
             "text": {"type": "plain_text", "text": "Approve"}},
            {"type": "button", "action_id": REJECT, "style": "danger", "value": req.button_value,
             "text": {"type": "plain_text", "text": "Reject"}},
        ]})
    return {"text": f"{head} (commit {req.short}) — {status_line(req)}", "blocks": blocks}


@dataclass(frozen=True)
class Reply:
    """What to tell the person who acted, and whether anything changed."""

    text: str
    changed: bool = False
    result: str = "refused"
    request: ApprovalRequest | None = field(default=None, compare=False)
