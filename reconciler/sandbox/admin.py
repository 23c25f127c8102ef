"""The admin endpoint: fault injection over HTTP for tests that drive a subprocess."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from reconciler.sandbox.state import SandboxState

StartResponse = Callable[..., Any]


def _reply(start_response: StartResponse, status: str, payload: dict[str, Any]) -> list[bytes]:
    data = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


class AdminApp:
    """POST /_sandbox/<route> with a JSON body; GET /_sandbox/clock reads the clock."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        route = environ.get("PATH_INFO", "")[len("/_sandbox/"):].strip("/")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            body = json.loads(environ["wsgi.input"].read(length) or b"{}") if length else {}
            result = self.dispatch(route, body)
        except (KeyError, TypeError, ValueError) as exc:
            return _reply(start_response, "400 Bad Request", {"error": f"{type(exc).__name__}: {exc}"})
        if result is None:
            return _reply(start_response, "404 Not Found", {"error": f"unknown route {route!r}"})
        return _reply(start_response, "200 OK", result)

    def dispatch(self, route: str, body: dict[str, Any]) -> dict[str, Any] | None:
        state, faults = self.state, self.state.faults
        if route == "throttle":
            faults.throttle(body["action"], int(body.get("times", 1)))
        elif route == "latency":
            faults.add_latency(body["action"], float(body["seconds"]))
        elif route == "server-error":
            faults.server_error(body["action"], int(body.get("times", 1)), after_apply=bool(body.get("afterApply")))
        elif route == "fail-image":
            faults.fail_image(body["image"])
        elif route == "fire-alarm":
            with state.lock:
                return {"deployments": state.codedeploy.fire_alarm(body["name"])}
        elif route == "lambda-hook":
            with state.lock:
                state.native.lambda_answers[body["functionArn"]] = list(body["answers"])
        elif route == "advance":
            state.clock.advance(float(body["seconds"]))
            state.tick()
        elif route == "reset-faults":
            faults.reset()
        elif route != "clock":
            return None
        return {"ok": True, "now": state.clock.now()}
