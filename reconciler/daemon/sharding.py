"""What a sharded replica needs besides its leases: pushes heard by every replica, and reports
sent by the replica whose shard they are about.

Any replica may receive a push (the load balancer picks one for a webhook, the holder of the
GLOBAL shard consumes SQS) or a chat approval, but the services it concerns may be held by
another replica. The receiver writes a signal item in the state table; every replica reads it
every `RECONCILER_SHARD_SIGNAL_INTERVAL` (one strongly consistent GetItem per kind) and wakes
its own loop, which then reads the branch head from git itself, as for any push.
  pk="signals#<instance>"  sk="git" | "full"  value={"seq": …, "after": <sha or null>, "source": …}
Polling git from every replica every second instead would load the git server (GitLab and
CodeCommit rate-limit clones and ls-remote); the table is already there and a read costs little.
"""
from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from reconciler.aws.errors import AwsError
from reconciler.daemon.wakeup import Wakeup
from reconciler.events import ReportEvent, ReportSink
from reconciler.log import get_logger
from reconciler.source.hooks import PushHint

log = get_logger(__name__)

#: Wake reasons every replica must hear, by signal item: a moved branch, or a full cycle
#: (an approval given, `sync ENV` from chat).
SIGNALS = {"webhook": "git", "sqs": "git", "drift": "full"}
#: How a replica wakes for a signal another replica wrote.
WAKE_FOR = {"git": "webhook", "full": "drift"}


class KeyValue(Protocol):
    """reconciler.aws.state_table.StateTable."""

    def get(self, namespace: str, key: str) -> str | None: ...

    def put(self, namespace: str, key: str, value: str, ttl_seconds: float | None = ...) -> None: ...


class SharedWakeup(Wakeup):
    """A Wakeup whose push and full-cycle reasons also reach the other replicas (through the table)."""

    def __init__(self, table: KeyValue, instance: str) -> None:
        super().__init__()
        self.table, self.namespace = table, f"signals#{instance}"
        self.published: set[str] = set()  # seqs this replica wrote (it woke itself already)

    def notify(self, reason: str, hint: PushHint | None = None) -> None:
        super().notify(reason, hint)
        kind = SIGNALS.get(reason)
        if kind is None:
            return
        seq = uuid.uuid4().hex
        body = {"seq": seq, "after": hint.after if hint else None, "source": hint.source if hint else None,
                "branch": hint.branch if hint else None}
        self.published.add(seq)
        try:
            self.table.put(self.namespace, kind, json.dumps(body), ttl_seconds=24 * 3600)
        except AwsError as exc:  # the others still see the push at their next poll of git
            log.warning("signal_unwritable", kind=kind, error=str(exc))

    def notify_local(self, reason: str, hint: PushHint | None = None) -> None:
        super().notify(reason, hint)


class SignalWatcher:
    """Reads the signal items every `interval` and wakes the local loop for each new one."""

    def __init__(self, wakeup: SharedWakeup, interval: float = 1.0) -> None:
        self.wakeup, self.interval = wakeup, interval
        self._seen: dict[str, str | None] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_once(self) -> list[str]:
        """Wake for every signal written since the last poll; returns the kinds that woke the loop."""
        woke = []
        for kind, reason in WAKE_FOR.items():
            raw = self.wakeup.table.get(self.wakeup.namespace, kind)
            first = kind not in self._seen
            if raw == self._seen.get(kind) or raw is None:
                self._seen[kind] = raw
                continue
            self._seen[kind] = raw
            try:
                body: dict[str, Any] = json.loads(raw)
            except ValueError:
                continue
            if first or body.get("seq") in self.wakeup.published:
                continue  # older than this replica, or written (and acted on) by it
            hint = PushHint(source=str(body.get("source") or "signal"), branch=body.get("branch"),
                            after=body.get("after")) if kind == "git" else None
            log.info("signal_received", kind=kind, commit=(body.get("after") or "")[:8] or None)
            self.wakeup.notify_local(reason, hint)
            woke.append(kind)
        return woke

    def start(self) -> None:
        try:
            self.poll_once()  # the baseline: signals from before this replica started are not news
        except AwsError as exc:
            log.warning("signal_unreadable", error=str(exc))
        self._thread = threading.Thread(target=self._run, name="signals", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll_once()
            except AwsError as exc:
                log.warning("signal_unreadable", error=str(exc))

    def stop(self) -> None:
        self._stop.set()


class ShardSink:
    """Sends a report only from the replica whose shard it is about: a service's report from the
    holder of its shard, an environment's from a holder of one of its shards, the rest (the
    repository as a whole) from the holder of GLOBAL. Degradations are what each replica sees:
    every replica sends them, and the shared dedup store keeps one message per state."""

    def __init__(self, target: ReportSink, owns: Callable[[str], bool], owns_environment: Callable[[str], bool],
                 owns_global: Callable[[], bool]) -> None:
        self.target = target
        self.owns, self.owns_environment, self.owns_global = owns, owns_environment, owns_global

    def sends(self, event: ReportEvent) -> bool:
        if event.kind in ("reconciler_degraded", "reconciler_recovered"):
            return True
        if event.services:
            first = min(event.services, key=lambda s: (s.environment, s.service))
            return self.owns(f"{first.environment}/{first.service}")
        if event.environment:
            return self.owns_environment(event.environment)
        return self.owns_global()

    def emit(self, event: ReportEvent) -> None:
        if self.sends(event):
            self.target.emit(event)
