"""The sandbox's WSGI front: faults, throttling, fidelity handlers, then moto.

Requests use the AWS JSON protocol (`X-Amz-Target: <prefix>.<Action>`) for ECS and
CodeDeploy; actions with a fidelity handler are answered here, everything else
goes to moto's own dispatcher unchanged.
"""
from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from reconciler.sandbox.state import SandboxState

ECS_PREFIX = "AmazonEC2ContainerServiceV20141113"
CODEDEPLOY_PREFIX = "CodeDeploy_20141006"
JSON_TYPE = "application/x-amz-json-1.1"

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class AwsError(Exception):
    """An AWS JSON-protocol error (`__type` + `message`)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class MotoCall:
    """Calls moto's WSGI app in-process with a (possibly rewritten) JSON body."""

    def __init__(self, app: WsgiApp, environ: dict[str, Any]) -> None:
        self.app, self.environ = app, environ

    def __call__(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        raw = json.dumps(body).encode()
        env = dict(self.environ)
        env["wsgi.input"], env["CONTENT_LENGTH"] = io.BytesIO(raw), str(len(raw))
        status: list[str] = []
        chunks = self.app(env, lambda s, h, exc=None: status.append(s))
        data = b"".join(chunks)
        if hasattr(chunks, "close"):
            chunks.close()
        code = int(status[0].split()[0])
        try:
            parsed = json.loads(data or b"{}")
        except ValueError:
            parsed = {"__type": "InternalFailure", "message": data.decode(errors="replace")}
        return code, parsed

    def checked(self, body: dict[str, Any]) -> dict[str, Any]:
        code, parsed = self(body)
        if code >= 400:
            kind = str(parsed.get("__type", "ClientException")).split("#")[-1]
            raise AwsError(kind, str(parsed.get("message") or parsed.get("Message") or ""), code)
        return parsed


Handler = Callable[[SandboxState, dict[str, Any], MotoCall], dict[str, Any]]


def _respond(start_response: StartResponse, status: int, payload: dict[str, Any]) -> list[bytes]:
    data = json.dumps(payload, default=str).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error"}.get(status, "Error")
    start_response(f"{status} {reason}", [("Content-Type", JSON_TYPE), ("Content-Length", str(len(data))),
                                          ("x-amzn-RequestId", "sandbox")])
    return [data]


def internal_failure(start_response: StartResponse) -> list[bytes]:
    """AWS's answer to a server-side failure (common errors: InternalFailure, HTTP 500). Injected
    only (fault injection); botocore retries it like AWS's."""
    return _respond(start_response, 500, {"__type": "InternalFailure", "message": "injected server error"})


def throttled(start_response: StartResponse) -> list[bytes]:
    """AWS's answer to an empty token bucket (ECS request-throttling.html): HTTP 400."""
    return _respond(start_response, 400, {"__type": "ThrottlingException", "message": "Rate exceeded"})


class SandboxApp:
    def __init__(
        self,
        state: SandboxState,
        moto_app: WsgiApp,
        handlers: dict[str, Handler],
        admin: WsgiApp,
    ) -> None:
        self.state, self.moto_app, self.handlers, self.admin = state, moto_app, handlers, admin

    def _moto(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """moto's backends are not thread-safe (e.g. ListTaskDefinitions iterates a dict that a
        concurrent RegisterTaskDefinition grows): one request at a time, as the handlers do."""
        with self.state.lock:
            chunks = self.moto_app(environ, start_response)
            try:
                return [b"".join(chunks)]
            finally:
                if hasattr(chunks, "close"):
                    chunks.close()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith("/_sandbox/"):
            return self.admin(environ, start_response)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target:
            return self._moto(environ, start_response)
        prefix, _, action = target.partition(".")
        delay = self.state.faults.latency(action)
        if delay:
            with self.state.faults.holding(action):
                time.sleep(delay)  # injected latency is real time by design
        if self.state.faults.take_throttle(action):
            return throttled(start_response)
        after_apply = self.state.faults.take_server_error(action)
        if after_apply is False:
            return internal_failure(start_response)
        if after_apply:
            self._serve(prefix, action, environ, lambda *args: None)  # applied; the answer is lost
            return internal_failure(start_response)
        return self._serve(prefix, action, environ, start_response)

    def _serve(self, prefix: str, action: str, environ: dict[str, Any],
               start_response: StartResponse) -> Iterable[bytes]:
        if self.state.throttling and prefix == ECS_PREFIX and not self.state.limiter.allow(action):
            return throttled(start_response)
        self.state.tick()
        handler = self.handlers.get(f"{prefix}.{action}")
        if handler is None:
            return self._moto(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b"{}"
        try:
            body = json.loads(raw or b"{}")
            with self.state.lock:
                result = handler(self.state, body, MotoCall(self.moto_app, environ))
                target = body.get("service") or body.get("serviceName") or body.get("deploymentGroupName") or ""
                cluster = str(body.get("cluster") or "").rsplit("/", 1)[-1]
                self.state.accepted[(action, f"{cluster}/{target}" if cluster and target else str(target))] += 1
        except AwsError as err:
            return _respond(start_response, err.status, {"__type": err.code, "message": err.message})
        return _respond(start_response, 200, result)
