"""POST /deployments/continue: off without a token, bearer auth, body checked, answers passed through."""
from __future__ import annotations

import json
from typing import Any

from reconciler.daemon.actions import ContinueEndpoint

calls: list[tuple[str, str, bool]] = []


def answer(env: str, service: str, rollback: bool) -> tuple[bool, dict[str, Any]]:
    calls.append((env, service, rollback))
    if service == "missing":
        raise LookupError("production/missing is not declared in git")
    return service == "checkout", {"ok": service == "checkout", "message": "continued"}


def body(**doc: Any) -> bytes:
    return json.dumps(doc).encode()


def test_off_without_a_token() -> None:
    assert ContinueEndpoint(None, answer).handle({}, body(environment="p", service="checkout"))[0] == 404


def test_bearer_token_required() -> None:
    endpoint = ContinueEndpoint("s3cret", answer)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret"}):
        status, doc = endpoint.handle(headers, body(environment="p", service="checkout"))
        assert status == 401 and "s3cret" not in json.dumps(doc)
    assert calls == []


def test_answers() -> None:
    endpoint = ContinueEndpoint("s3cret", answer)
    auth = {"authorization": "Bearer s3cret"}
    assert endpoint.handle(auth, body(environment="production", service="checkout", rollback=True)) == (
        200, {"ok": True, "message": "continued"})
    assert calls[-1] == ("production", "checkout", True)
    assert endpoint.handle(auth, body(environment="production", service="idle"))[0] == 409
    assert endpoint.handle(auth, body(environment="production", service="missing"))[0] == 404
    assert endpoint.handle(auth, b"not json")[0] == 400
    assert endpoint.handle(auth, body(environment="production", service="checkout", rollback="yes"))[0] == 400
