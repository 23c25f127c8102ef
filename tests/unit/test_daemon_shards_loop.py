"""The cycle of a sharded replica (fakes): it plans and reports only the services of the shards
it holds; services of a shard given away leave its /status without a "no longer declared" report;
reports are sent by the holder of the shard they are about; a push heard by one replica wakes all."""
from __future__ import annotations

from pathlib import Path

from test_daemon_loop import SHA2, FakeApplier, FakeSource, World

from reconciler.daemon.approvals import MemoryKeyValue
from reconciler.daemon.loop import LoopSettings, Reconciler, RelaySink
from reconciler.daemon.metrics import Metrics
from reconciler.daemon.sharding import ShardSink, SharedWakeup, SignalWatcher
from reconciler.daemon.status import StatusBoard
from reconciler.events import CommitInfo, ListSink, ReportEvent, ServiceReport
from reconciler.model import DesiredState, Environment, LiveEnvironment, LiveService
from reconciler.plan import Plan
from reconciler.source.hooks import PushHint


class Sharded:
    """A replica's Reconciler with two environments of one service each; `owned` says which it holds."""

    def __init__(self, owned: set[str]) -> None:
        self.world = World()
        for key in ("staging/web", "production/web"):
            self.world.services[key] = ("in-sync", (), {})
        self.events, self.board = ListSink(), StatusBoard()
        self.only: list[frozenset[str] | None] = []
        self.rec = Reconciler(FakeSource(), self.load, self.live, FakeApplier(self.world), RelaySink(self.events),
                              self.board, Metrics(), LoopSettings(), planner=self.plan,
                              owns=lambda key: key.partition("/")[0] in owned)

    @staticmethod
    def load(root: Path) -> DesiredState:
        return DesiredState(environments={name: Environment(name, name, "eu-west-1")
                                          for name in ("staging", "production")}, services=())

    @staticmethod
    def live(desired: DesiredState) -> dict[str, LiveEnvironment]:
        return {name: LiveEnvironment(name, services={"web": LiveService(name, "web", "arn:web", {}, None)})
                for name in desired.environments}

    def plan(self, desired: DesiredState, live, instance: str, only=None) -> Plan:
        self.only.append(None if only is None else frozenset(only))
        plan = self.world.plan(desired, live, instance)
        return Plan(services=tuple(sp for sp in plan.services if only is None or sp.key in only),
                    issues=plan.issues, commit=plan.commit)


def test_only_the_services_of_held_shards_are_planned_and_shown() -> None:
    owned = {"staging"}
    h = Sharded(owned)
    h.rec.cycle(full=True)
    assert h.only[-1] == frozenset({"staging/web"})  # found in AWS, its shard held here
    assert set(h.board.to_json()["services"]) == {"staging/web"}
    owned.clear()
    owned.add("production")  # staging given away, production taken over
    h.rec.cycle(full=True)
    assert h.only[-1] == frozenset({"production/web"})
    assert set(h.board.to_json()["services"]) == {"production/web"}
    assert "service_unmanaged" not in [e.kind for e in h.events.events]  # staging/web is another replica's now


def event(kind: str, env: str | None = None, service: str | None = None) -> ReportEvent:
    services = (ServiceReport(environment=env or "", service=service),) if service else ()
    return ReportEvent(kind=kind, environment=env, services=services, commit=CommitInfo(sha=SHA2, title="t", author="a"))


def test_reports_are_sent_by_the_holder_of_their_shard() -> None:
    out = ListSink()
    sink = ShardSink(out, owns=lambda key: key.startswith("staging/"),
                     owns_environment=lambda env: env == "staging", owns_global=lambda: False)
    sink.emit(event("sync_succeeded", "staging", "web"))
    sink.emit(event("sync_succeeded", "production", "web"))
    sink.emit(event("approval_needed", "staging"))
    sink.emit(event("approval_needed", "production"))
    sink.emit(event("manifest_invalid"))              # the repository as a whole: GLOBAL's holder
    sink.emit(event("reconciler_degraded"))           # what this replica saw: always (dedup is shared)
    assert [(e.kind, e.environment) for e in out.events] == [
        ("sync_succeeded", "staging"), ("approval_needed", "staging"), ("reconciler_degraded", None)]


def test_a_push_heard_by_one_replica_wakes_every_replica_once() -> None:
    table = MemoryKeyValue()
    a, b = SharedWakeup(table, "inst"), SharedWakeup(table, "inst")
    watch_a, watch_b = SignalWatcher(a), SignalWatcher(b)
    table.put("signals#inst", "git", '{"seq": "old"}')
    assert watch_a.poll_once() == [] and watch_b.poll_once() == []  # from before they started: not news
    a.notify("webhook", PushHint(source="gitlab", branch="main", after="c" * 40))
    assert a.wait(0) == (["webhook"], [PushHint(source="gitlab", branch="main", after="c" * 40)])
    assert watch_a.poll_once() == []  # its own signal: already awake for it
    assert watch_b.poll_once() == ["git"]
    reasons, hints = b.wait(0)
    assert reasons == ["webhook"] and hints[0].after == "c" * 40
    assert watch_b.poll_once() == []  # once
    a.notify("drift")  # an approval given on a: the holder of the environment runs a full cycle
    a.notify("leader")  # local only
    assert watch_b.poll_once() == ["full"] and b.wait(0)[0] == ["drift"]
