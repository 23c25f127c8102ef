"""Approval gates: hold gated changes, one request per environment and commit, bound to the plan."""
from __future__ import annotations

from typing import Any

from reconciler.chatops.approval import APPROVE, ApprovalRequest, render
from reconciler.chatops.audit import MemoryAuditLog
from reconciler.chatops.permissions import Actor
from reconciler.daemon.approvals import ApprovalGate, ApprovalStore, MemoryKeyValue
from reconciler.daemon.policy import Choice
from reconciler.events import CommitInfo
from reconciler.manifests.service import merge_sync_policy
from reconciler.model import Drift, FieldChange, SyncPolicy
from reconciler.plan import Plan, ServicePlan

IMG = "taskDefinition/containerDefinitions/web/image"
POLICY = merge_sync_policy(SyncPolicy(), {"approval": {"approvers": ["U0DANA", "S0SRE"], "lifetime": "1h"}})


class Slack:
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.updates: list[tuple[str, dict[str, Any]]] = []

    def post(self, message: dict[str, Any]) -> tuple[str, str]:
        self.posts.append(message)
        return "C0APPROVE", f"{len(self.posts)}.0"

    def update(self, channel: str, ts: str, message: dict[str, Any]) -> None:
        self.updates.append((ts, message))


class World:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0
        self.kv = MemoryKeyValue()
        self.slack = Slack()
        self.audit = MemoryAuditLog(lambda: self.now)
        self.woken = 0
        self.gate = self.new_gate()

    def new_gate(self) -> ApprovalGate:
        """A fresh gate over the same store: what a restarted daemon or a new leader sees."""
        def wake() -> None:
            self.woken += 1
        return ApprovalGate(ApprovalStore(self.kv, "ecs-reconciler"), self.slack, self.audit,
                            members=lambda g: ["U0BOB", "U0EVE", "U0AL"] if g == "S0SRE" else [],
                            email_of=lambda u: "eve@example.com" if u == "U0EVE" else None,
                            commit_meta=lambda sha: ("eve@example.com", "web 1.5.0\n\nRequested-by: Al (U0AL) in #x (C1)\n"),
                            wake=wake, clock=lambda: self.now)

    def hold(self, sha: str, tag: str = "1.5.0", env: str = "production") -> list[Choice]:
        sp = ServicePlan(env, "web", "update", drift=Drift((FieldChange(IMG, f"web:{tag}", "web:1.4.2"),)),
                         policy=POLICY)
        free = ServicePlan("staging", "api", "update", drift=Drift((FieldChange(IMG, "api:2", "api:1"),)))
        choices = [Choice(sp, "apply", "git"), Choice(free, "apply", "git")]
        return self.gate.hold(Plan((sp, free)), choices, CommitInfo(sha, "web 1.5.0", "Eve"), leader=True)


def kinds(choices: list[Choice]) -> dict[str, str]:
    return {c.plan.key: c.kind for c in choices}


def test_gated_change_is_held_and_requested_once() -> None:
    w = World()
    assert kinds(w.hold("a" * 40)) == {"production/web": "approval", "staging/api": "apply"}
    assert kinds(w.hold("a" * 40))["production/web"] == "approval"
    assert len(w.slack.posts) == 1
    message = w.slack.posts[0]
    assert "web: `web:1.4.2` → `web:1.5.0`" in str(message["blocks"])
    assert "by Eve, requested by <@U0AL>" in str(message["blocks"])
    assert [b["action_id"] for b in message["blocks"][-1]["elements"]] == [APPROVE, "approval_reject"]


def test_only_approvers_and_not_the_author_or_requester() -> None:
    w = World()
    w.hold("a" * 40)
    assert "not an approver" in w.gate.decide("production", Actor("U0MALLORY"), approve=True).text
    assert "someone else must approve" in w.gate.decide("production", Actor("U0EVE"), approve=True).text
    assert "someone else must approve" in w.gate.decide("production", Actor("U0AL"), approve=True).text
    assert w.woken == 0 and kinds(w.hold("a" * 40))["production/web"] == "approval"
    reply = w.gate.decide("production", Actor("U0BOB"), approve=True)  # a member of the approver group
    assert reply.changed and reply.result == "approved" and w.woken == 1
    assert "Approved by <@U0BOB>" in str(w.slack.updates[-1][1]["blocks"])
    assert kinds(w.hold("a" * 40))["production/web"] == "apply"
    again = w.gate.decide("production", Actor("U0DANA"), approve=True)
    assert not again.changed and "already approved" in again.text and w.woken == 1


def test_approval_binds_commit_and_plan() -> None:
    w = World()
    w.hold("a" * 40)
    old = ApprovalRequest.loads(w.kv.get("approvals#ecs-reconciler", "request#production") or "")
    w.hold("b" * 40, tag="1.5.1")  # git moved first
    assert len(w.slack.posts) == 2
    assert "Superseded by `bbbbbbbb`" in str(w.slack.updates[-1][1]["blocks"])
    stale = w.gate.decide("production", Actor("U0DANA"), approve=True, bound=(old.commit, old.plan_hash))
    assert not stale.changed and "superseded by bbbbbbbb" in stale.text and w.woken == 0
    assert w.gate.decide("production", Actor("U0DANA"), approve=True).result == "approved"
    assert kinds(w.hold("b" * 40, tag="1.5.1"))["production/web"] == "apply"
    # same commit, but AWS moved: the plan hash differs, the approval does not carry over
    assert kinds(w.hold("b" * 40, tag="1.5.2"))["production/web"] == "approval"


def test_request_survives_a_new_gate_and_expires() -> None:
    w = World()
    w.hold("a" * 40)
    w.gate = w.new_gate()
    assert kinds(w.hold("a" * 40))["production/web"] == "approval" and len(w.slack.posts) == 1
    w.now += 3601
    w.hold("a" * 40)
    assert "Expired" in str(w.slack.updates[-1][1]["blocks"])
    late = w.gate.decide("production", Actor("U0DANA"), approve=True)
    assert not late.changed and "expired" in late.text
    assert [r.result for r in w.audit.history()][:2] == ["expired", "requested"]


def test_reject_and_render_without_buttons() -> None:
    w = World()
    w.hold("a" * 40)
    reply = w.gate.decide("production", Actor("U0DANA"), approve=False)
    assert reply.result == "rejected"
    message = render(reply.request)  # type: ignore[arg-type]
    assert "Rejected by <@U0DANA>" in message["text"] and all(b["type"] != "actions" for b in message["blocks"])
    assert kinds(w.hold("a" * 40))["production/web"] == "approval" and len(w.slack.posts) == 1


def test_pause_from_chat_holds_applies() -> None:
    w = World()
    w.gate.store.set_paused("staging", "api", "U0DANA")
    assert kinds(w.hold("a" * 40))["staging/api"] == "paused"
    w.gate.store.set_paused("staging", "api", None)
    assert kinds(w.hold("a" * 40))["staging/api"] == "apply"


def test_without_a_slack_bot_the_notifier_announces_the_request() -> None:
    w = World()
    events: list[Any] = []
    w.gate = ApprovalGate(ApprovalStore(w.kv, "ecs-reconciler"), None, w.audit, announce=events.append,
                          commit_meta=lambda sha: (_ for _ in ()).throw(RuntimeError("gone")), clock=lambda: w.now)
    w.hold("a" * 40)
    w.hold("a" * 40)
    [event] = events
    assert event.kind == "approval_needed" and event.environment == "production"
    [svc] = event.services
    assert svc.service == "web" and svc.images[0].new == "web:1.5.0" and "approve production aaaaaaaa" in svc.message
