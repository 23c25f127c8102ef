"""POST /slack/commands, POST /slack/interactions and POST /api/v1/commands.

Slack requests are verified first (signature, five-minute window, single use, workspace:
reconciler.chatops.signing) and answered at once; the work continues in the background
(Slack wants an answer within three seconds). The API endpoint serves the CLI
(`reconciler approve …`) with a bearer token and is off without one.
"""
from __future__ import annotations

import hmac
import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from reconciler.chatops.signing import RequestVerifier
from reconciler.daemon.chatops import ChatOps, form_payload
from reconciler.log import get_logger

log = get_logger(__name__)

Response = tuple[int, dict[str, Any] | None]


def in_thread(work: Callable[[], None]) -> None:
    """Run chat work after the HTTP answer went out (one short-lived thread per request)."""
    def run() -> None:
        try:
            work()
        except Exception as exc:  # noqa: BLE001 - a failed background answer must not kill anything
            log.warning("chat_work_failed", error=str(exc))

    threading.Thread(target=run, name="chatops", daemon=True).start()


class SlackEndpoints:
    def __init__(self, verifier: RequestVerifier, chatops: ChatOps) -> None:
        self.verifier, self.chatops = verifier, chatops

    def precheck(self, headers: Mapping[str, str]) -> Response | None:
        """Refuse from the headers alone (no or stale signature) before the body is read."""
        verdict = self.verifier.precheck(headers)
        return None if verdict.ok else (verdict.status, {"error": verdict.reason})

    def commands(self, headers: Mapping[str, str], body: bytes) -> Response:
        verdict = self.verifier.verify(headers, body)
        if not verdict.ok or verdict.form is None:
            log.warning("slack_request_refused", path="/slack/commands", reason=verdict.reason)
            return verdict.status, {"error": verdict.reason}
        return 200, self.chatops.slash_command(verdict.form)

    def interactions(self, headers: Mapping[str, str], body: bytes) -> Response:
        verdict = self.verifier.verify(headers, body)
        if not verdict.ok or verdict.form is None:
            log.warning("slack_request_refused", path="/slack/interactions", reason=verdict.reason)
            return verdict.status, {"error": verdict.reason}
        payload = form_payload(verdict.form)
        if payload is None:
            return 400, {"error": "no interaction payload"}
        return 200, self.chatops.interaction(payload)


class ApiEndpoint:
    def __init__(self, token: str, chatops: ChatOps) -> None:
        self._token, self.chatops = token, chatops

    def precheck(self, headers: Mapping[str, str]) -> Response | None:
        return None if self.authorized(headers) else (401, {"error": "missing or wrong bearer token"})

    def authorized(self, headers: Mapping[str, str]) -> bool:
        lower = {k.lower(): v for k, v in headers.items()}
        header = lower.get("authorization", "")
        return header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip().encode(), self._token.encode())

    def commands(self, headers: Mapping[str, str], body: bytes) -> Response:
        if not self.authorized(headers):
            return 401, {"error": "missing or wrong bearer token"}
        try:
            doc = json.loads(body or b"{}")
        except ValueError:
            return 400, {"error": "body must be JSON: {\"text\": \"approve production\", \"user\": \"dana\"}"}
        if not isinstance(doc, dict) or not isinstance(doc.get("text"), str):
            return 400, {"error": "body must be JSON with a text field"}
        result = self.chatops.api(doc["text"], str(doc.get("user") or ""))
        return (200 if result.get("ok") else 409), result
