"""Amazon SNS Publish: the only place SNS is called (AWS Chatbot notifications).

Implements reconciler.notify.destinations.Publisher. botocore's retry mode
already retried throttling and 5xx (see clients.py); what still fails arrives
as an AwsError (mapped where the client is built) whose `retryable` tells the
notifier whether a later retry may help. Publish API: docs.aws.amazon.com/sns/latest/api/API_Publish.html
(message up to 256 KB; Subject only for email endpoints, so it is optional).
"""
from __future__ import annotations

from typing import Any

from reconciler.aws.clients import AwsClients, translating


class SnsPublisher:
    """A tiny wrapper over an SNS client; build it with `from_region` or pass a client (tests: a stubbed one)."""

    def __init__(self, client: Any) -> None:
        self._client = translating(client, "sns")

    @classmethod
    def from_region(cls, region: str | None, clients: AwsClients) -> SnsPublisher:
        """A publisher on `clients` (the daemon's: its retry settings, its call counter)."""
        return cls(clients.client("sns", region=region))

    def publish(self, topic_arn: str, message: str, subject: str | None = None) -> str:
        """Publish `message`; returns the MessageId."""
        kwargs: dict[str, Any] = {"TopicArn": topic_arn, "Message": message}
        if subject:
            kwargs["Subject"] = subject[:100]  # SNS: Subject ≤ 100 characters
        return str(self._client.publish(**kwargs)["MessageId"])
