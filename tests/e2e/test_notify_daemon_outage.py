"""A chat outage never delays a deployment: with Slack answering 500, refusing connections or hanging,
`reconciler run` still syncs, and the retries and drops show in /metrics."""
from __future__ import annotations

from pathlib import Path

import pytest
from gitserver import GitDaemon, ManifestRepo, free_port
from test_daemon_helpers import daemons, set_image, synced  # noqa: F401 - fixtures
from test_notify_daemon_helpers import Gate, chat_daemon, metric, notify_config, single_service_repo
from test_notify_delivery import HOOK_PATH, receiver  # noqa: F401 - fixture

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("outage", ["http-500", "refused", "hangs"])
def test_chat_outage_does_not_delay_a_sync(outage: str, sandbox, receiver, daemons, tmp_path: Path) -> None:
    gate = None
    hook_url = None
    if outage == "http-500":
        receiver.script[HOOK_PATH] = [(500, {}, b"internal error")] * 100
    elif outage == "refused":
        hook_url = f"http://127.0.0.1:{free_port()}{HOOK_PATH}"  # nothing listens there
    else:
        gate = Gate(receiver)
    config = notify_config(tmp_path, receiver, hook_url=hook_url, api=False, maxAttempts=2, timeoutSeconds=2)
    with GitDaemon(tmp_path / "srv") as server:
        repo = ManifestRepo.create(tmp_path / "srv", "manifests", tmp_path / "work")
        single_service_repo(repo)
        set_image(repo, "staging", "web", "1.5.0")
        sha = repo.commit("web 1.5.0 while chat is down")
        d = chat_daemon(tmp_path, "a", sandbox, server.url("manifests"), config, environment="staging",
                        poll_interval="0.2")
        daemons.append(d.start())
        doc = d.wait_for(synced("staging/web", commit=sha), "synced during the chat outage")
        assert d.service(doc, "staging/web")["history"][0]["status"] == "succeeded"
        if gate is not None:
            # The first report is still stuck in the receiver: the deployment did not wait for it.
            assert gate.arrived.acquire(timeout=10) and not receiver.requests
            gate.release()
        d.wait_for(lambda _: metric(d, "reconciler_notifications_dropped_total", reason="delivery_failed") >= 1,
                   "a dropped report counted")
        assert metric(d, "reconciler_notifications_total", outcome="retried") >= 1
        assert metric(d, "reconciler_notifications_total", outcome="delivered") == 0
        drops = [e for e in d.log_events() if e.get("event") == "notify_dropped"]
        assert drops and all(e["destination"] == "hook" and HOOK_PATH not in str(e) for e in drops)
