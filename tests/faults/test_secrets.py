"""Fault matrix, secrets: a git token given as the URL's user, webhook secrets and chat credentials
appear 0 times in logs, /status, /metrics, chat payloads, the cached git config or the process
arguments, also after rejected webhooks and a git outage."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from gitserver import GitHttpServer, ManifestRepo  # noqa: E402
from test_daemon_helpers import synced  # noqa: E402
from test_notify_daemon_helpers import chat_daemon, notify_config, single_service_repo  # noqa: E402
from test_notify_delivery import HOOK_PATH, TOKEN, receiver  # noqa: E402, F401 - fixture

pytestmark = pytest.mark.e2e
GIT_TOKEN = "ghp_FaultMatrixGitToken0001"
GITLAB_SECRET = "gitlab-hook-secret-0002"
GITHUB_SECRET = "github-hook-secret-0003"
SECRETS = [GIT_TOKEN, GITLAB_SECRET, GITHUB_SECRET]  # also checked by conftest's scan after the test


def test_no_configured_secret_reaches_any_output(sandbox, receiver, daemons, tmp_path: Path) -> None:
    secrets = (GIT_TOKEN, GITLAB_SECRET, GITHUB_SECRET, HOOK_PATH.rsplit("/", 1)[-1], TOKEN)
    with GitHttpServer(tmp_path / "srv", username="x-access-token", password=GIT_TOKEN) as server:
        repo = ManifestRepo.create(tmp_path / "srv", "m.git", tmp_path / "work")
        sha = single_service_repo(repo)
        url = server.url("m.git").replace("http://", f"http://{GIT_TOKEN}@")
        d = chat_daemon(tmp_path, "a", sandbox, url, notify_config(tmp_path, receiver, api=True),
                        environment="staging", poll_interval="0.2", drift_interval="0.5",
                        webhook_gitlab_token=GITLAB_SECRET, webhook_github_secret=GITHUB_SECRET)
        daemons.append(d.start())
        d.wait_for(synced("staging/web", commit=sha), "first sync through the token in the URL", deadline=90)
        assert d.post("/webhook", b"{}", {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "wrong"}) == 401
        assert d.post("/webhook", b"{}", {"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + "0" * 64}) == 401
        server.stop()  # git down: errors are logged and reported
        d.wait_for(lambda s: "git" in s["degraded"], "git outage reported")
        server.start()
        d.wait_for(lambda s: not s["degraded"], "git back")
        receiver.wait_for(2)

        outputs = {
            "log": d.log_path.read_text(errors="replace"),
            "status": str(d.get("/status")[1]),
            "metrics": d.get("/metrics")[1],
            "chat": "\n".join(r.body.decode(errors="replace") + r.path for r in receiver.requests
                              if not r.path.startswith(HOOK_PATH)) + "".join(
                r.body.decode(errors="replace") for r in receiver.requests),
            "cmdline": Path(f"/proc/{d.proc.pid}/cmdline").read_bytes().decode(errors="replace"),
        }
        cache = tmp_path / "a-cache"
        for path in cache.rglob("*"):
            if path.is_file() and "/snapshots/" not in str(path) and "/objects/" not in str(path):
                outputs[str(path.relative_to(cache))] = path.read_text(errors="replace")
        assert "repo/.git/config" in outputs
        found = {(name, s[:6]) for name, text in outputs.items() for s in secrets if s in text}
        assert found == set(), found
        [configured] = [e for e in d.log_events() if e.get("event") == "daemon_configured"]
        assert configured["git_url"].startswith("http://***@127.0.0.1:"), configured


def test_the_matrix_scan_finds_a_leaked_secret(tmp_path: Path) -> None:
    """conftest's scan is not vacuous: a secret in a log or the git config is found."""
    from types import SimpleNamespace

    from conftest import chat_findings, secret_findings

    (tmp_path / "cache" / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "cache" / "repo" / ".git" / "config").write_text(f"url = https://{GIT_TOKEN}@host/r.git\n")
    (tmp_path / "d.log").write_text(f'{{"event": "x", "token": "{TOKEN}"}}\n')
    fake = SimpleNamespace(log_path=tmp_path / "d.log", proc=None, env={"RECONCILER_CACHE_DIR": str(tmp_path / "cache")})
    assert secret_findings(fake, [GIT_TOKEN, TOKEN, GITLAB_SECRET]) == {("log", TOKEN[:6]),
                                                                          ("repo/.git/config", GIT_TOKEN[:6])}
    chat = [SimpleNamespace(path=HOOK_PATH, body=b'{"text": "deployed"}'),
            SimpleNamespace(path="/api/chat.postMessage", body=f'{{"text": "{GITLAB_SECRET}"}}'.encode())]
    assert chat_findings(chat, [GIT_TOKEN, TOKEN, GITLAB_SECRET, HOOK_PATH.rsplit("/", 1)[-1]]) == {
        ("chat", GITLAB_SECRET[:6])}  # the webhook's own URL is not a leak; a secret in a body is
