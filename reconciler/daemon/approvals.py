"""Approval gates: a git change to a gated service waits until a person approves that exact plan.

Per cycle (`hold`): the apply choices of services whose `syncPolicy.approval` is set are
grouped per environment and hashed (reconciler.chatops.planhash). A stored approval for
the same commit and hash lets them through; otherwise they are held, and the leader posts
one request per environment and commit (superseding the previous one in place). Requests
live in the state table, so a restart or a new leader keeps them. `approve` / `reject`
come from Slack buttons, `/reconciler approve|reject`, or the CLI through the HTTP API.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, Protocol

from reconciler.chatops.approval import ApprovalRequest, Reply, combined_policy, requested_by, summarize
from reconciler.chatops.audit import AuditLog, AuditRecord
from reconciler.chatops.permissions import Actor, in_audience
from reconciler.chatops.planhash import image_changes, plan_hash
from reconciler.daemon.policy import Choice
from reconciler.events import CommitInfo, ImageChange, ReportEvent, ServiceReport
from reconciler.log import get_logger
from reconciler.plan import Plan

log = get_logger(__name__)


class KeyValue(Protocol):
    """reconciler.aws.state_table.StateTable, or an in-memory stand-in."""

    def get(self, namespace: str, key: str) -> str | None: ...

    def put(self, namespace: str, key: str, value: str, ttl_seconds: float | None = ...) -> None: ...


class MemoryKeyValue:
    """State of a single replica without a state table (lost on restart)."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str], str] = {}

    def get(self, namespace: str, key: str) -> str | None:
        return self._data.get((namespace, key))

    def put(self, namespace: str, key: str, value: str, ttl_seconds: float | None = None) -> None:
        self._data[(namespace, key)] = value


class Messenger(Protocol):
    """Posts and edits the request message (Slack Web API); returns (channel, ts) of a new post."""

    def post(self, message: Mapping[str, Any]) -> tuple[str, str] | None: ...

    def update(self, channel: str, ts: str, message: Mapping[str, Any]) -> None: ...


class ApprovalStore:
    """The current request of each environment, and paused services, under `approvals#<instance>`."""

    def __init__(self, kv: KeyValue, instance: str) -> None:
        self._kv, self._ns = kv, f"approvals#{instance}"

    def get(self, env: str) -> ApprovalRequest | None:
        raw = self._kv.get(self._ns, f"request#{env}")
        try:
            return ApprovalRequest.loads(raw) if raw else None
        except (ValueError, TypeError) as exc:
            log.warning("approval_unreadable", environment=env, error=str(exc))
            return None

    def put(self, req: ApprovalRequest) -> None:
        self._kv.put(self._ns, f"request#{req.environment}", req.dumps(), ttl_seconds=30 * 24 * 3600)

    def paused(self, env: str) -> dict[str, str]:
        """service -> who paused it (`pause ENV SERVICE` from chat), until `resume`."""
        raw = self._kv.get(self._ns, f"paused#{env}")
        try:
            value = json.loads(raw) if raw else {}
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}

    def set_paused(self, env: str, service: str, by: str | None) -> bool:
        """Pause (by=who) or resume (by=None); False when nothing changed."""
        paused = self.paused(env)
        if (service in paused) == (by is not None):
            return False
        if by is None:
            paused.pop(service, None)
        else:
            paused[service] = by
        self._kv.put(self._ns, f"paused#{env}", json.dumps(paused, sort_keys=True), ttl_seconds=None)
        return True


