"""Delivery end to end: a real HTTP receiver on 127.0.0.1 stands in for Slack
(incoming webhook and Web API), Teams and a generic signed webhook."""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from structlog.testing import capture_logs

from reconciler.notify import InMemoryThreadStore, Notifier, RetryPolicy, Route
from reconciler.notify.destinations import GenericWebhookDestination, TeamsDestination
from reconciler.notify.samples import COMMIT, event, many_services, service
from reconciler.notify.slack_delivery import SlackApiDestination, SlackWebhookDestination

pytestmark = pytest.mark.e2e
HOOK_PATH = "/services/T000/B000/sekritWebhookPath42"
TOKEN = "xoxb-1234-e2e-secret-token"
HMAC_SECRET = "e2e-hmac-shared-secret"
SECRETS = (HOOK_PATH, TOKEN, HMAC_SECRET)
Reply = tuple[int, dict[str, str], bytes]


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records every POST; `script[path]` holds replies to use first, then the default."""

    port: int = 0
    requests: list[Request] = field(default_factory=list)
    script: dict[str, list[Reply]] = field(default_factory=dict)
    cond: threading.Condition = field(default_factory=threading.Condition)
    ts_counter: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_for(self, n: int, timeout: float = 10.0) -> list[Request]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.requests) >= n, timeout), self.requests
            return list(self.requests)

    def reply(self, req: Request) -> Reply:
        scripted = self.script.get(req.path)
        if scripted:
            return scripted.pop(0)
        if req.path.startswith("/api/"):
            payload = req.json()
            if req.path == "/api/chat.postMessage":
                with self.cond:
                    self.ts_counter += 1
                    ts = f"1700000000.{self.ts_counter:06d}"
                return _json({"ok": True, "channel": "C0CHANNEL", "ts": ts})
            return _json({"ok": True, "channel": payload["channel"], "ts": payload["ts"]})
        if req.path == "/generic":
            want = "sha256=" + hmac.new(HMAC_SECRET.encode(), req.body, hashlib.sha256).hexdigest()
            ok = hmac.compare_digest(req.headers.get("X-Signature-256", ""), want)
            return (200, {}, b"ok") if ok else (401, {}, b"bad signature")
        return 202 if req.path == "/teams" else 200, {}, b"ok"


def _json(payload: dict[str, Any]) -> Reply:
    return 200, {"Content-Type": "application/json"}, json.dumps(payload).encode()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server API
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            req = Request(self.path, dict(self.headers.items()), body)
            status, headers, data = rec.reply(req)
            with rec.cond:
                rec.requests.append(req)
                rec.cond.notify_all()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()


@dataclass
class Logs:
    """Everything logged: call it for the text (structlog events and stdlib records, DEBUG included)."""

    events: list[dict[str, Any]]
    caplog: pytest.LogCaptureFixture

    def __call__(self) -> str:
        return json.dumps(self.events, default=str) + self.caplog.text

    def retry_delays(self) -> list[float]:
        """The waits the notifier chose before each retry."""
        return [e["delay_seconds"] for e in self.events if e.get("event") == "notify_retry"]


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[Logs]:
    caplog.set_level(logging.DEBUG)
    with capture_logs() as captured:
        yield Logs(captured, caplog)


def notifier(dest: Any, **kw: Any) -> Notifier:
    kw.setdefault("retry", RetryPolicy(max_attempts=3, backoff_seconds=0.05, max_backoff_seconds=5))
    return Notifier({dest.name: dest}, [Route(destinations=(dest.name,))], **kw)


def test_slack_webhook_sync_report_with_commit_author_and_image(receiver: Receiver) -> None:
    n = notifier(SlackWebhookDestination("hook", receiver.url(HOOK_PATH)))
    n.emit(event("sync_succeeded"))
    assert n.close(10)
    (req,) = receiver.wait_for(1)
    assert req.path == HOOK_PATH
    text = req.body.decode()
    body = req.json()
    assert body["text"].startswith(":white_check_mark: [prod] orders — Synced")
    assert f"<{COMMIT.url}|`3f9c2a71`>" in text and "Jane Doe" in text
    assert "registry.example.com/orders:1.4.1` → `registry.example.com/orders:1.4.2" in body["blocks"][2]["text"]["text"]


def test_slack_webhook_429_retry_after_is_retried_once_then_delivered(receiver: Receiver, logs) -> None:
    receiver.script[HOOK_PATH] = [(429, {"Retry-After": "1"}, b"rate_limited")]
    # Backoff alone would wait an hour: the wait chosen (and delivery at all) proves Retry-After was used.
    n = notifier(SlackWebhookDestination("hook", receiver.url(HOOK_PATH)),
                 retry=RetryPolicy(max_attempts=3, backoff_seconds=3600, max_backoff_seconds=3600))
    n.emit(event("sync_failed"))
    assert n.flush(60)  # a bound for a loaded machine, not a speed check
    assert logs.retry_delays() == [1.0]
    assert len(receiver.wait_for(2)) == 2
    s = n.stats.snapshot()
    assert (s["retried"], s["delivered"], n.stats.dropped) == (1, 1, 0)
    assert receiver.requests[0].body == receiver.requests[1].body
    n.close()
    assert not any(secret in logs() for secret in SECRETS)


def test_web_api_one_parent_thread_replies_and_updates(receiver: Receiver) -> None:
    threads = InMemoryThreadStore()
    dest = SlackApiDestination("bot", TOKEN, "#deploys", threads, base_url=receiver.url("/api/"))
    n = notifier(dest)
    n.emit(many_services("sync_started", n=30))
    assert n.flush(10)
    first = receiver.wait_for(4)
    parent, *replies = first
    assert parent.path == "/api/chat.postMessage" and "thread_ts" not in parent.json()
    assert parent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert parent.json()["channel"] == "#deploys" and "30 services" in parent.json()["text"]
    assert [r.json()["thread_ts"] for r in replies] == ["1700000000.000001"] * 3
    assert all(r.json()["channel"] == "C0CHANNEL" for r in replies)  # the channel ID Slack returned
    details = "".join(r.body.decode() for r in replies)
    assert all(f"*svc-{i:02d}*" in details for i in range(30))
    n.close()

    # A restarted daemon (same persisted thread store) keeps the same thread.
    n2 = notifier(SlackApiDestination("bot", TOKEN, "#deploys", threads, base_url=receiver.url("/api/")))
    n2.emit(many_services("sync_succeeded", n=30))
    assert n2.close(10)
    later = receiver.requests[4:]
    assert later[0].path == "/api/chat.update"
    assert later[0].json()["ts"] == "1700000000.000001" and later[0].json()["channel"] == "C0CHANNEL"
    assert "30 succeeded" in later[0].body.decode()
    assert {r.json().get("thread_ts") for r in later[1:]} == {"1700000000.000001"}


def test_web_api_single_service_progress_goes_to_thread(receiver: Receiver) -> None:
    dest = SlackApiDestination("bot", TOKEN, "C0CHANNEL", InMemoryThreadStore(), base_url=receiver.url("/api/"))
    n = notifier(dest)
    n.emit(event("sync_started"))
    n.emit(event("sync_failed"))
    assert n.close(10)
    paths = [(r.path, r.json().get("thread_ts")) for r in receiver.wait_for(3)]
    assert paths == [("/api/chat.postMessage", None), ("/api/chat.update", None),
                     ("/api/chat.postMessage", "1700000000.000001")]
    assert "stopped: Essential container in task exited" in receiver.requests[2].body.decode()


def test_web_api_429_then_ok(receiver: Receiver, logs) -> None:
    receiver.script["/api/chat.postMessage"] = [
        (429, {"Retry-After": "1", "Content-Type": "application/json"}, b'{"ok":false,"error":"ratelimited"}')]
    n = notifier(SlackApiDestination("bot", TOKEN, "C0CHANNEL", InMemoryThreadStore(), base_url=receiver.url("/api/")),
                 retry=RetryPolicy(max_attempts=3, backoff_seconds=3600, max_backoff_seconds=3600))
    n.emit(event("drift_detected"))
    assert n.flush(60)  # a bound for a loaded machine, not a speed check
    assert logs.retry_delays() == [1.0]
    assert [r.path for r in receiver.wait_for(2)] == ["/api/chat.postMessage"] * 2
    assert n.stats.snapshot()["delivered"] == 1
    n.close()
    assert not any(secret in logs() for secret in SECRETS)


def test_generic_webhook_signature_verified_by_receiver(receiver: Receiver) -> None:
    n = notifier(GenericWebhookDestination("generic", receiver.url("/generic"), secret=HMAC_SECRET))
    n.emit(event("manifest_invalid"))
    assert n.close(10)
    (req,) = receiver.wait_for(1)
    assert req.headers["X-Signature-256"].startswith("sha256=")
    assert n.stats.snapshot()["delivered"] == 1  # the receiver answered 401 on a bad signature
    assert req.json()["issues"][0].startswith("prod/orders/service.yaml:12:")
    assert req.headers["X-Reconciler-Event"] == "manifest_invalid"


def test_generic_webhook_wrong_secret_is_rejected_and_not_retried(receiver: Receiver) -> None:
    n = notifier(GenericWebhookDestination("generic", receiver.url("/generic"), secret="not-the-secret"))
    n.emit(event("sync_started"))
    assert n.close(10)
    assert len(receiver.wait_for(1)) == 1
    assert n.stats.snapshot()["dropped_failed"] == 1


def test_teams_workflow_receives_adaptive_card(receiver: Receiver) -> None:
    n = notifier(TeamsDestination("teams", receiver.url("/teams")))
    n.emit(event("sync_rolled_back"))
    assert n.close(10)
    (req,) = receiver.wait_for(1)
    att = req.json()["attachments"][0]
    assert att["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert "AWS rolled back: yes" in json.dumps(att["content"], ensure_ascii=False)


def _refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed on exit: connecting is refused


def test_receiver_down_does_not_block_emit_and_drop_is_counted(logs) -> None:
    port = _refused_port()
    dropped = threading.Event()
    drops: list[tuple[str, str]] = []

    def on_drop(reason: str, dest: str) -> None:
        drops.append((reason, dest))
        if len(drops) == 3:
            dropped.set()

    n = notifier(SlackWebhookDestination("hook", f"http://127.0.0.1:{port}{HOOK_PATH}"), on_drop=on_drop,
                 retry=RetryPolicy(max_attempts=3, backoff_seconds=0.1, max_backoff_seconds=1))
    for kind in ("sync_started", "sync_succeeded", "drift_detected"):
        n.emit(event(kind))
    # emit only queued: each event needs ≥0.3 s of backoff before it can be dropped.
    assert n.stats.snapshot()["emitted"] == 3 and n.stats.dropped == 0
    assert dropped.wait(15)
    assert drops == [("delivery_failed", "hook")] * 3
    assert n.stats.snapshot()["retried"] == 6
    n.close()
    text = logs()
    assert "notify_dropped" in text and "Connection refused" in text
    assert not any(secret in text for secret in SECRETS)


def test_web_api_429_mid_thread_resumes_without_duplicates(receiver: Receiver) -> None:
    ok = _json({"ok": True, "channel": "C0CHANNEL", "ts": "1700000000.000009"})
    receiver.script["/api/chat.postMessage"] = [
        ok, ok, (429, {"Retry-After": "0"}, b'{"ok":false,"error":"ratelimited"}')]
    n = notifier(SlackApiDestination("bot", TOKEN, "C0CHANNEL", InMemoryThreadStore(), base_url=receiver.url("/api/")))
    n.emit(many_services("sync_started", n=30))  # parent + 3 replies; the 2nd reply hits a 429
    assert n.close(10)
    reqs = receiver.wait_for(5)
    bodies = [r.body for r in reqs]
    assert bodies[2] == bodies[3]  # only the rate-limited reply was sent again
    assert len(bodies) == 5 and len(set(bodies)) == 4
    assert n.stats.snapshot()["retried"] == 1


def test_web_api_commit_in_waves_updates_one_parent_with_the_whole_commit(receiver: Receiver) -> None:
    """RegisterTaskDefinition pacing delivers a big commit in waves: every wave edits the one parent
    to sum up ALL services so far, and adds only its own services' details to the thread."""
    from reconciler.events import ReportEvent

    def wave(names: list[str]) -> list[ReportEvent]:
        return [ReportEvent(kind=kind, environment="prod", commit=COMMIT, services=(service(n),))
                for kind in ("sync_started", "sync_succeeded") for n in names]

    dest = SlackApiDestination("bot", TOKEN, "C0CHANNEL", InMemoryThreadStore(), base_url=receiver.url("/api/"))
    n = notifier(dest, batch_seconds=3600.0, clock=lambda: 0.0)  # frozen clock: flush ends each wave
    first, second = [f"svc-{i:02d}" for i in range(20)], [f"svc-{i:02d}" for i in range(20, 30)]
    for ev in wave(first):
        n.emit(ev)
    assert n.flush(10)
    seen = len(receiver.requests)
    for ev in wave(second):
        n.emit(ev)
    assert n.close(10)

    later = [(r.path, r.json()) for r in receiver.requests[seen:]]
    early = [(r.path, r.json().get("thread_ts")) for r in receiver.requests[:seen]]
    assert early == [("/api/chat.postMessage", None)] + [("/api/chat.postMessage", "1700000000.000001")] * 2
    assert later[0][0] == "/api/chat.update" and later[0][1]["ts"] == "1700000000.000001"
    assert later[0][1]["text"].startswith(":white_check_mark: [prod] 30 services — Synced")
    assert "30 succeeded" in json.dumps(later[0][1]["blocks"])
    replies = json.dumps([body for path, body in later[1:] if body.get("thread_ts") == "1700000000.000001"])
    assert all(f"*{name}*" in replies for name in second)
    assert not any(f"*{name}*" in replies for name in first)  # wave 1's details are not repeated
