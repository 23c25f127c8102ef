"""The daemon's chat dispatcher and endpoints: reads answer at once, writes are checked, acknowledged,
done in the background and audited; Slack requests are verified before anything else."""
from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from reconciler.chatops.audit import MemoryAuditLog
from reconciler.chatops.permissions import Permissions
from reconciler.chatops.signing import RequestVerifier, sign
from reconciler.daemon.approvals import ApprovalGate, ApprovalStore, MemoryKeyValue
from reconciler.daemon.chatops import ChatOps
from reconciler.daemon.slack import ApiEndpoint, SlackEndpoints
from reconciler.daemon.status import StatusBoard

SECRET = "unit-signing-secret"
PERMS = Permissions.from_mapping({"permissions": [
    {"environments": ["staging"], "actions": ["sync", "pause", "resume", "continue"], "users": ["U0DANA"]}]})


class Harness:
    def __init__(self, permissions: Permissions = PERMS, operations: dict[str, Any] | None = None) -> None:
        self.audit = MemoryAuditLog(time.time)
        self.store = ApprovalStore(MemoryKeyValue(), "ecs-reconciler")
        self.board = StatusBoard()
        self.board.update("staging", "web", sync="Synced", health="Healthy")
        self.board.update("production", "web", sync="OutOfSync", health="Healthy", reason="waiting for approval")
        self.responses: list[tuple[str, dict[str, Any]]] = []
        self.woken: list[str] = []
        self.chat = ChatOps(permissions=permissions, gate=ApprovalGate(self.store, None, self.audit), store=self.store,
                            audit=self.audit, board=self.board, writer=None, load=lambda root: None,
                            wake_git=lambda: self.woken.append("git"), wake_full=lambda: self.woken.append("full"),
                            members=lambda g: [], respond=lambda url, msg: self.responses.append((url, dict(msg))),
                            background=lambda work: work(),  # run inline: the test sees the outcome at once
                            operations=operations)

    def slash(self, text: str, user: str = "U0DANA") -> dict[str, Any]:
        return self.chat.slash_command({"user_id": user, "user_name": "dana", "channel_id": "C1",
                                        "channel_name": "deploys", "text": text, "response_url": "http://r/1"})


def test_reads_answer_in_the_channel_at_once() -> None:
    h = Harness()
    status = h.slash("status staging", user="U0ANYONE")
    assert status["response_type"] == "in_channel" and "*staging/web* Synced / Healthy" in status["text"]
    assert "production" not in status["text"]
    h.board.update("staging", "web", health="Progressing", progress="BLUE_GREEN: baking 4 of 10 min")
    assert "*staging/web* Synced / Progressing — BLUE_GREEN: baking 4 of 10 min" in h.slash("status staging")["text"]
    assert "`/reconciler deploy ENV SERVICE TAG`" in h.slash("help")["text"]
    assert h.responses == []


def test_refusals_are_ephemeral_and_audited() -> None:
    h = Harness()
    refused = h.slash("sync production")
    assert refused["response_type"] == "ephemeral" and "production is protected" in refused["text"]
    bad = h.slash("deploy staging")
    assert bad["response_type"] == "ephemeral" and "usage: deploy ENV SERVICE TAG" in bad["text"]
    [record] = h.audit.history()
    assert (record.action, record.result, record.actor_id, record.environment) == ("sync", "refused", "U0DANA",
                                                                                 "production")
    assert h.woken == []


def test_writes_are_acknowledged_then_answered_and_audited() -> None:
    h = Harness()
    ack = h.slash("pause staging web")
    assert "working on it" in ack["text"]
    assert h.responses[-1][0] == "http://r/1" and "automated sync of staging/web paused" in h.responses[-1][1]["text"]
    assert h.store.paused("staging") == {"web": "U0DANA"}
    h.slash("resume staging web")
    assert h.store.paused("staging") == {} and h.woken == ["full"]
    h.slash("continue staging web")
    assert "not available on this daemon yet" in h.responses[-1][1]["text"]
    assert sorted((r.action, r.result) for r in h.audit.history()) == [("continue", "refused"), ("pause", "applied"),
                                                                       ("resume", "applied")]


def test_deploy_without_git_write_access_is_explained() -> None:
    h = Harness(Permissions.from_mapping({"permissions": [
        {"environments": ["staging"], "actions": ["deploy"], "users": ["U0DANA"]}]}))
    h.slash("deploy staging web 1.5.0")
    assert "cannot write to git" in h.responses[-1][1]["text"]


def test_slack_endpoints_verify_before_anything() -> None:
    h = Harness()
    endpoints = SlackEndpoints(RequestVerifier(SECRET, team_id="T1"), h.chat)
    body = urlencode({"team_id": "T1", "user_id": "U0DANA", "text": "status", "channel_id": "C1"}).encode()
    now = int(time.time())
    assert endpoints.commands(sign("wrong", now, body), body)[0] == 401
    assert endpoints.commands(sign(SECRET, now - 301, body), body)[0] == 401
    status, doc = endpoints.commands(sign(SECRET, now, body), body)
    assert status == 200 and "staging/web" in doc["text"]
    assert endpoints.commands(sign(SECRET, now, body), body)[0] == 409  # the same request again
    other = urlencode({"team_id": "T2", "user_id": "U0DANA", "text": "status"}).encode()
    assert endpoints.commands(sign(SECRET, now, other), other)[0] == 403
    junk = b"payload=not-json"
    assert endpoints.interactions(sign(SECRET, now, junk), junk)[0] == 403  # no workspace in it
    assert SlackEndpoints(RequestVerifier(SECRET), h.chat).interactions(sign(SECRET, now, junk), junk)[0] == 400
    click = urlencode({"payload": json.dumps({"type": "block_actions", "team": {"id": "T1"}, "user": {"id": "U0DANA"},
                                              "actions": [{"action_id": "approval_approve",
                                                           "value": "production|abc|def"}],
                                              "response_url": "http://r/2"})}).encode()
    assert endpoints.interactions(sign(SECRET, now, click), click) == (200, None)
    assert h.responses[-1] == ("http://r/2", {"response_type": "ephemeral", "replace_original": False,
                                              "text": "There is no approval request for production."})