class ApprovalGate:
    def __init__(self, store: ApprovalStore, messenger: Messenger | None, audit: AuditLog, *,
                 members: Callable[[str], Iterable[str]] = lambda group: (),
                 email_of: Callable[[str], str | None] = lambda user: None,
                 commit_meta: Callable[[str], tuple[str, str]] = lambda sha: ("", ""),
                 wake: Callable[[], None] = lambda: None, clock: Callable[[], float] = time.time,
                 announce: Callable[[ReportEvent], None] | None = None) -> None:
        self.store, self.messenger, self.audit = store, messenger, audit
        #: Without a Slack bot to post the request (with buttons), the notifier announces it instead.
        self.announce = announce
        self.members, self.email_of, self.commit_meta = members, email_of, commit_meta
        self.wake, self.clock = wake, clock
        self._lock = threading.Lock()

    # -- the loop side ---------------------------------------------------------------
    def hold(self, plan: Plan, choices: list[Choice], commit: CommitInfo, *, leader: bool) -> list[Choice]:
        """`choices` with gated changes held back unless approved for exactly this commit and plan."""
        choices = self._pauses(plan, choices)
        gated: dict[str, list[Choice]] = {}
        for c in choices:
            if c.kind == "apply" and c.plan.policy.approval is not None:
                gated.setdefault(c.plan.environment, []).append(c)
        held: set[str] = set()
        with self._lock:
            for env in sorted({sp.environment for sp in plan.services}):
                group = gated.get(env)
                if not group:
                    if leader:
                        self._supersede_stale(env, commit)
                    continue
                digest = plan_hash([c.plan for c in group])
                req = self.store.get(env)
                if req is not None and req.commit == commit.sha and req.plan_hash == digest:
                    if req.status == "approved":
                        continue
                    if leader and req.status == "pending" and self.clock() >= req.expires_at:
                        self._finish(req.with_(status="expired"), "expired", None)
                else:
                    if leader:
                        if req is not None and req.status == "pending":
                            self._finish(req.with_(status="superseded", superseded_by=commit.sha), "superseded", None)
                        self._request(env, commit, digest, group)
                held.update(c.plan.key for c in group)
        return [c if c.plan.key not in held else
                Choice(c.plan, "approval", f"waiting for approval of commit {commit.short} ({c.plan.environment})")
                for c in choices]

    def _pauses(self, plan: Plan, choices: list[Choice]) -> list[Choice]:
        paused: dict[str, str] = {}
        for env in sorted({c.plan.environment for c in choices if c.applies}):
            paused.update({f"{env}/{svc}": who for svc, who in self.store.paused(env).items()})
        return [Choice(c.plan, "paused", f"automated sync paused from chat by {paused[c.plan.key]}; "
                                         f"`resume {c.plan.environment} {c.plan.name}` ends it")
                if c.applies and c.plan.key in paused else c for c in choices]

    def _supersede_stale(self, env: str, commit: CommitInfo) -> None:
        req = self.store.get(env)
        if req is not None and req.status == "pending" and req.commit != commit.sha:
            self._finish(req.with_(status="superseded", superseded_by=commit.sha), "superseded", None)

    def _request(self, env: str, commit: CommitInfo, digest: str, group: list[Choice]) -> None:
        policy = combined_policy(c.plan.policy.approval for c in group if c.plan.policy.approval)
        try:
            email, message = self.commit_meta(commit.sha)
        except Exception as exc:  # noqa: BLE001 - without them the author check falls back to the trailer-less case
            log.warning("commit_meta_unreadable", commit=commit.short, error=str(exc))
            email, message = "", ""
        now = self.clock()
        req = ApprovalRequest(environment=env, commit=commit.sha, plan_hash=digest, requested_at=now,
                              expires_at=now + policy.lifetime_seconds, count=policy.count,
                              allow_author=policy.allow_author, users=policy.users, groups=policy.groups,
                              title=commit.title, author=commit.author, author_email=email,
                              requested_by=requested_by(message), services=summarize([c.plan for c in group]),
                              url=commit.url)
        if self.messenger is not None:
            try:
                ref = self.messenger.post(_render(req))
                if ref:
                    req = req.with_(channel=ref[0], ts=ref[1])
            except Exception as exc:  # noqa: BLE001 - the request stands (CLI/API can approve) even if chat is down
                log.warning("approval_post_failed", environment=env, error=str(exc))
        elif self.announce is not None:
            self.announce(ReportEvent(kind="approval_needed", environment=env, commit=commit, services=tuple(
                ServiceReport(environment=env, service=c.plan.name, changes=c.plan.drift.changes, status="pending",
                              images=tuple(ImageChange(i.container, i.old, i.new or "") for i in image_changes(c.plan)),
                              message=f"approve with `approve {env} {commit.short}`")
                for c in group)))
        self.store.put(req)
        log.info("approval_requested", environment=env, commit=commit.short, plan_hash=digest[:12],
                 services=[s["service"] for s in req.services])
        self.audit.record(AuditRecord("approval-request", "requested", actor_id="daemon", environment=env,
                                      service=",".join(s["service"] for s in req.services), commit=commit.sha,
                                      plan_hash=digest, channel=req.channel))

    def _finish(self, req: ApprovalRequest, result: str, actor: Actor | None) -> None:
        self.store.put(req)
        self._show(req)
        log.info("approval_" + result, environment=req.environment, commit=req.short)
        if actor is None:
            self.audit.record(AuditRecord("approval-request", result, actor_id="daemon", environment=req.environment,
                                          commit=req.commit, plan_hash=req.plan_hash,
                                          reason=f"superseded by {req.superseded_by[:8]}" if req.superseded_by
                                          else None))

    def _show(self, req: ApprovalRequest) -> None:
        if self.messenger is not None and req.channel and req.ts:
            try:
                self.messenger.update(req.channel, req.ts, _render(req))
            except Exception as exc:  # noqa: BLE001
                log.warning("approval_update_failed", environment=req.environment, error=str(exc))

    # -- the people side -------------------------------------------------------------
    def pending(self, env: str) -> ApprovalRequest | None:
        return self.store.get(env)

    def decide(self, env: str, actor: Actor, *, approve: bool, commit: str | None = None,
               bound: tuple[str, str] | None = None) -> Reply:
        """Approve or reject `env`'s request. `bound` = (commit, plan hash) from a button: the
        request it was shown for, which must still be the current one."""
        verb = "approve" if approve else "reject"
        with self._lock:
            req = self.store.get(env)
            if req is None:
                return Reply(f"There is no approval request for {env}.", result="ignored")
            if bound is not None and (req.commit, req.plan_hash) != bound:
                later = req.commit[:8] if req.commit != bound[0] else "a newer plan of the same commit"
                return Reply(f"This request (commit {bound[0][:8]}) was superseded by {later}; "
                             f"{verb[:-1]}ing it does nothing.", result="ignored", request=req)
            if commit and not req.commit.startswith(commit):
                return Reply(f"The request for {env} is for commit {req.short}, not {commit}.", result="ignored",
                             request=req)
            if req.status == "pending" and self.clock() >= req.expires_at:
                req = req.with_(status="expired")
                self._finish(req, "expired", None)
            if req.status != "pending":
                return Reply(_closed(req), result="ignored", request=req)
            if not (actor.user_id.startswith("api:")
                    or in_audience(actor.user_id, req.users, req.groups, self.members)):
                return Reply(f"You are not an approver for {env}.", request=req)
            if approve and not req.allow_author and self._is_author(actor, req):
                return Reply(f"You wrote or requested commit {req.short}; someone else must approve it.",
                             request=req)
            now = self.clock()
            if not approve:
                req = req.with_(status="rejected", decided_by=actor.user_id, decided_at=now)
                self.store.put(req)
                self._show(req)
                return Reply(f"Rejected commit {req.short} for {env}: nothing will be applied.", True, "rejected",
                             req)
            if actor.user_id in req.approvals:
                return Reply(f"You already approved commit {req.short}; "
                             f"{req.count - len(req.approvals)} more approval(s) needed.", result="ignored",
                             request=req)
            req = req.with_(approvals=(*req.approvals, actor.user_id), decided_by=actor.user_id, decided_at=now)
            if len(req.approvals) >= req.count:
                req = req.with_(status="approved")
            self.store.put(req)
            self._show(req)
        if req.status == "approved":
            self.wake()
            return Reply(f"Approved commit {req.short} for {env}: applying it now.", True, "approved", req)
        return Reply(f"Approval recorded for {req.short}; {req.count - len(req.approvals)} more needed.", True,
                     "accepted", req)

    def _is_author(self, actor: Actor, req: ApprovalRequest) -> bool:
        if req.requested_by and req.requested_by == actor.user_id:
            return True
        if not req.author_email:
            return False
        try:
            email = self.email_of(actor.user_id)
        except Exception:  # noqa: BLE001 - unknown email: not provably the author
            return False
        return bool(email) and email.lower() == req.author_email.lower()


def _closed(req: ApprovalRequest) -> str:
    if req.status == "superseded":
        return f"The request for commit {req.short} was superseded by {(req.superseded_by or '')[:8]}; nothing to do."
    if req.status == "approved":
        return f"Commit {req.short} is already approved ({', '.join(req.approvals)}); nothing more to do."
    if req.status == "expired":
        return f"The request for commit {req.short} expired; `sync {req.environment}` asks again."
    return f"Commit {req.short} was rejected by {req.decided_by}; push a new commit to try again."


def _render(req: ApprovalRequest) -> dict[str, Any]:
    from reconciler.chatops.approval import render

    return render(req)


def reopen(store: ApprovalStore, env: str) -> bool:
    """`sync ENV` after an expiry or rejection: forget the closed request so the next cycle asks again."""
    req = store.get(env)
    if req is None or req.status in ("pending", "approved"):
        return False
    store.put(replace(req, status="superseded", superseded_by=req.commit, commit=""))
    return True
