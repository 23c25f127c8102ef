"""Drift reported to Slack once by `reconciler run`: across many drift scans, and across a restart
(the notifier's dedup keys live in the DynamoDB state table)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from gitserver import GitDaemon, ManifestRepo
from test_daemon_helpers import LEASE_TABLE, DaemonProcess, create_state_table, daemons, synced  # noqa: F401
from test_notify_daemon_helpers import api, chat_daemon, hook, metric, notify_config, single_service_repo
from test_notify_delivery import receiver  # noqa: F401 - fixture

pytestmark = pytest.mark.e2e
KEY = "production/web"


def drift_messages(requests) -> tuple[int, int]:
    """(webhook messages, Web API channel posts) reporting drift."""
    posts = [p for m, p in api(requests) if m == "chat.postMessage" and "thread_ts" not in p]
    return (sum("Drift detected" in m["text"] for m in hook(requests)),
            sum("Drift detected" in p["text"] for p in posts))


def scans_after(d: DaemonProcess, n: int) -> None:
    """Wait until `n` more full cycles (drift scans) have completed."""
    start = metric(d, "reconciler_cycles_total", kind="full", result="ok")
    d.wait_for(lambda _: metric(d, "reconciler_cycles_total", kind="full", result="ok") >= start + n,
               f"{n} drift scans")


def test_drift_reported_once_across_scans_and_a_restart(sandbox, receiver, daemons, tmp_path: Path) -> None:
    create_state_table(sandbox)
    with GitDaemon(tmp_path / "srv") as server:
        repo = ManifestRepo.create(tmp_path / "srv", "manifests", tmp_path / "work")
        single_service_repo(repo, "production", "web")  # production: automated, selfHeal off
        config = notify_config(tmp_path, receiver)
        settings = dict(environment="production", state_table=LEASE_TABLE, drift_interval="0.2",
                        lease_renew_interval="0.5")
        a = chat_daemon(tmp_path, "a", sandbox, server.url("manifests"), config, **settings)
        daemons.append(a.start())
        a.wait_for(synced(KEY, commit=repo.head()), "first sync")
        sandbox.client("ecs").update_service(cluster="production", service="web", desiredCount=5)
        a.wait_for(lambda s: "service/desiredCount" in a.service(s, KEY).get("drift", []), "drift seen")
        scans_after(a, 4)
        assert drift_messages(receiver.requests) == (1, 1)
        text = json.dumps([r.json() for r in receiver.requests if "Drift detected" in r.body.decode()],
                          ensure_ascii=False)
        assert "live `5` → git `2`" in text and "report only" in text
        code, _ = a.terminate()
        assert code == 0

        b = chat_daemon(tmp_path, "b", sandbox, server.url("manifests"), config, **settings)
        daemons.append(b.start())
        b.wait_for(lambda s: s.get("leader") is True and "service/desiredCount" in b.service(s, KEY).get("drift", []),
                   "restarted daemon sees the same drift")
        scans_after(b, 4)
        # The new process found the drift and emitted it; the durable dedup store swallowed it.
        assert any(e.get("event") == "drift_detected" for e in b.log_events())
        assert metric(b, "reconciler_notifications_total", outcome="deduplicated") >= 1
        assert drift_messages(receiver.requests) == (1, 1)
