"""The daemon's HTTP endpoints: /healthz /readyz /metrics /status and POST /webhook.

stdlib ThreadingHTTPServer: a handful of requests per minute needs no framework,
and each request is answered from in-memory state without waiting on a cycle.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from reconciler.daemon.metrics import Metrics
from reconciler.daemon.status import StatusBoard
from reconciler.daemon.webhook import WebhookReceiver
from reconciler.log import get_logger

log = get_logger(__name__)

MAX_BODY = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB


@dataclass
class Endpoints:
    board: StatusBoard
    metrics: Metrics
    webhooks: WebhookReceiver
    ready: Callable[[], tuple[bool, str]]
    extra_status: Callable[[], dict[str, Any]] = lambda: {}
    #: More POST routes (path -> handler(headers, body) -> (status, JSON body or None)): Slack and the API.
    routes: Mapping[str, Callable[[dict[str, str], bytes], tuple[int, Any]]] = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

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
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            self._json(413, {"error": "body too large"})
            return
        body = self.rfile.read(length)
        headers = {k: v for k, v in self.headers.items()}
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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    endpoints: Endpoints


class HttpServer:
    def __init__(self, host: str, port: int, endpoints: Endpoints) -> None:
        self._server = _Server((host, port), _Handler)
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
