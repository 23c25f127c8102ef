"""SQS queue of CodeCommit change events: long-poll receive, delete after handling.

ReceiveMessage waits up to 20 s (the API maximum, [bc-sqs] WaitTimeSeconds) and
returns at most 10 messages; DeleteMessage is called only once the daemon has
handled a message, so a crash leaves it to reappear after the visibility timeout
and end in the queue's DLQ if it can never be handled.
"""
from __future__ import annotations

from dataclasses import dataclass

from reconciler.aws.clients import AwsClients


@dataclass(frozen=True)
class QueueMessage:
    message_id: str
    body: str
    receipt_handle: str


class SqsQueue:
    def __init__(self, clients: AwsClients, queue_url: str, *, region: str | None = None) -> None:
        self.queue_url = queue_url
        self._sqs = clients.client("sqs", region=region or _region_of(queue_url))

    def receive(self, wait_seconds: int = 20, max_messages: int = 10) -> list[QueueMessage]:
        resp = self._sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=max_messages,
                                         WaitTimeSeconds=wait_seconds)
        return [QueueMessage(m["MessageId"], m["Body"], m["ReceiptHandle"]) for m in resp.get("Messages", [])]

    def extend(self, receipt_handle: str, seconds: int) -> None:
        """Keep a message invisible `seconds` longer while its cycle runs ([bc-sqs] ChangeMessageVisibility)."""
        self._sqs.change_message_visibility(QueueUrl=self.queue_url, ReceiptHandle=receipt_handle,
                                            VisibilityTimeout=seconds)

    def delete(self, receipt_handle: str) -> None:
        self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipt_handle)


def _region_of(queue_url: str) -> str | None:
    # https://sqs.<region>.amazonaws.com/<account>/<name>
    host = queue_url.split("/")[2] if "://" in queue_url else ""
    parts = host.split(".")
    return parts[1] if len(parts) > 3 and parts[0] == "sqs" else None
