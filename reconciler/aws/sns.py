"""Amazon SNS Publish: the only place SNS is called (AWS Chatbot notifications).

Implements reconciler.notify.destinations.Publisher. botocore's retry mode
already retried throttling and 5xx (see clients.py); what still fails is raised
as SnsPublishError whose `retryable` tells the notifier whether a later retry
may help. Publish API: docs.aws.amazon.com/sns/latest/api/API_Publish.html
(message up to 256 KB; Subject only for email endpoints, so it is optional).
"""
from __future__ import annotations

from typing import Any

from reconciler.aws.clients import AwsClients
from reconciler.aws.errors import AwsError, AwsThrottled, AwsUnreachable, translated


class SnsPublishError(AwsError):
    def __init__(self, cause: AwsError) -> None:
        super().__init__(cause.args[0] if cause.args else "", service="sns", action="Publish", code=cause.code)
        self.retryable = isinstance(cause, (AwsThrottled, AwsUnreachable)) or cause.code in (
            "InternalError", "InternalFailure", "ServiceUnavailable", "KMSThrottlingException")


class SnsPublisher:
    """A tiny wrapper over an SNS client; build it with `from_region` or pass a client (tests)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @classmethod
    def from_region(cls, region: str | None, clients: AwsClients) -> SnsPublisher:
        """A publisher on `clients` (the daemon's: its retry settings, its call counter)."""
        return cls(clients.client("sns", region=region))

    def publish(self, topic_arn: str, message: str, subject: str | None = None) -> str:
        """Publish `message`; returns the MessageId."""
        kwargs: dict[str, Any] = {"TopicArn": topic_arn, "Message": message}
        if subject:
            kwargs["Subject"] = subject[:100]  # SNS: Subject ≤ 100 characters
        try:
            with translated("sns", "Publish"):
                return str(self._client.publish(**kwargs)["MessageId"])
        except AwsError as exc:
            raise SnsPublishError(exc) from exc
