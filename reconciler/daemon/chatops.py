"""Chat commands executed by the daemon: `/reconciler …` from Slack, and the same through the HTTP API.

Reads (status, history, help) answer at once. Writes are checked against the
permissions, acknowledged within Slack's three seconds, then done in the background
and reported through the request's `response_url`. Nothing here changes AWS behind
git's back: `deploy` and `promote` become commits (reconciler.source.writer), `sync`
wakes the loop, `approve` lets one exact plan through (reconciler.daemon.approvals).
Every request and its outcome goes to the audit trail.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.chatops.approval import APPROVE, CONTINUE, REJECT, ROLLBACK, parse_button
from reconciler.chatops.audit import AuditLog, AuditRecord, render_text
from reconciler.chatops.commands import ChatCommand, CommandError, help_text, parse
from reconciler.chatops.gitedit import EditPlan, apply_edit, commit_message, deploy_edit, promote_edits
from reconciler.chatops.imageedit import EditError
from reconciler.chatops.permissions import Actor, Permissions
from reconciler.daemon.approvals import ApprovalGate, ApprovalStore, reopen
from reconciler.daemon.status import StatusBoard, service_note
from reconciler.log import get_logger

log = get_logger(__name__)

#: continue / abort / rollback of a service: (environment, service, actor, revision) -> what happened,
#: as text (done) or (text, ok) when it can fail.
Operation = Callable[[str, str, Actor, int | None], "str | tuple[str, bool]"]


@dataclass(frozen=True)
class Where:
    channel_id: str | None = None
    channel_name: str | None = None

    def __str__(self) -> str:
        return f"#{self.channel_name} ({self.channel_id})" if self.channel_name else (self.channel_id or "the API")


@dataclass(frozen=True)
class Outcome:
    text: str
    result: str                       # audit result: applied, failed, refused, ignored, approved, …
    resulting_commit: str | None = None


class ChatOps:
    def __init__(self, *, permissions: Permissions, gate: ApprovalGate, store: ApprovalStore, audit: AuditLog,
                 board: StatusBoard, writer: Any | None, load: Callable[[Path], Any],
                 wake_git: Callable[[], None], wake_full: Callable[[], None],
                 members: Callable[[str], Iterable[str]], respond: Callable[[str, Mapping[str, Any]], None],
                 background: Callable[[Callable[[], None]], None], command_name: str = "/reconciler",
                 operations: Mapping[str, Operation] | None = None) -> None:
        self.permissions, self.gate, self.store, self.audit, self.board = permissions, gate, store, audit, board
        self.writer, self.load = writer, load
        self.wake_git, self.wake_full, self.members = wake_git, wake_full, members
        self.respond, self.background, self.command_name = respond, background, command_name
        self.operations = dict(operations or {})

    # -- entry points ------------------------------------------------------------------
    def slash_command(self, form: Mapping[str, str]) -> dict[str, Any]:
        """The immediate answer to a slash command (Slack shows it; must come within 3 s)."""
        actor = Actor(form.get("user_id", ""), form.get("user_name", ""))
        where = Where(form.get("channel_id"), form.get("channel_name"))
        text = form.get("text", "")
        try:
            cmd = parse(text)
        except CommandError as exc:
            return _ephemeral(f"{exc}\n{help_text(self.command_name)}")
        refused = self._refused(cmd, actor, where)
        if refused:
            return _ephemeral(refused)
        if not cmd.writes:
            return {"response_type": "in_channel" if cmd.action != "help" else "ephemeral",
                    "text": self._read(cmd)}
        url = form.get("response_url")

        def work() -> None:
            outcome = self.execute(cmd, actor, where)
            if url:
                self.respond(url, {"response_type": "in_channel", "replace_original": False,
                                   "text": f"{actor.mention}: `{self.command_name} {text.strip()}` — {outcome.text}"})

        self.background(work)
        return {"response_type": "in_channel",
                "text": f"{actor.mention} asked for `{self.command_name} {text.strip()}`: working on it…"}

    def interaction(self, payload: Mapping[str, Any]) -> dict[str, Any] | None:
        """A button click: acknowledged at once (empty 200); the decision is made in the background."""
        if payload.get("type") != "block_actions":
            return None
        user = payload.get("user") or {}
        actor = Actor(str(user.get("id", "")), str(user.get("name") or user.get("username") or ""))
        channel = payload.get("channel") or {}
        where = Where(str((payload.get("container") or {}).get("channel_id") or channel.get("id") or ""),
                      channel.get("name"))
        url = payload.get("response_url")
        for action in payload.get("actions") or []:
            action_id = action.get("action_id")
            if action_id in (CONTINUE, ROLLBACK):
                self._pause_button(str(action.get("value") or ""), action_id == CONTINUE, actor, where, url)
                continue
            bound = parse_button(str(action.get("value") or ""))
            if action_id not in (APPROVE, REJECT) or bound is None:
                continue
            env, sha, digest = bound

            def work(env: str = env, sha: str = sha, digest: str = digest, approve: bool = action_id == APPROVE) -> None:
                outcome = self._decide(env, actor, where, approve=approve, bound=(sha, digest))
                if url:
                    self.respond(url, {"response_type": "ephemeral", "replace_original": False,
                                       "text": outcome.text})

            self.background(work)
        return None

    def _pause_button(self, value: str, go_on: bool, actor: Actor, where: Where, url: str | None) -> None:
        """Continue / Roll back on a paused deployment: `continue|abort ENV SERVICE`, same permissions."""
        env, _, service = value.partition("|")
        try:
            cmd = parse(f"{'continue' if go_on else 'abort'} {env} {service}")
        except CommandError:
            return
        refused = self._refused(cmd, actor, where)

        def work() -> None:
            text = refused or self.execute(cmd, actor, where).text
            if url:
                self.respond(url, {"response_type": "ephemeral" if refused else "in_channel",
                                   "replace_original": False, "text": f"{actor.mention}: {text}"})

        self.background(work)

    def api(self, text: str, user: str) -> dict[str, Any]:
        """The HTTP API (bearer token): the same commands, done synchronously. The token holder is
        trusted like a configured approver (our choice); the audit names `api:<user>`."""
        actor = Actor(f"api:{user or 'cli'}", user or "cli")
        try:
            cmd = parse(text)
        except CommandError as exc:
            return {"ok": False, "text": str(exc)}
        if not cmd.writes:
            return {"ok": True, "text": self._read(cmd)}
        outcome = self.execute(cmd, actor, Where())
        return {"ok": outcome.result not in ("failed", "refused", "ignored"), "text": outcome.text,
                "result": outcome.result, "commit": outcome.resulting_commit}

    # -- permission ----------------------------------------------------------------------
    def _refused(self, cmd: ChatCommand, actor: Actor, where: Where) -> str | None:
        if cmd.action in ("approve", "reject"):
            return None  # decided by the approval policy in git (approvers), see ApprovalGate.decide
        decision = self.permissions.check(actor.user_id, cmd.scope, cmd.action, self.members)
        if decision.allowed:
            return None
        self.audit.record(AuditRecord(cmd.action, "refused", actor_id=actor.user_id, actor_name=actor.name,
                                      channel=where.channel_id, environment=cmd.scope, service=cmd.service,
                                      reason=decision.reason))
        return f"Refused: {decision.reason}."

    # -- reads -----------------------------------------------------------------------------
    def _read(self, cmd: ChatCommand) -> str:
        if cmd.action == "help":
            return help_text(self.command_name)
        if cmd.action == "history":
            records = self.audit.history(cmd.environment, cmd.service, limit=15)
            return "```\n" + render_text(records) + "\n```" if records else "No records."
        services = self.board.to_json().get("services") or {}
        rows = []
        for key, svc in sorted(services.items()):
            env, _, name = key.partition("/")
            if (cmd.environment and env != cmd.environment) or (cmd.service and name != cmd.service):
                continue
            note = service_note(svc)
            rows.append(f"• *{key}* {svc.get('sync')} / {svc.get('health')}" + (f" — {note}" if note else ""))
        for env in sorted({k.partition("/")[0] for k in services}):
            if cmd.environment in (None, env):
                req = self.store.get(env)
                if req is not None and req.status == "pending":
                    rows.append(f"• {env}: commit `{req.short}` waiting for approval "
                                f"({len(req.approvals)}/{req.count})")
        return "\n".join(rows) or "No services match."

    # -- writes ----------------------------------------------------------------------------
    def execute(self, cmd: ChatCommand, actor: Actor, where: Where) -> Outcome:
        if cmd.action in ("approve", "reject"):
            return self._decide(cmd.environment or "", actor, where, approve=cmd.action == "approve",
                                commit=cmd.commit)
        try:
            outcome = self._write(cmd, actor, where)
        except EditError as exc:
            outcome = Outcome(str(exc), "failed")
        except Exception as exc:  # noqa: BLE001 - every failure is explained in chat and audited
            log.warning("chat_command_failed", action=cmd.action, error=str(exc))
            outcome = Outcome(f"failed: {exc}", "failed")
        self.audit.record(AuditRecord(cmd.action, outcome.result, actor_id=actor.user_id, actor_name=actor.name,
                                      channel=where.channel_id, environment=cmd.scope,
                                      service=cmd.service or ",".join(cmd.services) or None,
                                      reason=outcome.text[:500], resulting_commit=outcome.resulting_commit))
        return outcome

    def _decide(self, env: str, actor: Actor, where: Where, *, approve: bool, commit: str | None = None,
                bound: tuple[str, str] | None = None) -> Outcome:
        reply = self.gate.decide(env, actor, approve=approve, commit=commit, bound=bound)
        req = reply.request
        self.audit.record(AuditRecord("approve" if approve else "reject", reply.result, actor_id=actor.user_id,
                                      actor_name=actor.name, channel=where.channel_id, environment=env,
                                      commit=req.commit if req else (bound[0] if bound else commit),
                                      plan_hash=req.plan_hash if req else (bound[1] if bound else None),
                                      service=",".join(s["service"] for s in req.services) if req else None,
                                      reason=reply.text))
        return Outcome(reply.text, reply.result)

    def _write(self, cmd: ChatCommand, actor: Actor, where: Where) -> Outcome:
        env, service = cmd.environment or "", cmd.service or ""
        if cmd.action == "sync":
            again = reopen(self.store, env)
            self.wake_full()
            return Outcome(f"reconciling {env} now" + (" (asking for approval again)" if again else "") + ".",
                           "accepted")
        if cmd.action in ("pause", "resume"):
            changed = self.store.set_paused(env, service, actor.user_id if cmd.action == "pause" else None)
            if cmd.action == "resume":
                self.wake_full()
            state = "paused" if cmd.action == "pause" else "resumed"
            return Outcome(f"automated sync of {env}/{service} {state}." if changed
                           else f"{env}/{service} was already {state}.", "applied" if changed else "ignored")
        if cmd.action in ("deploy", "promote"):
            return self._commit(cmd, actor, where)
        operation = self.operations.get(cmd.action)
        if operation is None:
            return Outcome(f"`{cmd.action}` is not available on this daemon yet.", "refused")
        answer = operation(env, service, actor, cmd.revision)
        text, ok = (answer, True) if isinstance(answer, str) else answer
        return Outcome(text, "applied" if ok else "failed")

    def _commit(self, cmd: ChatCommand, actor: Actor, where: Where) -> Outcome:
        if self.writer is None:
            return Outcome("this daemon cannot write to git (no credentials with write access configured).",
                           "refused")
        done: list[EditPlan] = []

        def edit(root: Path) -> list[str]:
            desired = self.load(root)
            if cmd.action == "deploy":
                plan = deploy_edit(desired, cmd.environment or "", cmd.service or "", cmd.tag or "")
            else:
                plan = promote_edits(desired, cmd.environment or "", cmd.target or "", cmd.services, self._eligible)
            done[:] = [plan]
            for e in plan.edits:
                apply_edit(root, e)
            return [e.path for e in plan.edits]

        if cmd.action == "deploy":
            title = f"deploy {cmd.environment}/{cmd.service} {cmd.tag}"
        else:
            title = f"promote {cmd.environment} → {cmd.target}" + (f" ({', '.join(cmd.services)})"
                                                                   if cmd.services else "")
        who = f"{actor.name or actor.user_id} ({actor.user_id}) in {where}"
        # The message lists the changes, so it is built after the edit ran on the current head.
        result = self.writer.change(
            edit, lambda: commit_message(title, done[0].summary() if done else [], who))
        plan = done[0] if done else EditPlan(())
        skipped = ("; skipped " + "; ".join(plan.skipped)) if plan.skipped else ""
        if result.sha is None:
            return Outcome(f"nothing to change{skipped}.", "ignored")
        self.wake_git()
        return Outcome(f"committed `{result.sha[:8]}` ({'; '.join(plan.summary())}){skipped}; "
                       "the daemon applies it like any commit.", "applied", result.sha)

    def _eligible(self, key: str) -> str | None:
        svc = (self.board.to_json().get("services") or {}).get(key)
        if svc is None:
            return "has no status yet"
        if svc.get("sync") == "Synced" and svc.get("health") == "Healthy":
            return None
        return f"is {svc.get('sync')}/{svc.get('health')}, not Synced and Healthy"


def _ephemeral(text: str) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text}


def form_payload(form: Mapping[str, str]) -> dict[str, Any] | None:
    try:
        doc = json.loads(form.get("payload") or "")
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None
