"""The webhook endpoint under hostile traffic: unauthenticated bodies are never read, oversize
bodies get 413, slow clients 408, deep JSON 400, and concurrency is bounded by the worker pool."""
from __future__ import annotations

import hashlib
import hmac
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from reconciler.daemon.http import Endpoints, HttpServer, Limits
from reconciler.daemon.metrics import Metrics
from reconciler.daemon.status import StatusBoard
from reconciler.daemon.wakeup import Wakeup
from reconciler.daemon.webhook import WebhookReceiver

SECRET = "gh-webhook-secret"


@pytest.fixture()
def server() -> Iterator[HttpServer]:
    receiver = WebhookReceiver(Wakeup(), "main", gitlab_token="tok1", github_secret=SECRET)
    srv = HttpServer("127.0.0.1", 0, Endpoints(StatusBoard(), Metrics(), receiver, lambda: (True, "ok")),
                     limits=Limits(max_body=64 * 1024, workers=2, socket_timeout=0.5, body_deadline=1.0))
    srv.start()
    yield srv
    srv.stop()


def raw(srv: HttpServer, head: str, body: bytes = b"", *, timeout: float = 5.0) -> tuple[int, float]:
    """Send a request (possibly with less body than announced); the status and when it came."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=timeout) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        reply = sock.recv(4096).decode(errors="replace")
    return int(reply.split(" ", 2)[1]), time.monotonic() - start


def post_head(length: int, **headers: str) -> str:
    lines = ["POST /webhook HTTP/1.1", "Host: x", f"Content-Length: {length}"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    return "\r\n".join(lines) + "\r\n"


def test_unauthenticated_body_is_never_read(server: HttpServer) -> None:
    # 24 MB announced, none sent: refused from the headers alone, at once.
    status, took = raw(server, post_head(24_000_000, X_Gitlab_Event="Push Hook", X_Gitlab_Token="wrong"))
    assert status == 401 and took < 0.4
    status, took = raw(server, post_head(24_000_000, X_GitHub_Event="push"))  # no signature
    assert status == 401 and took < 0.4
    status, _ = raw(server, post_head(10, X_Unknown="1"))
    assert status == 404


def test_oversize_authenticated_body_is_413_before_reading(server: HttpServer) -> None:
    status, took = raw(server, post_head(65 * 1024, X_Gitlab_Event="Push Hook", X_Gitlab_Token="tok1"))
    assert status == 413 and took < 0.4


def test_slow_clients_get_408(server: HttpServer) -> None:
    head = post_head(100, X_Gitlab_Event="Push Hook", X_Gitlab_Token="tok1")
    status, took = raw(server, head, b"{")  # 99 bytes never come
    assert status == 408 and took < 3
    status, _ = raw(server, "POST /webhook HTTP/1.1\r\nHost: x\r\nX-Gitlab-Event: Push")  # headers never end
    assert status == 408


def test_deeply_nested_json_is_a_400(server: HttpServer) -> None:
    body = b"[" * 200_000 + b"]" * 200_000
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    head = post_head(len(body), X_GitHub_Event="push", X_Hub_Signature_256=signature, X_GitHub_Delivery="d1")
    server._server.limits = Limits(max_body=1_000_000, workers=2, socket_timeout=0.5, body_deadline=1.0)
    status, _ = raw(server, head, body)
    assert status == 400


def test_workers_are_bounded_and_the_backlog_waits(server: HttpServer) -> None:
    """Two slow clients take both workers; a third waits in the backlog and is served after them."""
    slow = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(2)]
    for sock in slow:
        sock.sendall(post_head(100, X_Gitlab_Event="Push Hook", X_Gitlab_Token="tok1").encode() + b"\r\n{")
    time.sleep(0.1)  # let both workers pick them up
    assert threading.active_count() <= 2 + 8  # no thread per queued connection
    status, took = raw(server, "GET /healthz HTTP/1.1\r\nHost: x\r\n")
    assert status == 200 and took >= 0.3  # served once a worker was free again (408 to the slow ones)
    for sock in slow:
        assert b"408" in sock.recv(4096)
        sock.close()
