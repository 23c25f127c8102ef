"""POST /deployments/continue: the daemon's side of `reconciler continue`, for chat approvals.

Body: `{"environment": "production", "service": "checkout", "rollback": false}`.
Authenticated with `Authorization: Bearer <token>` (setting `actions_token`); without a
token configured the endpoint is off (404), so nothing can answer a pause anonymously.
The token never reaches logs or answers.
"""
from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Mapping
from typing import Any

from reconciler.log import get_logger

log = get_logger(__name__)

#: (environment, service, rollback) -> (ok, answer document); raises LookupError for an unknown service.
Answer = Callable[[str, str, bool], tuple[bool, dict[str, Any]]]


class ContinueEndpoint:
    path = "/deployments/continue"

    def __init__(self, token: str | None, answer: Answer) -> None:
        self._token = token
        self._answer = answer

    @property
    def enabled(self) -> bool:
        return bool(self._token)

    def handle(self, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        if not self._token:
            return 404, {"error": "not found"}
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        scheme, _, presented = auth.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), self._token.encode()):
            log.warning("continue_unauthorized")
            return 401, {"error": "missing or wrong bearer token"}
        try:
            doc = json.loads(body or b"{}")
        except ValueError:
            return 400, {"error": "body is not JSON"}
        env, service = (doc.get("environment"), doc.get("service")) if isinstance(doc, dict) else (None, None)
        rollback = doc.get("rollback", False) if isinstance(doc, dict) else False
        if not isinstance(env, str) or not isinstance(service, str) or not isinstance(rollback, bool):
            return 400, {"error": "expected {\"environment\": str, \"service\": str, \"rollback\": bool}"}
        try:
            ok, answer = self._answer(env, service, rollback)
        except LookupError as exc:
            return 404, {"error": str(exc)}
        except Exception as exc:  # noqa: BLE001 - an AWS failure is the caller's answer, not a crash
            log.warning("continue_failed", environment=env, service=service, error=str(exc))
            return 502, {"error": str(exc)}
        log.info("continue_answered", environment=env, service=service, rollback=rollback, ok=ok)
        return (200 if ok else 409), answer
