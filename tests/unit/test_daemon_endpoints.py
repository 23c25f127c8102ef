"""HTTP endpoints, readiness, the loop scheduler, SQS consumer, config and health mapping."""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from reconciler.aws.errors import AwsError
from reconciler.aws.sqs import QueueMessage
from reconciler.commands.status import render_text
from reconciler.daemon.config import ConfigError, DaemonConfig
from reconciler.daemon.health import service_health
from reconciler.daemon.http import Endpoints, HttpServer
from reconciler.daemon.leader import Leadership
from reconciler.daemon.loop import CycleResult
from reconciler.daemon.metrics import Metrics
from reconciler.daemon.runner import Daemon
from reconciler.daemon.sqs_consumer import SqsConsumer
from reconciler.daemon.status import StatusBoard
from reconciler.daemon.wakeup import Wakeup
from reconciler.daemon.webhook import WebhookReceiver

PAYLOADS = Path(__file__).resolve().parents[1] / "fixtures" / "payloads"


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_http_endpoints() -> None:
    board, metrics, wakeup = StatusBoard(), Metrics(), Wakeup()
    board.update("staging", "web", sync="Synced", health="Healthy")
    ready = [False]
    server = HttpServer("127.0.0.1", 0, Endpoints(board, metrics, WebhookReceiver(wakeup, "main", gitlab_token="tok1"),
                                                  lambda: (ready[0], "why"), lambda: {"leader": True}))
    server.start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        assert get(base + "/healthz")[0] == 200
        assert get(base + "/readyz") == (503, json.dumps({"ready": False, "reason": "why"}).encode())
        ready[0] = True
        assert get(base + "/readyz")[0] == 200
        code, body = get(base + "/status")
        doc = json.loads(body)
        assert code == 200 and doc["leader"] is True and doc["services"]["staging/web"]["sync"] == "Synced"
        metrics.set_service_counts(*board.counts())
        code, body = get(base + "/metrics")
        assert code == 200 and b'reconciler_services_sync{status="Synced"} 1.0' in body
        req = urllib.request.Request(base + "/webhook", data=(PAYLOADS / "gitlab-push-hook-docs.json").read_bytes(),
                                     headers={"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "tok1"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 200 and json.loads(resp.read())["status"] == "ignored"
        assert get(base + "/nope")[0] == 404
        assert b'reconciler_webhooks_total{status="200"} 1.0' in get(base + "/metrics")[1]
    finally:
        server.stop()


class OneCycle:
    """A reconciler stand-in: records cycles, lets the test stop the daemon from inside."""

    def __init__(self) -> None:
        self.calls: list[bool] = []
        self.daemon: Daemon | None = None

    def cycle(self, *, full: bool) -> CycleResult:
        self.calls.append(full)
        if len(self.calls) == 2 and self.daemon is not None:
            self.daemon.request_stop()
        return CycleResult(full=full, ok=True)


def test_daemon_first_cycle_full_then_trigger_cycle_and_clean_shutdown() -> None:
    rec, wakeup = OneCycle(), Wakeup()
    leadership = Leadership(None)
    now = [0.0]
    cycles: list[CycleResult] = []

    def on_cycle(result: CycleResult, started: float) -> None:
        cycles.append(result)
        wakeup.notify("webhook")  # the next cycle runs without waiting for the 1000 s poll

    daemon = Daemon(rec, wakeup, leadership, poll_interval=1000, drift_interval=5000,  # type: ignore[arg-type]
                    clock=lambda: now[0], on_cycle=on_cycle)
    rec.daemon = daemon
    assert daemon.ready() == (False, "no reconcile cycle completed yet")
    thread = threading.Thread(target=daemon.loop)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    assert rec.calls == [True, False]  # first full; the webhook cycle only checks git
    assert len(cycles) == 2
    assert daemon.ready() == (False, "shutting down")
    assert daemon.shutdown() == 0


class FakeQueue:
    def __init__(self, bodies: list[str]) -> None:
        self.messages = [QueueMessage(f"m{i}", b, f"r{i}") for i, b in enumerate(bodies)]
        self.deleted: list[str] = []

    def receive(self, wait_seconds: int = 20, max_messages: int = 10) -> list[QueueMessage]:
        out, self.messages = self.messages, []
        return out

    def delete(self, receipt_handle: str) -> None:
        self.deleted.append(receipt_handle)


def test_sqs_deletes_only_after_a_later_cycle_completed() -> None:
    event = json.loads((PAYLOADS / "codecommit-eventbridge-referenceUpdated-awsdocs.json").read_text())
    other = json.loads(json.dumps(event))
    other["detail"]["referenceName"] = "feature"
    queue, wakeup = FakeQueue([json.dumps(event), json.dumps(other), "not json"]), Wakeup()
    t = [10.0]
    consumer = SqsConsumer(queue, wakeup, "myBranch", Metrics(), repository="MyDemoRepo", monotonic=lambda: t[0])
    assert consumer.poll_once() == 1
    assert queue.deleted == ["r1"]             # another branch: handled by ignoring it
    reasons, hints = wakeup.wait(0)
    assert reasons == ["sqs"] and hints[0].repository == "MyDemoRepo"
    consumer.handled(cycle_started=9.0)        # a cycle that began before the message: not handled yet
    assert queue.deleted == ["r1"]
    consumer.handled(cycle_started=11.0)
    assert queue.deleted == ["r1", "r0"]       # "not json" stays for the DLQ


def test_leadership_without_table_is_always_leader_and_tolerates_errors() -> None:
    assert Leadership(None).is_leader()

    class Broken:
        holder = "x"

        def held(self, safety: float = 0.0) -> bool:
            return False

        def acquire(self) -> bool:
            raise AwsError("down", service="dynamodb", action="PutItem")

        renew = acquire

        def release(self) -> None:
            raise AwsError("down")

    lead = Leadership(Broken())  # type: ignore[arg-type]
    lead.tick()
    assert not lead.is_leader() and not lead.contact_ok
    lead.stop()  # a failed release is logged, not raised


def test_config_env_file_precedence_and_validation(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("poll_interval: 30\nRECONCILER_GIT_BRANCH: prod\nnotifications: {destinations: {}}\n")
    cfg = DaemonConfig.load({"RECONCILER_CONFIG_FILE": str(path), "RECONCILER_GIT_URL": "git://h/r",
                             "RECONCILER_POLL_INTERVAL": "5", "RECONCILER_APPLY_WAIT": "false"})
    assert (cfg.poll_interval, cfg.git_branch, cfg.apply_wait) == (5.0, "prod", False)
    assert cfg.notifications == {"destinations": {}}
    with pytest.raises(ConfigError, match="GIT_URL"):
        DaemonConfig.load({})
    with pytest.raises(ConfigError, match="KNOWN_HOSTS"):
        DaemonConfig.load({"RECONCILER_GIT_URL": "ssh://g/r", "RECONCILER_GIT_SSH_KEY_FILE": "/k"})
    with pytest.raises(ConfigError, match="RECONCILER_POLL_INTERVAL"):
        DaemonConfig.load({"RECONCILER_GIT_URL": "x", "RECONCILER_POLL_INTERVAL": "soon"})
    path.write_text("pol_interval: 3\n")
    with pytest.raises(ConfigError, match="pol_interval"):
        DaemonConfig.load({"RECONCILER_CONFIG_FILE": str(path), "RECONCILER_GIT_URL": "x"})


@pytest.mark.parametrize("svc,expected", [
    (None, "Missing"),
    ({"status": "ACTIVE", "desiredCount": 2, "runningCount": 2,
      "deployments": [{"status": "PRIMARY", "rolloutState": "COMPLETED"}]}, "Healthy"),
    ({"status": "ACTIVE", "desiredCount": 2, "runningCount": 1,
      "deployments": [{"status": "PRIMARY", "rolloutState": "IN_PROGRESS"}, {"status": "ACTIVE"}]}, "Progressing"),
    ({"status": "ACTIVE", "desiredCount": 2, "runningCount": 0,
      "deployments": [{"status": "PRIMARY", "rolloutState": "FAILED"}]}, "Degraded"),
    ({"status": "ACTIVE", "desiredCount": 2, "runningCount": 0, "pendingCount": 0,
      "deployments": [{"status": "PRIMARY", "rolloutState": "COMPLETED"}]}, "Degraded"),
    ({"status": "ACTIVE", "desiredCount": 2, "runningCount": 2, "taskSets": [{"status": "PRIMARY"},
                                                                                  {"status": "ACTIVE"}]}, "Progressing"),
])
def test_health_mapping(svc, expected) -> None:
    assert service_health(svc) == expected


def test_status_text_rendering() -> None:
    doc = {"commit": {"sha": "abcdef0123456789", "title": "bump"}, "leader": True, "cycles": 3,
           "degraded": {"git": "git unreachable"}, "manifestIssues": ["a.yaml:1: $: bad"],
           "services": {"staging/web": {"sync": "OutOfSync", "health": "Healthy", "lastAppliedCommit": None,
                                        "lastError": None, "reason": "changed outside git"}}}
    text = render_text(doc)
    assert "abcdef01  bump" in text and "DEGRADED git: git unreachable" in text
    assert "staging/web" in text and "changed outside git" in text and "INVALID  a.yaml:1: $: bad" in text


@pytest.mark.parametrize("body", ['{"Records": ["x"]}', '{"detail-type": "CodeCommit Repository State Change", '
                                  '"detail": "s"}', '["a list"]'])
def test_sqs_message_of_an_unexpected_shape_is_skipped_and_the_consumer_goes_on(body: str) -> None:
    event = (PAYLOADS / "codecommit-eventbridge-referenceUpdated-awsdocs.json").read_text()
    queue, wakeup = FakeQueue([body, event]), Wakeup()
    consumer = SqsConsumer(queue, wakeup, "myBranch", Metrics(), repository="MyDemoRepo")
    assert consumer.poll_once() == 1           # the good message after the odd one still wakes the loop
    assert wakeup.wait(0)[0] == ["sqs"]
