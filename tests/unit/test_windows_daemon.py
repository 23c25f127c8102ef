"""The daemon's cycle under sync windows (fakes from test_daemon_loop): held, said once, resumed."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from test_daemon_loop import SCALE, Harness

from reconciler.model import DesiredState, Environment, FieldChange, SyncPolicy, SyncWindow

# Every day 00:00-01:00 UTC; the harness clock starts at 1970-01-12 13:46:40 UTC.
NIGHT = SyncWindow(kind="deny", schedule="0 0 * * *", duration_seconds=3600)
MIDNIGHT = dt.datetime(1970, 1, 13, tzinfo=dt.UTC).timestamp()


class WindowHarness(Harness):
    def __init__(self) -> None:
        super().__init__()
        self.now = MIDNIGHT + 60  # inside the window

    def load(self, root: Path) -> DesiredState:
        env = Environment("staging", "staging", "eu-west-1", sync_windows=(NIGHT,))
        return DesiredState(environments={"staging": env}, services=())


def test_a_git_change_waits_for_the_window_says_so_once_and_applies_when_it_closes() -> None:
    h = WindowHarness()
    h.world.services["staging/web"] = ("update", (FieldChange("taskDefinition/image", "b", "a"),), {})
    first = h.rec.cycle(full=True)
    h.now += 600
    h.rec.cycle(full=True)
    assert h.applier.calls == []
    assert h.kinds() == ["window_held"]
    held = h.events.events[0].services[0]
    assert held.message == "automated sync waits: staging frozen until Tue 01:00 UTC"
    assert first.next_retry_at == MIDNIGHT + 3600  # the daemon wakes when the window closes
    status = h.board.to_json()
    assert status["services"]["staging/web"]["reason"] == "staging frozen until Tue 01:00 UTC"
    assert status["syncWindows"]["staging"][0]["untilLocal"] == "Tue 01:00 UTC"
    h.now = MIDNIGHT + 3600
    r = h.rec.cycle(full=False)  # a head check: the closed window makes it a full pass
    assert r.full and h.applier.calls == [["staging/web"]]


def test_self_heal_waits_but_drift_is_still_reported() -> None:
    h = WindowHarness()
    h.world.policy = SyncPolicy(automated=True, self_heal=True)
    h.world.services["staging/web"] = ("in-sync", (), {})
    h.rec.cycle(full=True)
    h.world.services["staging/web"] = ("update", (SCALE,), {})
    h.rec.cycle(full=True)
    assert h.applier.calls == [] and h.kinds() == ["drift_detected"]
    report = h.events.events[0].services[0]
    assert report.action == "report-only"
    assert report.message == "self-heal waits: staging frozen until Tue 01:00 UTC"
    h.now = MIDNIGHT + 3601
    h.rec.cycle(full=True)
    assert h.applier.calls == [["staging/web"]]
