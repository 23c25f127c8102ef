"""Delivery to Slack through slack_sdk: incoming webhook, or the Web API with threads.

Incoming webhooks answer `ok` with no `ts`, so they cannot thread or edit; the
Web API (`chat.postMessage` returns `{channel, ts}`) posts one parent per
deployment, replies in its thread (`thread_ts`) and edits the parent with
`chat.update` as the deployment moves (Slack docs, see
docs/notifications.md). slack_sdk's own retry handlers are disabled: the
notifier retries every destination the same way and honours `Retry-After`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from reconciler.events import ReportEvent
from reconciler.notify.errors import DeliveryError, from_network, from_status
from reconciler.notify.slack import render_slack, render_slack_thread
from reconciler.notify.threads import ThreadRef, ThreadStore, closes_thread, thread_key

# slack_sdk logs the full request URL (the webhook secret) at DEBUG when its
# logger's own level is NOTSET; a logger pinned at WARNING never does.
_SDK_LOGGER = logging.getLogger("reconciler.notify.slack_sdk")
_SDK_LOGGER.setLevel(logging.WARNING)
# Web API errors that are worth another try (api.slack.com/methods/chat.postMessage#errors).
_TRANSIENT = {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
# chat.update errors meaning the stored parent is gone: post a fresh parent instead.
_MAX_PROGRESS = 1000
_LOST_PARENT = {"message_not_found", "cant_update_message", "channel_not_found", "edit_window_closed"}


@dataclass
class _Progress:
    """How far the delivery of one event got: its parent, and replies already posted."""

    ref: ThreadRef
    progress_reply: bool
    done: int = 0


class SlackWebhookDestination:
    """Slack incoming webhook: the parent message only (webhooks cannot thread)."""

    def __init__(self, name: str, url: str, *, timeout: float = 10.0) -> None:
        self.name = name
        self._client = WebhookClient(url, timeout=int(timeout), retry_handlers=[], logger=_SDK_LOGGER)

    def send(self, event: ReportEvent) -> None:
        try:
            resp = self._client.send_dict(render_slack(event))
        except (OSError, SlackClientError) as exc:
            raise from_network(exc) from None
        error = from_status(resp.status_code, resp.headers, resp.body)
        if error:
            raise error


def _api_error(exc: SlackApiError) -> DeliveryError:
    resp = exc.response
    code = str(resp.get("error", "")) if isinstance(resp.data, dict) else ""
    status = resp.status_code
    if status != 200:
        error = from_status(status, resp.headers, code)
        if error:
            return error
    return DeliveryError(f"slack error {code or 'unknown'}", retryable=code in _TRANSIENT)


class SlackApiDestination:
    """Slack Web API with a bot token (`chat:write`): parent, thread replies, parent updates."""

    def __init__(self, name: str, token: str, channel: str, threads: ThreadStore, *,
                 base_url: str | None = None, timeout: float = 10.0) -> None:
        self.name = name
        self._channel = channel
        self._threads = threads
        kwargs: dict[str, Any] = {"base_url": base_url.rstrip("/") + "/"} if base_url else {}
        self._client = WebClient(token=token, timeout=int(timeout), retry_handlers=[], logger=_SDK_LOGGER, **kwargs)
        # event -> progress: lets a retried event resume (used by the worker thread only)
        self._progress: dict[str, _Progress] = {}

    def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return dict(self._client.api_call(method, json=kwargs).data)  # type: ignore[arg-type]
        except SlackApiError as exc:
            raise _api_error(exc) from None
        except (OSError, SlackClientError) as exc:
            raise from_network(exc) from None

    def _store_key(self, key: str) -> str:
        return f"{self.name}|{key}"

    def send(self, event: ReportEvent) -> None:
        """Parent (post or update), then thread replies. A retry of the same event
        resumes after the last call that succeeded, so a 429 on the third reply
        does not post the parent and the first replies twice."""
        key = thread_key(event)
        store_key = self._store_key(key) if key else None
        progress_key = f"{store_key}|{event.dedup_key}"
        state = self._progress.get(progress_key)
        if state is None:
            ref, new = self._parent(event, store_key)
            # A one-service deployment's later states also go to the thread as progress.
            state = _Progress(ref, progress_reply=not new)
            if len(self._progress) >= _MAX_PROGRESS:
                self._progress.clear()
            self._progress[progress_key] = state
        replies = render_slack_thread(event) or ([render_slack(event)] if state.progress_reply else [])
        for i in range(state.done, len(replies)):
            self._call("chat.postMessage", channel=state.ref.channel, thread_ts=state.ref.ts,
                       unfurl_links=False, **replies[i])
            state.done = i + 1
        self._progress.pop(progress_key, None)
        if store_key and closes_thread(event):
            self._threads.forget(store_key)

    def _parent(self, event: ReportEvent, store_key: str | None) -> tuple[ThreadRef, bool]:
        """Update the deployment's parent message, or post it; True when newly posted."""
        parent = render_slack(event)
        ref = self._threads.get(store_key) if store_key else None
        if ref is not None and self._update(ref, parent):
            return ref, False
        posted = self._call("chat.postMessage", channel=self._channel, unfurl_links=False, **parent)
        ref = ThreadRef(channel=str(posted["channel"]), ts=str(posted["ts"]))
        if store_key:
            self._threads.put(store_key, ref)
        return ref, True

    def _update(self, ref: ThreadRef, message: dict[str, Any]) -> bool:
        """Edit the parent; False when it no longer exists (deleted, archived channel)."""
        try:
            self._call("chat.update", channel=ref.channel, ts=ref.ts, **message)
        except DeliveryError as exc:
            if any(code in str(exc) for code in _LOST_PARENT):
                return False
            raise
        return True
