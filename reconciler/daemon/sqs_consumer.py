"""Consumes CodeCommit change events from SQS while this replica is the leader.

A message that names our branch wakes the loop and is deleted once a cycle that
started after it loaded the branch's commit (it was handled: AWS errors in that
cycle are the cycle's business, not the message's); until then its visibility is
extended, so it is not redelivered while the cycle runs, and a redelivery of the
same message id is recognised, not queued twice. Events for other branches or
repositories are handled by ignoring them and deleted at once; unparseable
bodies are left for the queue's redrive policy (DLQ).
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

    def extend(self, receipt_handle: str, seconds: int) -> None: ...


class SqsConsumer:
    def __init__(self, queue: Queue, wakeup: Wakeup, branch: str, metrics: Metrics, *,
                 repository: str | None = None, wait_seconds: int = 20,
                 is_leader: Callable[[], bool] = lambda: True, monotonic: Callable[[], float] = time.monotonic,
                 visibility_seconds: int = 120) -> None:
        self.queue, self.wakeup, self.branch, self.metrics = queue, wakeup, branch, metrics
        self.repository, self.wait_seconds = repository, wait_seconds
        self.is_leader, self._monotonic = is_leader, monotonic
        self._pending: dict[str, tuple[float, QueueMessage]] = {}  # message id -> (received, latest copy)
        self.visibility_seconds = visibility_seconds
        self._extended_at = monotonic()
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
                known = self._pending.get(msg.message_id)
                # A redelivery carries a new receipt handle (the old one no longer deletes it).
                self._pending[msg.message_id] = (known[0] if known else self._monotonic(), msg)
            if known is not None:
                self.metrics.sqs_messages.labels("redelivered").inc()
                continue
            for hint in relevant:
                log.info("codecommit_push", commit=hint.after, repository=hint.repository)
                self.wakeup.notify("sqs", hint)
            woke += 1
        return woke

    def handled(self, cycle_started: float) -> None:
        """A cycle that started at `cycle_started` (monotonic) completed: earlier messages are done."""
        with self._lock:
            done = [m for t, m in self._pending.values() if t <= cycle_started]
            for msg in done:
                del self._pending[msg.message_id]
        for msg in done:
            self._delete(msg, "handled")

    def extend_pending(self) -> None:
        """Push back the visibility timeout of messages still waiting for their cycle."""
        with self._lock:
            pending = [m for _, m in self._pending.values()]
        for msg in pending:
            try:
                self.queue.extend(msg.receipt_handle, self.visibility_seconds)
            except AwsError as exc:  # redelivered later and recognised by its id: harmless
                log.warning("sqs_extend_failed", message_id=msg.message_id, error=str(exc))

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
                if self._monotonic() - self._extended_at >= self.visibility_seconds / 3:
                    self._extended_at = self._monotonic()
                    self.extend_pending()
                self.poll_once()
            except AwsError as exc:
                log.warning("sqs_unreachable", error=str(exc))
                self._stop.wait(5.0)

    def stop(self) -> None:
        self._stop.set()
