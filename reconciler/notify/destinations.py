"""Destinations other than Slack, and the Protocols every destination meets.

A destination renders one event and sends it once; it raises DeliveryError
and leaves retrying to the Notifier.
"""
from __future__ import annotations

import json
import sys
import threading
from typing import Protocol, TextIO

from reconciler.events import ReportEvent
from reconciler.notify import http
from reconciler.notify.chatbot import render_chatbot
from reconciler.notify.console import render_console
from reconciler.notify.errors import DeliveryError
from reconciler.notify.generic import render_generic
from reconciler.notify.teams import render_teams
from reconciler.signing import sign

SIGNATURE_HEADER = "X-Signature-256"
EVENT_HEADER = "X-Reconciler-Event"


class Destination(Protocol):
    name: str

    def send(self, event: ReportEvent) -> None:
        """Deliver once; raise DeliveryError (retryable or not) on failure."""
        ...


class Publisher(Protocol):
    """Publishes one message to an SNS topic (implemented by reconciler.aws.sns)."""

    def publish(self, topic_arn: str, message: str, subject: str | None = None) -> str: ...


class TeamsDestination:
    """Teams Workflows webhook ("When a Teams webhook request is received")."""

    def __init__(self, name: str, url: str, *, timeout: float = 10.0) -> None:
        self.name = name
        self._url = url
        self._timeout = timeout

    def send(self, event: ReportEvent) -> None:
        text = http.post(self._url, http.encode(render_teams(event)), timeout=self._timeout)
        # The old connector endpoint reported throttling as 200 with "HTTP error 429" in the body.
        if "HTTP error 429" in text:
            raise DeliveryError("teams throttled (429 in body)", retryable=True)


class GenericWebhookDestination:
    """Any HTTPS receiver: the generic JSON, signed with HMAC-SHA256 when a secret is set."""

    def __init__(self, name: str, url: str, *, secret: str | None = None, timeout: float = 10.0) -> None:
        self.name = name
        self._url = url
        self._secret = secret
        self._timeout = timeout

    def send(self, event: ReportEvent) -> None:
        body = http.encode(render_generic(event))
        headers = {EVENT_HEADER: event.kind}
        if self._secret:
            headers[SIGNATURE_HEADER] = sign(self._secret, body)
        http.post(self._url, body, headers=headers, timeout=self._timeout)


class SnsDestination:
    """An SNS topic mapped to AWS Chatbot: publishes the custom-notification JSON only."""

    def __init__(self, name: str, topic_arn: str, publisher: Publisher) -> None:
        self.name = name
        self._topic_arn = topic_arn
        self._publisher = publisher

    def send(self, event: ReportEvent) -> None:
        message = json.dumps(render_chatbot(event), ensure_ascii=False)
        try:
            self._publisher.publish(self._topic_arn, message)
        except DeliveryError:
            raise
        except Exception as exc:  # the publisher marks throttling/5xx with `retryable`
            raise DeliveryError(f"sns publish failed: {type(exc).__name__}",
                                retryable=bool(getattr(exc, "retryable", True))) from None


class ConsoleDestination:
    """Human-readable text on a stream (stdout by default)."""

    def __init__(self, name: str = "console", stream: TextIO | None = None) -> None:
        self.name = name
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, event: ReportEvent) -> None:
        stream = self._stream or sys.stdout
        with self._lock:
            stream.write(render_console(event) + "\n")
            stream.flush()
