"""Consumes CodeCommit change events from SQS while this replica is the leader.

A message that names our branch wakes the loop and is deleted only after a
cycle that started later completed (it was handled); events for other
branches or repositories are handled by ignoring them and deleted at once;
unparseable bodies are left for the queue's redrive policy (DLQ).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from reconciler.aws.errors import AwsError
from reconciler.aws.sqs import QueueMessage
from reconciler.daemon.metrics import Metrics
from reconciler.daemon.wakeup import Wakeup
from reconciler.log import get_logger
from reconciler.source.hooks import parse_codecommit_message

log = get_logger(__name__)


class Queue(Protocol):
    def receive(self, wait_seconds: int = 20, max_messages: int = 10) -> list[QueueMessage]: ...

    def delete(self, receipt_handle: str) -> None: ...


class SqsConsumer:
    def __init__(self, queue: Queue, wakeup: Wakeup, branch: str, metrics: Metrics, *,
                 repository: str | None = None, wait_seconds: int = 20,
                 is_leader: Callable[[], bool] = lambda: True, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.queue, self.wakeup, self.branch, self.metrics = queue, wakeup, branch, metrics
        self.repository, self.wait_seconds = repository, wait_seconds
        self.is_leader, self._monotonic = is_leader, monotonic
        self._pending: list[tuple[float, QueueMessage]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_once(self) -> int:
        """Receive one batch; returns how many messages woke the loop."""
        messages = self.queue.receive(wait_seconds=self.wait_seconds)
        woke = 0
        for msg in messages:
            try:
                hints = parse_codecommit_message(msg.body)
            except (ValueError, TypeError, AttributeError, KeyError) as exc:
                # JSON of an unexpected shape is as unreadable as non-JSON: never let it stop the consumer.
                log.warning("sqs_message_unreadable", message_id=msg.message_id, error=str(exc))
                self.metrics.sqs_messages.labels("unreadable").inc()
                continue
            relevant = [h for h in hints if h.branch == self.branch and not h.deleted
                        and (self.repository is None or h.repository == self.repository)]
            if not relevant:
                self._delete(msg, "ignored")
                continue
            with self._lock:
                self._pending.append((self._monotonic(), msg))
            for hint in relevant:
                log.info("codecommit_push", commit=hint.after, repository=hint.repository)
                self.wakeup.notify("sqs", hint)
            woke += 1
        return woke

    def handled(self, cycle_started: float) -> None:
        """A cycle that started at `cycle_started` (monotonic) completed: earlier messages are done."""
        with self._lock:
            done = [m for t, m in self._pending if t <= cycle_started]
            self._pending = [(t, m) for t, m in self._pending if t > cycle_started]
        for msg in done:
            self._delete(msg, "handled")

    def _delete(self, msg: QueueMessage, outcome: str) -> None:
        try:
            self.queue.delete(msg.receipt_handle)
            self.metrics.sqs_messages.labels(outcome).inc()
        except AwsError as exc:  # it comes back after the visibility timeout: harmless
            log.warning("sqs_delete_failed", message_id=msg.message_id, error=str(exc))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sqs", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.is_leader():  # a standby must not take events away from the leader
                self._stop.wait(1.0)
                continue
            try:
                self.poll_once()
            except AwsError as exc:
                log.warning("sqs_unreachable", error=str(exc))
                self._stop.wait(5.0)

    def stop(self) -> None:
        self._stop.set()
