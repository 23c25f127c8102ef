"""Fault matrix, hostile webhook traffic against the daemon: 40 unauthenticated 24 MB posts, slow
clients and 200 concurrent connections. Figures: RSS growth, answers, connections reset."""
from __future__ import annotations

import socket
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from gitserver import GitDaemon, ManifestRepo  # noqa: E402
from test_daemon_helpers import DaemonProcess, synced  # noqa: E402
from test_notify_daemon_helpers import single_service_repo  # noqa: E402

pytestmark = pytest.mark.e2e
RSS_GROWTH_LIMIT_MB = 30
WEBHOOK_TOKEN = "right-token-0001"
SECRETS = [WEBHOOK_TOKEN]  # checked by conftest's scan after the test


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def unauthenticated_upload(port: int, results: list[str]) -> None:
    head = ("POST /webhook HTTP/1.1\r\nHost: x\r\nX-Gitlab-Event: Push Hook\r\nX-Gitlab-Token: wrong\r\n"
            f"Content-Length: {24 * 1024 * 1024}\r\n\r\n").encode()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            sock.sendall(head)
            try:
                sock.sendall(b"x" * (1024 * 1024))  # the server may already have answered and closed
            except OSError:
                pass
            results.append(sock.recv(64).decode(errors="replace").split(" ")[1])
    except OSError as exc:
        results.append(type(exc).__name__)


def test_hostile_webhook_traffic_is_bounded(sandbox, daemons, tmp_path: Path) -> None:
    with GitDaemon(tmp_path / "srv") as server:
        repo = ManifestRepo.create(tmp_path / "srv", "manifests", tmp_path / "work")
        sha = single_service_repo(repo)
        d = DaemonProcess(tmp_path, "a", sandbox, server.url("manifests"), environment="staging",
                          webhook_gitlab_token=WEBHOOK_TOKEN)
        daemons.append(d.start())
        d.wait_for(synced("staging/web", commit=sha), "first sync")
        assert d.proc is not None
        before = rss_mb(d.proc.pid)

        results: list[str] = []
        threads = [threading.Thread(target=unauthenticated_upload, args=(d.port, results)) for _ in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert results.count("401") == 40, results
        growth = rss_mb(d.proc.pid) - before
        assert growth < RSS_GROWTH_LIMIT_MB, growth  # 24 MB bodies were never read

        connected: list[str] = []

        def connect() -> None:
            try:
                with socket.create_connection(("127.0.0.1", d.port), timeout=30) as sock:
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    connected.append(sock.recv(64).decode(errors="replace").split(" ")[1])
            except OSError as exc:
                connected.append(type(exc).__name__)

        threads = [threading.Thread(target=connect) for _ in range(200)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert connected.count("200") == 200, sorted(set(connected))  # none reset (backlog 128, 8 workers)