def test_api_needs_the_bearer_token() -> None:
    h = Harness()
    api = ApiEndpoint("tok", h.chat)
    body = json.dumps({"text": "status", "user": "dana"}).encode()
    assert api.commands({}, body)[0] == 401
    assert api.commands({"Authorization": "Bearer nope"}, body)[0] == 401
    status, doc = api.commands({"Authorization": "Bearer tok"}, body)
    assert status == 200 and "staging/web" in doc["text"]
    assert api.commands({"Authorization": "Bearer tok"}, b"[]")[0] == 400
    status, doc = api.commands({"Authorization": "Bearer tok"}, json.dumps({"text": "approve staging"}).encode())
    assert status == 409 and "no approval request" in doc["text"]


def test_operations_report_success_or_failure() -> None:
    h = Harness(Permissions.from_mapping({"permissions": [
        {"environments": ["staging"], "actions": ["continue", "abort"], "users": ["U0DANA"]}]}),
        {"continue": lambda env, svc, actor, rev: f"{env}/{svc}: continued",
         "abort": lambda env, svc, actor, rev: (f"{env}/{svc}: no paused deployment", False)})
    h.slash("continue staging web")
    assert "staging/web: continued" in h.responses[-1][1]["text"]
    h.slash("abort staging web")
    assert "no paused deployment" in h.responses[-1][1]["text"]
    assert sorted((r.action, r.result) for r in h.audit.history()) == [("abort", "failed"), ("continue", "applied")]


def test_pause_buttons_run_continue_and_abort_with_the_same_permissions() -> None:
    from reconciler.chatops.approval import pause_actions

    h = Harness(Permissions.from_mapping({"permissions": [
        {"environments": ["production"], "actions": ["continue", "abort"], "users": ["U0DANA"]}]}),
        {"continue": lambda env, svc, actor, rev: f"{env}/{svc}: continued",
         "abort": lambda env, svc, actor, rev: f"{env}/{svc}: rolling back"})
    [go, back] = pause_actions("production", "checkout")["elements"]

    def press(button: dict[str, Any], user: str) -> str:
        h.chat.interaction({"type": "block_actions", "user": {"id": user}, "response_url": "http://r/3",
                            "actions": [{"action_id": button["action_id"], "value": button["value"]}]})
        return str(h.responses[-1][1]["text"])

    assert press(go, "U0DANA") == "<@U0DANA>: production/checkout: continued"
    assert press(back, "U0DANA") == "<@U0DANA>: production/checkout: rolling back"
    assert "not allowed to abort in production" in press(back, "U0MALLORY")
    assert sorted((r.action, r.result, r.actor_id) for r in h.audit.history()) == [
        ("abort", "applied", "U0DANA"), ("abort", "refused", "U0MALLORY"), ("continue", "applied", "U0DANA")]


def test_chat_routes_refuse_from_headers_before_reading_the_body() -> None:
    """A request without the token (or with a stale Slack timestamp) is answered 401 at once, even when
    it announces a body it never sends (no 408 after the body deadline, nothing read)."""
    import socket

    from reconciler.daemon.http import Endpoints, HttpServer
    from reconciler.daemon.metrics import Metrics
    from reconciler.daemon.wakeup import Wakeup
    from reconciler.daemon.webhook import WebhookReceiver

    h = Harness()
    api = ApiEndpoint("tok", h.chat)
    slack = SlackEndpoints(RequestVerifier(SECRET), h.chat)
    server = HttpServer("127.0.0.1", 0, Endpoints(
        h.board, Metrics(), WebhookReceiver(Wakeup(), "main"), lambda: (True, ""),
        routes={"/api/v1/commands": api.commands, "/slack/commands": slack.commands},
        prechecks={"/api/v1/commands": api.precheck, "/slack/commands": slack.precheck}))
    server.start()
    try:
        for path, extra in (("/api/v1/commands", ""),
                            ("/slack/commands", f"X-Slack-Request-Timestamp: {int(time.time()) - 600}\r\n"
                                                "X-Slack-Signature: v0=00\r\n")):
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
                sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n{extra}\r\n".encode())
                head = sock.recv(4096).decode()
            assert head.startswith("HTTP/1.1 401"), (path, head)
    finally:
        server.stop()


def test_a_paused_deployment_report_carries_continue_and_roll_back_buttons() -> None:
    from reconciler.chatops.approval import CONTINUE, ROLLBACK
    from reconciler.events import ReportEvent, ServiceReport
    from reconciler.notify.slack import check_slack_message, render_slack

    report = ServiceReport(environment="production", service="checkout", status="in_progress",
                           message="paused at POST_TEST_TRAFFIC_SHIFT")
    plain = render_slack(ReportEvent(kind="sync_started", environment="production", services=(report,)))
    assert all(b["type"] != "actions" for b in plain["blocks"])
    paused = render_slack(ReportEvent(kind="sync_started", environment="production", services=(report,),
                                      extra={"awaiting": True}))
    actions = paused["blocks"][-1]
    assert [(e["action_id"], e["value"]) for e in actions["elements"]] == [
        (CONTINUE, "production|checkout"), (ROLLBACK, "production|checkout")]
    assert check_slack_message(paused) == []
