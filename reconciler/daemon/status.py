"""What the daemon knows about each service, served at GET /status and read by `reconciler status`."""
from __future__ import annotations

import collections
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from reconciler.daemon.health import Health

SyncStatus = Literal["Synced", "OutOfSync", "Unknown"]


@dataclass(frozen=True)
class SyncRecord:
    commit: str
    action: str           # update | create | prune | self-heal
    status: str           # succeeded | failed | rolled_back | in_progress | skipped | noop
    at: str               # ISO-8601, from the injected clock
    deployment_id: str | None = None
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"commit": self.commit, "action": self.action, "status": self.status, "at": self.at,
                "deploymentId": self.deployment_id, "message": self.message}


@dataclass
class ServiceStatus:
    environment: str
    service: str
    sync: SyncStatus = "Unknown"
    health: Health = "Unknown"
    action: str = ""                 # the last plan's action
    reason: str = ""
    drift: list[str] = field(default_factory=list)
    last_applied_commit: str | None = None
    last_error: str | None = None
    progress: str = ""               # the deployment being followed: stage, step, traffic, pause
    history: collections.deque[SyncRecord] = field(default_factory=lambda: collections.deque(maxlen=10))

    def to_json(self) -> dict[str, Any]:
        return {"environment": self.environment, "service": self.service, "sync": self.sync,
                "health": self.health, "action": self.action, "reason": self.reason, "drift": list(self.drift),
                "lastAppliedCommit": self.last_applied_commit, "lastError": self.last_error,
                "progress": self.progress,
                "history": [r.to_json() for r in reversed(self.history)]}


def service_note(svc: Mapping[str, Any]) -> str:
    """What to show next to a service (`reconciler status`, chat `status`): the deployment being
    followed (stage, step, traffic, pause, bake), else the last error, else why it is not in sync."""
    return str(svc.get("progress") or svc.get("lastError") or (
        svc.get("reason") if svc.get("sync") != "Synced" else "") or "")


class StatusBoard:
    """Thread-safe per-service status plus daemon-wide facts (commit, leader, errors)."""

    def __init__(self, history: int = 10) -> None:
        self._lock = threading.Lock()
        self._history = max(1, history)
        self._services: dict[str, ServiceStatus] = {}
        self.daemon: dict[str, Any] = {"commit": None, "leader": False, "cycles": 0, "lastCycleAt": None,
                                       "lastSuccessfulCycleAt": None, "degraded": {}, "manifestIssues": []}

    def service(self, environment: str, name: str) -> ServiceStatus:
        key = f"{environment}/{name}"
        with self._lock:
            status = self._services.get(key)
            if status is None:
                status = ServiceStatus(environment, name, history=collections.deque(maxlen=self._history))
                self._services[key] = status
            return status

    def update(self, environment: str, name: str, **changes: Any) -> None:
        status = self.service(environment, name)
        with self._lock:
            for key, value in changes.items():
                setattr(status, key, value)

    def record(self, environment: str, name: str, record: SyncRecord) -> None:
        status = self.service(environment, name)
        with self._lock:
            status.history.append(record)
            if record.status != "in_progress":
                status.progress = ""  # the deployment it followed has ended

    def progress(self, key: str, line: str) -> None:
        """The applier's progress line of service `env/name` while it follows a deployment."""
        environment, _, name = key.partition("/")
        self.update(environment, name, progress=line)

    def keys(self) -> set[str]:
        with self._lock:
            return set(self._services)

    def retain(self, keys: set[str]) -> None:
        """Forget services that are neither in git nor owned in AWS any more."""
        with self._lock:
            for key in list(self._services):
                if key not in keys:
                    del self._services[key]

    def set_daemon(self, **facts: Any) -> None:
        with self._lock:
            self.daemon.update(facts)

    def counts(self) -> tuple[dict[str, int], dict[str, int]]:
        with self._lock:
            sync = collections.Counter(s.sync for s in self._services.values())
            health = collections.Counter(s.health for s in self._services.values())
        return dict(sync), dict(health)

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {**{k: (dict(v) if isinstance(v, dict) else v) for k, v in self.daemon.items()},
                    "services": {k: s.to_json() for k, s in sorted(self._services.items())}}
