"""The daemon's HTTP endpoints: /healthz /readyz /metrics /status and POST /webhook.

stdlib ThreadingHTTPServer: a handful of requests per minute needs no framework,
and each request is answered from in-memory state without waiting on a cycle.
Bounded against hostile traffic (docs/reliability.md): at most `Limits.workers` requests
in flight (more wait in a `BACKLOG`-deep listen queue), a socket timeout and a
whole-body deadline (408), the webhook's token or signature header checked before
the body is read, and a body limit (413).
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from reconciler.daemon.metrics import Metrics
from reconciler.daemon.status import StatusBoard
from reconciler.daemon.webhook import WebhookReceiver, WebhookResponse
from reconciler.log import get_logger

log = get_logger(__name__)

# Our choices. A push payload lists at most 20 commits (GitHub and GitLab), far below 5 MiB; a
# larger one only loses the early wake-up (the poll still finds the commit).
BACKLOG = 128


@dataclass(frozen=True)
class Limits:
    max_body: int = 5 * 1024 * 1024
    workers: int = 8
    socket_timeout: float = 10.0   # seconds without a byte
    body_deadline: float = 30.0    # seconds for the whole body


@dataclass
class Endpoints:
    board: StatusBoard
    metrics: Metrics
    webhooks: WebhookReceiver
    ready: Callable[[], tuple[bool, str]]
    extra_status: Callable[[], dict[str, Any]] = lambda: {}
    #: More POST routes (path -> handler(headers, body) -> (status, JSON body or None)): Slack and the API.
    routes: Mapping[str, Callable[[dict[str, str], bytes], tuple[int, Any]]] = field(default_factory=dict)
    #: Checks of those routes from the headers alone (bearer token, Slack timestamp), before any body read.
    prechecks: Mapping[str, Callable[[dict[str, str]], tuple[int, Any] | None]] = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        self.timeout = self.server.limits.socket_timeout  # StreamRequestHandler sets it on the socket
        super().setup()

    def parse_request(self) -> bool:
        try:
            return super().parse_request()
        except TimeoutError:  # headers trickled in too slowly
            self.close_connection = True
            self._json(408, {"error": "request timeout"})
            return False

    def log_message(self, *args: Any) -> None:  # access logs would drown the JSON log
        return None

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, doc: Any) -> None:
        self._send(status, json.dumps(doc, default=str).encode())

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        ep = self.server.endpoints
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            self._json(200, {"status": "alive"})
        elif path == "/readyz":
            ok, why = ep.ready()
            self._json(200 if ok else 503, {"ready": ok, "reason": why})
        elif path == "/metrics":
            self._send(200, ep.metrics.render(), ep.metrics.content_type)
        elif path == "/status":
            self._json(200, {**ep.board.to_json(), **ep.extra_status()})
        else:
            self._json(404, {"error": "not found"})

    do_HEAD = do_GET

    def do_POST(self) -> None:  # noqa: N802
        ep = self.server.endpoints
        path = self.path.split("?", 1)[0].rstrip("/")
        route = ep.routes.get(path)
        if route is None and path not in ("/webhook", "/webhook/gitlab", "/webhook/github"):
            self._json(404, {"error": "not found"})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        headers = {k: v for k, v in self.headers.items()}
        # Webhooks are refused from their headers before any body is read; every POST has the
        # size limit and the slow-client deadline (Slack and API routes check their own signature/token).
        refused = ep.webhooks.precheck(headers) if route is None else _route_precheck(ep, path, headers)
        limit = self.server.limits.max_body
        if refused is None and (length < 0 or length > limit):
            refused = WebhookResponse(413, {"error": f"body larger than {limit} bytes"})
        if refused is not None:
            self.close_connection = True  # the unread body must not be taken for the next request
            ep.metrics.webhooks.labels(str(refused.status)).inc()
            self._json(refused.status, dict(refused.body))
            return
        body = self._read_body(length)
        if body is None:
            self.close_connection = True
            ep.metrics.webhooks.labels("408").inc()
            self._json(408, {"error": "request timeout"})
            return
        if route is not None:
            status, doc = route(headers, body)
            if doc is None:
                self._send(status, b"", "text/plain")
            else:
                self._json(status, doc)
            return
        resp = ep.webhooks.handle(headers, body)
        ep.metrics.webhooks.labels(str(resp.status)).inc()
        self._json(resp.status, dict(resp.body))


    def _read_body(self, length: int) -> bytes | None:
        """The body, or None when the client is too slow (a byte every few seconds is not enough)."""
        deadline = time.monotonic() + self.server.limits.body_deadline
        chunks: list[bytes] = []
        left = length
        try:
            while left > 0:
                if time.monotonic() > deadline:
                    return None
                chunk = self.rfile.read1(min(left, 65536))
                if not chunk:
                    return None
                chunks.append(chunk)
                left -= len(chunk)
        except TimeoutError:
            return None
        return b"".join(chunks)


def _route_precheck(ep: Endpoints, path: str, headers: dict[str, str]) -> WebhookResponse | None:
    check = ep.prechecks.get(path)
    refused = check(headers) if check is not None else None
    return WebhookResponse(refused[0], refused[1]) if refused is not None else None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = BACKLOG
    endpoints: Endpoints

    def __init__(self, address: tuple[str, int], handler: Any, limits: Limits) -> None:
        self.limits = limits
        self._slots = threading.BoundedSemaphore(limits.workers)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        # Blocks the accept loop while every worker is busy: further clients wait in the kernel's
        # listen queue (BACKLOG) instead of each costing a thread and a buffer.
        self._slots.acquire()
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (BrokenPipeError …) is one structured line, not a raw traceback
        on stderr that would bypass the JSON format and the redactor."""
        import sys

        exc = sys.exc_info()[1]
        log.warning("http_request_failed", error=f"{exc.__class__.__name__}: {exc}")


class HttpServer:
    def __init__(self, host: str, port: int, endpoints: Endpoints, *, limits: Limits = Limits()) -> None:
        self._server = _Server((host, port), _Handler, limits)
        self._server.endpoints = endpoints
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="http", daemon=True)
        self._thread.start()
        log.info("http_listening", port=self.port)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
