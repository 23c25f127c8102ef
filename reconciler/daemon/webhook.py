"""The webhook endpoint's logic, apart from HTTP: verify, parse, dedup, wake.

Answers fast (the loop does the work later): 202 when the loop was woken, 200
for events we ignore on purpose (GitLab permanently disables hooks that get
4xx, chat-and-git-triggers.md §1), 401 only for a wrong secret.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.daemon.wakeup import DeliveryLog, Wakeup
from reconciler.log import get_logger, register_secret
from reconciler.source.hooks import (
    detect_provider,
    parse_github_push,
    parse_gitlab_push,
    verify_github_signature,
    verify_gitlab_token,
)

log = get_logger(__name__)
_SIGNATURE = re.compile(r"sha256=[0-9a-f]{64}")


@dataclass(frozen=True)
class WebhookResponse:
    status: int
    body: Mapping[str, Any] = field(default_factory=dict)


class WebhookReceiver:
    def __init__(self, wakeup: Wakeup, branch: str, *, gitlab_token: str | None = None,
                 github_secret: str | None = None, deliveries: DeliveryLog | None = None) -> None:
        register_secret(gitlab_token)
        register_secret(github_secret)
        self._wakeup = wakeup
        self._branch = branch
        self._gitlab_token = gitlab_token
        self._github_secret = github_secret
        self._deliveries = deliveries or DeliveryLog()

    @property
    def enabled(self) -> bool:
        return bool(self._gitlab_token or self._github_secret)

    def precheck(self, headers: Mapping[str, str]) -> WebhookResponse | None:
        """Everything that can be refused from the headers alone, before the body is read: an
        unknown sender, a wrong GitLab token, a missing or malformed GitHub signature."""
        provider = detect_provider(headers)
        if provider == "gitlab" and self._gitlab_token:
            if not verify_gitlab_token(headers, self._gitlab_token):
                log.warning("webhook_rejected", provider=provider, reason="bad token")
                return WebhookResponse(401, {"error": "invalid token"})
            return None
        if provider == "github" and self._github_secret:
            given = {k.lower(): v for k, v in headers.items()}.get("x-hub-signature-256", "")
            if not _SIGNATURE.fullmatch(given):
                log.warning("webhook_rejected", provider=provider, reason="no signature")
                return WebhookResponse(401, {"error": "invalid signature"})
            return None
        return WebhookResponse(404, {"error": "no webhook configured for this sender"})

    def handle(self, headers: Mapping[str, str], body: bytes) -> WebhookResponse:
        refused = self.precheck(headers)
        if refused is not None:
            return refused
        provider = detect_provider(headers)
        if provider == "github" and not verify_github_signature(headers, body, self._github_secret or ""):
            log.warning("webhook_rejected", provider=provider, reason="bad signature")
            return WebhookResponse(401, {"error": "invalid signature"})
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deep
            return WebhookResponse(400, {"error": "body is not JSON (or nested too deeply)"})
        if not isinstance(payload, dict):
            return WebhookResponse(400, {"error": "body is not a JSON object"})
        try:
            hint = parse_gitlab_push(headers, payload) if provider == "gitlab" else parse_github_push(headers, payload)
        except (ValueError, TypeError, AttributeError, KeyError):
            return WebhookResponse(400, {"error": "not a push event payload of the expected shape"})
        if hint is None:
            return WebhookResponse(200, {"status": "ignored", "reason": "not a push event"})
        if hint.delivery_id and not self._deliveries.first_time(f"{provider}:{hint.delivery_id}"):
            log.info("webhook_duplicate", provider=provider, delivery=hint.delivery_id)
            return WebhookResponse(200, {"status": "duplicate"})
        if hint.branch != self._branch:
            return WebhookResponse(200, {"status": "ignored", "reason": f"not branch {self._branch}"})
        log.info("webhook_push", provider=provider, delivery=hint.delivery_id, commit=hint.after)
        self._wakeup.notify("webhook", hint)
        return WebhookResponse(202, {"status": "accepted"})
