"""SQS: a redelivered message is recognised by its id (not queued twice), its visibility is
extended while it waits for its cycle, and it is deleted once a later cycle loaded the commit."""
from __future__ import annotations

import json
from pathlib import Path

from reconciler.aws.sqs import QueueMessage
from reconciler.daemon.metrics import Metrics
from reconciler.daemon.sqs_consumer import SqsConsumer
from reconciler.daemon.wakeup import Wakeup

PAYLOADS = Path(__file__).resolve().parents[1] / "fixtures" / "payloads"


class Queue:
    def __init__(self) -> None:
        self.batches: list[list[QueueMessage]] = []
        self.deleted: list[str] = []
        self.extended: list[tuple[str, int]] = []

    def receive(self, wait_seconds: int = 20, max_messages: int = 10) -> list[QueueMessage]:
        return self.batches.pop(0) if self.batches else []

    def delete(self, receipt_handle: str) -> None:
        self.deleted.append(receipt_handle)

    def extend(self, receipt_handle: str, seconds: int) -> None:
        self.extended.append((receipt_handle, seconds))


def test_redelivery_is_recognised_extended_and_deleted_once() -> None:
    body = (PAYLOADS / "codecommit-eventbridge-referenceUpdated-awsdocs.json").read_text()
    assert json.loads(body)
    queue, wakeup, t = Queue(), Wakeup(), [10.0]
    consumer = SqsConsumer(queue, wakeup, "myBranch", Metrics(), repository="MyDemoRepo", monotonic=lambda: t[0],
                           visibility_seconds=90)
    queue.batches = [[QueueMessage("id-1", body, "r-first")], [QueueMessage("id-1", body, "r-second")]]
    assert consumer.poll_once() == 1
    t[0] = 20.0
    assert consumer.poll_once() == 0  # the same message again (visibility ran out): not a second wake-up
    assert wakeup.wait(0)[0] == ["sqs"]
    consumer.extend_pending()
    assert queue.extended == [("r-second", 90)]  # only the newest receipt handle is valid
    consumer.handled(cycle_started=15.0)  # the cycle began after the first delivery: handled
    assert queue.deleted == ["r-second"]
    consumer.handled(cycle_started=30.0)
    assert queue.deleted == ["r-second"]  # deleted once
