"""`reconciler run` reporting a sync through slack_sdk to a local Slack stand-in: incoming webhook and
Web API (parent, thread reply, chat.update), and a 429 with Retry-After honoured mid-run."""
from __future__ import annotations

from pathlib import Path

import pytest
from gitserver import GitDaemon, ManifestRepo
from test_daemon_helpers import DaemonProcess, daemons, set_image, synced  # noqa: F401 - fixtures
from test_notify_daemon_helpers import (
    SLACK_CHANNEL,
    about,
    api,
    chat_daemon,
    hook,
    metric,
    notify_config,
    single_service_repo,
)
from test_notify_delivery import HOOK_PATH, SECRETS, Receiver, Request, receiver  # noqa: F401 - fixture

pytestmark = pytest.mark.e2e


@pytest.fixture
def served(tmp_path: Path):
    with GitDaemon(tmp_path / "srv") as server:
        repo = ManifestRepo.create(tmp_path / "srv", "manifests", tmp_path / "work")
        single_service_repo(repo)
        yield server, repo


def _reported(rec: Receiver, sha: str) -> list[Request]:
    """The requests about commit `sha`, once its final "Synced" report reached the webhook and the Web
    API (parent and thread reply). Reports can lag the sync and, on a loaded machine, be merged."""
    mine = about(rec.wait_for(len(rec.requests)), sha)
    while not (any("— Synced" in m["text"] for m in hook(mine))
               and any("— Synced" in str(p.get("text", "")) for _, p in api(mine))
               and any("thread_ts" in p for _, p in api(mine))):
        mine = about(rec.wait_for(len(rec.requests) + 1, timeout=15), sha)
    return mine


def _first_sync(d: DaemonProcess, repo: ManifestRepo, rec: Receiver) -> int:
    """Synced and reported: nothing of the first commit is still on its way to the receiver."""
    d.wait_for(synced("staging/web", commit=repo.head()), "first sync")
    _reported(rec, repo.head())
    return len(rec.requests)


def test_sync_report_with_commit_author_and_image_in_both_slack_shapes(sandbox, served, receiver, daemons,
                                                                       tmp_path: Path) -> None:
    server, repo = served
    d = chat_daemon(tmp_path, "a", sandbox, server.url("manifests"), notify_config(tmp_path, receiver),
                    environment="staging", poll_interval="0.2")
    daemons.append(d.start())
    _first_sync(d, repo, receiver)
    set_image(repo, "staging", "web", "1.5.0")
    sha = repo.commit("web: roll out 1.5.0")
    d.wait_for(synced("staging/web", commit=sha), "second sync")
    # Started and succeeded, each to the webhook and the Web API (post, then update + thread reply). On a
    # loaded machine the two can reach the notifier's queue together and go out as one merged report.
    mine = _reported(receiver, sha)

    hooked = hook(mine)
    kinds = [m["text"].split(":", 2)[1] for m in hooked]
    assert kinds in (["arrows_counterclockwise", "white_check_mark"], ["white_check_mark"]), kinds
    done = hooked[-1]
    assert done["text"].startswith(":white_check_mark: [staging] web — Synced")
    assert f"`{sha[:8]}` web: roll out 1.5.0 — by Test Author" in done["text"]
    body = "\n".join(b["text"]["text"] for b in done["blocks"] if b["type"] == "section" and "text" in b)
    assert "image web: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1.4.2` → " \
           "`123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1.5.0`" in body

    calls = api(mine)
    parent = calls[0][1]
    ts = receiver_ts(receiver, parent)
    assert calls[0][0] == "chat.postMessage" and "thread_ts" not in parent and parent["channel"] == SLACK_CHANNEL
    if len(kinds) == 2:  # separate reports: the parent said "started" and is updated in place
        assert [(m, "thread_ts" in p) for m, p in calls] == [("chat.postMessage", False), ("chat.update", False),
                                                             ("chat.postMessage", True)]
        assert "Sync started" in parent["text"]
        update = calls[1][1]
        assert update["ts"] == ts and update["text"].startswith(":white_check_mark: [staging] web — Synced")
    else:
        assert [(m, "thread_ts" in p) for m, p in calls] == [("chat.postMessage", False), ("chat.postMessage", True)]
        assert parent["text"].startswith(":white_check_mark: [staging] web — Synced")
    reply = calls[-1][1]
    assert reply["thread_ts"] == ts and "web:1.5.0" in str(reply["blocks"])
    assert all(s not in d.log_path.read_text() for s in SECRETS)


def receiver_ts(rec: Receiver, parent: dict) -> str:
    """The ts the receiver answered to `parent` (its N-th chat.postMessage)."""
    posts = [r.json() for r in rec.requests if r.path == "/api/chat.postMessage"]
    return f"1700000000.{posts.index(parent) + 1:06d}"


def test_429_with_retry_after_is_waited_for_and_delivered(sandbox, served, receiver, daemons,
                                                          tmp_path: Path) -> None:
    server, repo = served
    # Backoff alone would wait 60 s: delivery within the wait proves Retry-After (1 s) was used.
    config = notify_config(tmp_path, receiver, backoffSeconds=60, maxBackoffSeconds=60)
    d = chat_daemon(tmp_path, "a", sandbox, server.url("manifests"), config, environment="staging",
                    poll_interval="0.2")
    daemons.append(d.start())
    n = _first_sync(d, repo, receiver)
    limited = (429, {"Retry-After": "1", "Content-Type": "application/json"}, b'{"ok":false,"error":"ratelimited"}')
    receiver.script[HOOK_PATH] = [(429, {"Retry-After": "1"}, b"rate_limited")]
    receiver.script["/api/chat.postMessage"] = [limited]
    set_image(repo, "staging", "web", "1.5.0")
    sha = repo.commit("web 1.5.0 while Slack rate-limits")
    d.wait_for(synced("staging/web", commit=sha), "sync")
    mine = about(receiver.wait_for(n), sha)
    # Until the final "Synced" report reached both destinations. Reports queued during the 1 s wait may
    # be merged into one batch (started + succeeded), so the number of messages is not fixed.
    while not (any("— Synced" in m["text"] for m in hook(mine))
               and any("— Synced" in str(p.get("text", "")) for _, p in api(mine))):
        mine = about(receiver.wait_for(len(receiver.requests) + 1, timeout=15), sha)
    hooked = [r for r in mine if r.path == HOOK_PATH]
    assert hooked[0].body == hooked[1].body  # the rate-limited message, sent again
    calls = api(mine)
    assert [m for m, _ in calls[:2]] == ["chat.postMessage", "chat.postMessage"]
    assert calls[0][1] == calls[1][1]  # the rate-limited parent, sent again
    assert metric(d, "reconciler_notifications_total", outcome="retried") == 2
    assert metric(d, "reconciler_notifications_total", outcome="dropped_failed") == 0
    assert metric(d, "reconciler_notifications_dropped_total", reason="delivery_failed") == 0
