"""One catch per cycle: a crash is reported once, backed off (never retried at once), and makes
the replica unready after N failed cycles in a row; a failed load is cached per commit."""
from __future__ import annotations

import threading
from pathlib import Path

from test_daemon_loop import SHA2, Harness

from reconciler.daemon.leader import Leadership
from reconciler.daemon.loop import CycleResult
from reconciler.daemon.runner import Daemon
from reconciler.daemon.wakeup import Wakeup
from reconciler.manifests import ManifestError
from reconciler.model import DesiredState


def test_crashing_cycle_is_reported_once_and_backed_off() -> None:
    h = Harness()
    h.world.plan = lambda *a: (_ for _ in ()).throw(KeyError("boom"))  # type: ignore[method-assign]
    h.rec.planner = h.world.plan
    first = h.rec.cycle(full=True)
    second = h.rec.cycle(full=True)
    assert first.crashed and not first.ok and second.crashed
    assert first.next_retry_at == h.now + 30 and second.next_retry_at == h.now + 60  # exponential backoff
    assert h.kinds() == ["reconciler_degraded"]  # once, not per crash
    assert h.events.events[0].reason == "reconcile cycle failed"
    assert "KeyError" in h.events.events[0].extra["error"]
    assert h.board.to_json()["degraded"] == {"cycle": "reconcile cycle failed"}
    h.rec.planner = lambda *a: __import__("reconciler.plan", fromlist=["Plan"]).Plan(services=())
    assert h.rec.cycle(full=True).ok
    assert h.kinds() == ["reconciler_degraded", "reconciler_recovered"]


def test_failed_load_is_cached_per_commit_and_reported_once_per_commit() -> None:
    h = Harness()
    calls: list[Path] = []

    def bomb(root: Path) -> DesiredState:
        calls.append(root)
        raise ManifestError("a.yaml:3: more than 200 aliases")

    h.rec.load = bomb
    for _ in range(5):
        assert not h.rec.cycle(full=True).ok
    assert len(calls) == 1  # one parse per commit, not per cycle
    assert h.kinds() == ["reconciler_degraded"]
    h.source.head = SHA2
    h.rec.cycle(full=False)
    assert len(calls) == 2 and h.kinds() == ["reconciler_degraded", "reconciler_degraded"]  # a new bad commit


class Crashing:
    """A reconciler whose cycles all crash (as the real one reports them)."""

    def __init__(self, clock: list[float], daemon_ref: list[Daemon], stop_after: int) -> None:
        self.clock, self.daemon_ref, self.stop_after = clock, daemon_ref, stop_after
        self.calls = 0

    def cycle(self, *, full: bool) -> CycleResult:
        self.calls += 1
        if self.calls >= self.stop_after:
            self.daemon_ref[0].request_stop()
        return CycleResult(full=False, ok=False, crashed=True, next_retry_at=self.clock[0] + 30)


class SteppingWakeup(Wakeup):
    """Advances the fake clock by however long the loop asked to wait (no real waiting)."""

    def __init__(self, clock: list[float]) -> None:
        super().__init__()
        self.clock = clock

    def wait(self, timeout: float):  # type: ignore[override]
        self.clock[0] += timeout
        return set(), []


def test_crash_loop_runs_at_the_backoff_rate_and_turns_unready() -> None:
    clock = [0.0]
    ref: list[Daemon] = []
    rec = Crashing(clock, ref, stop_after=6)
    daemon = Daemon(rec, SteppingWakeup(clock), Leadership(None), poll_interval=1, drift_interval=2,  # type: ignore[arg-type]
                    clock=lambda: clock[0], unready_after=5)
    ref.append(daemon)
    daemon._completed_cycle = True
    thread = threading.Thread(target=daemon.loop)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    assert rec.calls == 6
    assert clock[0] >= 5 * 30  # each retry waited its backoff: 2 cycles per minute, not 18 per second
    daemon._stop.clear()
    assert daemon.ready() == (False, "6 reconcile cycles failed in a row")


def test_backoff_retries_of_a_failed_commit_report_once_then_success() -> None:
    from test_daemon_loop import SCALE

    from reconciler.events import ReportEvent, ServiceReport

    h = Harness()
    h.world.services["staging/web"] = ("update", (SCALE,), {})

    def apply(plan, **kwargs):  # the applier's own reports go through the relay sink
        h.applier.calls.append([sp.key for sp in plan.services])
        for kind in ("sync_started", h.applier.status == "succeeded" and "sync_succeeded" or "sync_rolled_back"):
            h.rec.sink.emit(ReportEvent(kind=kind, environment="staging", services=(ServiceReport(
                "staging", "web", deployment_id=f"ecs-svc/{len(h.applier.calls)}"),)))
        return FakeApplierResult(h.applier.status)

    h.applier.apply = apply  # type: ignore[method-assign]
    h.applier.status = "rolled_back"
    h.rec.cycle(full=True)
    for _ in range(3):
        h.now += 10_000  # past every backoff
        h.rec.cycle(full=True)
    assert len(h.applier.calls) == 4  # retried after each backoff …
    assert h.kinds() == ["sync_started", "sync_rolled_back"]  # … but reported once
    h.applier.status = "succeeded"
    h.now += 10_000
    h.rec.cycle(full=True)
    assert h.kinds()[-1] == "sync_succeeded"


def FakeApplierResult(status: str):  # noqa: N802 - reads like the type it builds
    from reconciler.apply import ApplyResult, ServiceResult

    return ApplyResult((ServiceResult("staging", "web", "update", status, deployment_id="ecs-svc/x"),))


def test_services_of_a_deleted_environment_are_reported_no_longer_managed() -> None:
    h = Harness()
    h.world.services["staging/web"] = ("in-sync", (), {})
    h.world.services["production/api"] = ("in-sync", (), {})
    h.rec.cycle(full=True)
    del h.world.services["production/api"]
    h.source.head = SHA2
    h.rec.cycle(full=False)
    h.rec.cycle(full=True)
    assert h.kinds() == ["service_unmanaged"]
    event = h.events.events[0]
    assert event.environment == "production" and [s.service for s in event.services] == ["api"]
    assert "not deleted" in event.reason
    assert "production/api" not in h.board.to_json()["services"]
