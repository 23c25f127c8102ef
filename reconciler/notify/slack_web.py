"""The Slack Web API calls of chat operations: post and edit the approval request, answer a
request through its `response_url`, look up user-group members and a user's email.

Scopes (docs/chatops.md): `chat:write` (post, update), `commands` (the slash command),
`usergroups:read` (`usergroups.users.list`), `users:read.email` (`users.info` email, to tell
whether an approver wrote the commit).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from reconciler.log import get_logger
from reconciler.notify.slack_delivery import _SDK_LOGGER

log = get_logger(__name__)


class SlackWeb:
    def __init__(self, token: str | None, channel: str | None, *, base_url: str | None = None,
                 timeout: float = 10.0, cache_seconds: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        kwargs: dict[str, Any] = {"base_url": base_url.rstrip("/") + "/"} if base_url else {}
        self._client = WebClient(token=token, timeout=int(timeout), logger=_SDK_LOGGER, **kwargs) if token else None
        self.channel = channel
        self._timeout = timeout
        self._cache: dict[str, tuple[float, Any]] = {}
        self._cache_seconds, self._clock = cache_seconds, clock
        self._lock = threading.Lock()

    @property
    def can_post(self) -> bool:
        return self._client is not None and bool(self.channel)

    def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        if self._client is None:
            raise RuntimeError("no Slack bot token configured")
        return dict(self._client.api_call(method, json=kwargs).data)  # type: ignore[arg-type]

    def post(self, message: Mapping[str, Any]) -> tuple[str, str] | None:
        if not self.can_post:
            return None
        resp = self._call("chat.postMessage", channel=self.channel, unfurl_links=False, **message)
        return str(resp["channel"]), str(resp["ts"])

    def update(self, channel: str, ts: str, message: Mapping[str, Any]) -> None:
        self._call("chat.update", channel=channel, ts=ts, **message)

    def respond(self, url: str, message: Mapping[str, Any]) -> None:
        """Answer through a `response_url` (valid 30 minutes, up to 5 times: Slack docs)."""
        try:
            resp = WebhookClient(url, timeout=int(self._timeout), logger=_SDK_LOGGER).send_dict(dict(message))
            if resp.status_code >= 300:
                log.warning("slack_response_failed", status=resp.status_code)
        except (OSError, SlackClientError) as exc:
            log.warning("slack_response_failed", error=str(exc))

    def _cached(self, key: str, fetch: Callable[[], Any]) -> Any:
        now = self._clock()
        with self._lock:
            hit = self._cache.get(key)
            if hit and now - hit[0] < self._cache_seconds:
                return hit[1]
        value = fetch()
        with self._lock:
            self._cache[key] = (now, value)
        return value

    def members(self, group: str) -> list[str]:
        """User IDs in a user group; empty (nobody) when Slack cannot say."""
        def fetch() -> list[str]:
            try:
                return [str(u) for u in self._call("usergroups.users.list", usergroup=group).get("users") or []]
            except (SlackApiError, SlackClientError, OSError, RuntimeError) as exc:
                log.warning("slack_usergroup_unreadable", group=group, error=str(exc))
                return []
        return list(self._cached(f"group:{group}", fetch))

    def email_of(self, user: str) -> str | None:
        def fetch() -> str | None:
            try:
                profile = (self._call("users.info", user=user).get("user") or {}).get("profile") or {}
                return profile.get("email")
            except (SlackApiError, SlackClientError, OSError, RuntimeError) as exc:
                log.warning("slack_user_unreadable", user=user, error=str(exc))
                return None
        value = self._cached(f"email:{user}", fetch)
        return str(value) if value else None
