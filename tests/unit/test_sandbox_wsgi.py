"""The sandbox's WSGI front, with a stand-in for moto (no server, no threads)."""
from __future__ import annotations

import io
import threading
from typing import Any

from reconciler.sandbox.clock import ManualClock
from reconciler.sandbox.moto_compat import _signing_scope
from reconciler.sandbox.state import SandboxState
from reconciler.sandbox.wsgi import SandboxApp


def _environ(target: str = "") -> dict[str, Any]:
    env: dict[str, Any] = {"PATH_INFO": "/", "REQUEST_METHOD": "POST", "wsgi.input": io.BytesIO(b"{}"),
                           "CONTENT_LENGTH": "2"}
    if target:
        env["HTTP_X_AMZ_TARGET"] = target
    return env


def test_moto_pass_through_is_serialized_under_the_state_lock() -> None:
    """moto's backends are not thread-safe: every request that reaches moto holds the sandbox lock."""
    state = SandboxState(clock=ManualClock())
    held: list[bool] = []

    def moto(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        free: list[bool] = []

        def probe() -> None:  # another request thread: can it take the lock now?
            got = state.lock.acquire(blocking=False)
            free.append(got)
            if got:
                state.lock.release()

        thread = threading.Thread(target=probe)
        thread.start()
        thread.join()
        held.append(not free[0])
        start_response("200 OK", [])
        return [b"{", b"}"]

    app = SandboxApp(state, moto, {}, lambda e, s: [])
    body = app(_environ("AmazonEC2ContainerServiceV20141113.ListTaskDefinitions"), lambda *a: None)
    assert b"".join(body) == b"{}"
    app(_environ(), lambda *a: None)  # query-protocol services (EC2, ELBv2) too
    assert held == [True, True]


def test_signing_scope_comes_from_the_sigv4_credential() -> None:
    auth = ("AWS4-HMAC-SHA256 Credential=testing/20260101/eu-west-1/ecs/aws4_request, "
            "SignedHeaders=host, Signature=abc")
    assert _signing_scope({"HTTP_AUTHORIZATION": auth}) == ("eu-west-1", "ecs")
    assert _signing_scope({}) is None and _signing_scope({"HTTP_AUTHORIZATION": "Bearer x"}) is None
