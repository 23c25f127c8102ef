"""The reconcile cycle with fakes: policy, backoff, drift and degraded reports, standby, status."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reconciler.apply import ApplyResult, ServiceResult
from reconciler.apply.marker import APPLIED_TAG, applied_marker
from reconciler.daemon.loop import LoopSettings, Reconciler, RelaySink
from reconciler.daemon.metrics import Metrics
from reconciler.daemon.status import StatusBoard
from reconciler.events import CommitInfo, ListSink
from reconciler.model import (
    DesiredState,
    Drift,
    Environment,
    FieldChange,
    GitOpsSettings,
    Issue,
    LiveEnvironment,
    LiveService,
    ServiceSpec,
    SyncPolicy,
)
from reconciler.plan import Plan, ServicePlan
from reconciler.source.git import GitError, Snapshot

SHA1, SHA2 = "1" * 40, "2" * 40
SCALE = FieldChange(path="service/desiredCount", desired=2, live=5)


class FakeSource:
    def __init__(self) -> None:
        self.head = SHA1
        self.fail = False
        self.last_fetch_seconds = 0.01
        self.calls = 0

    def resolve(self, current: Snapshot | None = None) -> Snapshot:
        self.calls += 1
        if self.fail:
            raise GitError("ls-remote", "fatal: unable to connect to 127.0.0.1")
        if current is not None and current.sha == self.head:
            return current
        return Snapshot(CommitInfo(sha=self.head, title="t", author="a"), Path("/nonexistent"))


@dataclass
class World:
    """What the fake planner returns: key -> (action, changes, tags)."""

    services: dict[str, tuple[str, tuple[FieldChange, ...], dict[str, str]]] = field(default_factory=dict)
    policy: SyncPolicy = SyncPolicy(automated=True, self_heal=False)
    issues: tuple[Issue, ...] = ()
    broken: frozenset[str] = frozenset()
    specs: dict[str, ServiceSpec] = field(default_factory=dict)
    live_extra: dict[str, dict[str, object]] = field(default_factory=dict)  # key -> more DescribeServices fields
    plans: int = 0

    def plan(self, desired: DesiredState, live, instance: str) -> Plan:
        self.plans += 1
        out = []
        for key, (action, changes, tags) in sorted(self.services.items()):
            env, _, name = key.partition("/")
            live_svc = LiveService(env, name, f"arn:{name}", {"tags": [{"key": k, "value": v} for k, v in tags.items()],
                                                             "desiredCount": 2, "runningCount": 2,
                                                             **self.live_extra.get(key, {})}, None)
            out.append(ServicePlan(env, name, action, spec=self.specs.get(key), live=live_svc, drift=Drift(changes),
                                   policy=self.policy))
        out += [ServicePlan(k.partition("/")[0], k.partition("/")[2], "invalid") for k in sorted(self.broken)]
        return Plan(services=tuple(out), issues=self.issues, commit=desired.commit)


class FakeApplier:
    def __init__(self, world: World) -> None:
        self.world = world
        self.calls: list[list[str]] = []
        self.status = "succeeded"

    def apply(self, plan: Plan, **kwargs) -> ApplyResult:
        self.calls.append([sp.key for sp in plan.services])
        results = []
        for sp in plan.services:
            results.append(ServiceResult(sp.environment, sp.name, sp.action, self.status, deployment_id="ecs-svc/1"))
            if self.status == "succeeded":
                self.world.services[sp.key] = ("in-sync", (), {})
        return ApplyResult(tuple(results))


class Harness:
    def __init__(self, leader: bool = True) -> None:
        self.now = 1_000_000.0
        self.world = World()
        self.source = FakeSource()
        self.applier = FakeApplier(self.world)
        self.events = ListSink()
        self.board = StatusBoard()
        self.leader = leader
        self.loads = 0
        self.rec = Reconciler(self.source, self.load, lambda d: {"staging": LiveEnvironment("staging")},
                              self.applier, RelaySink(self.events), self.board, Metrics(),
                              LoopSettings(backoff_base=30, backoff_max=120), is_leader=lambda: self.leader,
                              clock=lambda: self.now, planner=self.world.plan)

    def load(self, root: Path) -> DesiredState:
        self.loads += 1
        return DesiredState(environments={"staging": Environment("staging", "staging", "eu-west-1")},
                            services=(), issues=self.world.issues, broken_services=self.world.broken)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events.events]


def test_git_change_applied_once_then_synced() -> None:
    h = Harness()
    h.world.services["staging/web"] = ("update", (FieldChange("taskDefinition/image", "b", "a"),), {})
    r = h.rec.cycle(full=True)
    assert r.ok and r.applied == 1 and h.applier.calls == [["staging/web"]]
    status = h.board.to_json()["services"]["staging/web"]
    assert status["sync"] == "Synced" and status["lastAppliedCommit"] == SHA1
    assert status["history"][0]["status"] == "succeeded"
    h.rec.cycle(full=True)
    assert len(h.applier.calls) == 1  # in sync now: nothing more to apply
    assert "drift_detected" not in h.kinds()


def test_head_only_cycle_does_not_read_aws_when_git_did_not_move() -> None:
    h = Harness()
    h.rec.cycle(full=True)
    plans = h.world.plans
    r = h.rec.cycle(full=False)
    assert not r.full and h.world.plans == plans and h.source.calls == 2
    h.source.head = SHA2
    assert h.rec.cycle(full=False).full  # git moved: a full pass without waiting for the drift scan


def test_drift_reported_once_without_self_heal_then_resolved() -> None:
    h = Harness()
    h.world.services["staging/web"] = ("in-sync", (), {})
    h.rec.cycle(full=True)
    h.world.services["staging/web"] = ("update", (SCALE,), {})
    h.rec.cycle(full=True)
    h.rec.cycle(full=True)
    assert h.applier.calls == []  # self-heal off: reported, not reverted
    assert h.kinds() == ["drift_detected"]
    report = h.events.events[0].services[0]
    assert report.action == "report-only" and report.changes == (SCALE,)
    assert h.board.to_json()["services"]["staging/web"]["sync"] == "OutOfSync"
    h.world.services["staging/web"] = ("update", (FieldChange("service/desiredCount", 2, 7),), {})
    h.rec.cycle(full=True)
    assert h.kinds() == ["drift_detected", "drift_detected"]  # a different drift is news
    h.world.services["staging/web"] = ("in-sync", (), {})
    h.rec.cycle(full=True)
    assert h.kinds()[-1] == "drift_resolved"


def test_self_heal_reverts_drift() -> None:
    h = Harness()
    h.world.policy = SyncPolicy(automated=True, self_heal=True)
    h.world.services["staging/web"] = ("in-sync", (), {})
    h.rec.cycle(full=True)
    h.world.services["staging/web"] = ("update", (SCALE,), {})
    h.rec.cycle(full=True)
    assert h.applier.calls == [["staging/web"]]
    assert h.kinds() == ["drift_detected", "drift_resolved"]
    assert h.events.events[0].services[0].action == "self-heal"
    assert h.board.to_json()["services"]["staging/web"]["history"][0]["action"] == "self-heal"


def test_not_automated_only_reports_git_changes() -> None:
    h = Harness()
    h.world.policy = SyncPolicy(automated=False)
    h.world.services["staging/web"] = ("update", (SCALE,), {})
    h.rec.cycle(full=True)
    assert h.applier.calls == [] and h.kinds() == ["drift_detected"]


def test_failed_commit_backs_off_and_newer_commit_supersedes() -> None:
    h = Harness()
    h.applier.status = "failed"
    h.world.services["staging/web"] = ("update", (SCALE,), {})
    r = h.rec.cycle(full=True)
    assert r.next_retry_at == h.now + 30
    assert h.board.to_json()["services"]["staging/web"]["lastError"] == "failed"
    h.now += 10
    h.rec.cycle(full=True)
    assert len(h.applier.calls) == 1  # within the backoff: not retried
    h.now += 25
    r = h.rec.cycle(full=True)
    assert len(h.applier.calls) == 2 and r.next_retry_at == h.now + 60  # doubled
    h.source.head = SHA2
    h.now += 1
    h.rec.cycle(full=False)
    assert len(h.applier.calls) == 3  # a newer commit goes at once


def test_broken_manifest_reported_once_others_still_applied() -> None:
    h = Harness()
    h.world.issues = (Issue("environments/staging/api/service.yaml", 3, "service.desiredCount", "not an integer"),)
    h.world.broken = frozenset({"staging/api"})
    h.world.services["staging/web"] = ("update", (SCALE,), {})
    h.rec.cycle(full=True)
    h.rec.cycle(full=True)
    assert h.kinds() == ["manifest_invalid"]
    assert h.events.events[0].issues == (str(h.world.issues[0]),)
    assert h.applier.calls == [["staging/web"]]
    assert h.board.to_json()["services"]["staging/api"]["sync"] == "Unknown"


def test_git_unreachable_degrades_once_and_recovers() -> None:
    h = Harness()
    h.rec.cycle(full=True)
    h.source.fail = True
    r = h.rec.cycle(full=False)
    assert not r.ok
    h.rec.cycle(full=True)  # drift scans go on against the last known commit
    assert h.kinds() == ["reconciler_degraded"]
    assert h.events.events[0].reason == "git unreachable"
    assert "git" in h.board.to_json()["degraded"]
    h.source.fail = False
    assert h.rec.cycle(full=False).ok
    assert h.kinds() == ["reconciler_degraded", "reconciler_recovered"]


def test_standby_observes_but_never_applies_or_reports() -> None:
    h = Harness(leader=False)
    h.world.services["staging/web"] = ("update", (SCALE,), {})
    h.rec.cycle(full=True)
    assert h.applier.calls == [] and h.events.events == []
    assert h.board.to_json()["services"]["staging/web"]["sync"] == "OutOfSync"
    h.leader = True
    h.rec.leadership_gained()
    h.rec.cycle(full=True)
    assert h.applier.calls == [["staging/web"]]  # takes over: the commit is applied once


def test_paused_by_manual_rollback_until_git_moves() -> None:
    h = Harness()
    h.world.services["staging/web"] = ("update", (SCALE,), {"ecs-reconciler:paused-at-commit": SHA1})
    h.rec.cycle(full=True)
    assert h.applier.calls == []
    h.source.head = SHA2
    h.rec.cycle(full=False)
    assert h.applier.calls == [["staging/web"]]


def test_unloadable_repository_is_degraded_not_empty() -> None:
    h = Harness()

    def broken(root: Path) -> DesiredState:
        raise RuntimeError("environments/ missing")

    h.rec.load = broken
    r = h.rec.cycle(full=True)
    assert not r.ok and h.world.plans == 0 and h.applier.calls == []
    assert h.kinds() == ["reconciler_degraded"]


def test_relay_sink_marks_self_heal_syncs() -> None:
    from reconciler.events import ReportEvent, ServiceReport

    target = ListSink()
    relay = RelaySink(target)
    relay.self_heal = {"staging/web": "sig"}
    ev = ReportEvent(kind="sync_succeeded", environment="staging", commit=CommitInfo(SHA1),
                     services=(ServiceReport("staging", "web"),))
    relay.emit(ev)
    relay.emit(ReportEvent(kind="sync_succeeded", services=(ServiceReport("staging", "api"),)))
    assert target.events[0].extra["dedup_key"].endswith(":self-heal:sig")
    assert "dedup_key" not in target.events[1].extra


def _spec(image: str) -> ServiceSpec:
    return ServiceSpec("staging", "web", {"desiredCount": 2},
                       {"family": "web", "containerDefinitions": [{"name": "web", "image": image}]},
                       GitOpsSettings(), "service.yaml", "taskdef.json")


def test_restart_takes_a_difference_on_an_applied_declaration_for_drift() -> None:
    """A restarted daemon has no memory; the applied-spec tag tells it the declaration was applied,
    so with self-heal off a hand-made change is reported, not reverted."""
    spec = _spec("web:1")
    restarted = Harness()  # fresh memory, as after a restart
    restarted.world.specs["staging/web"] = spec
    restarted.world.services["staging/web"] = ("update", (SCALE,), {APPLIED_TAG: applied_marker(spec)})
    restarted.rec.cycle(full=True)
    restarted.rec.cycle(full=True)
    assert restarted.applier.calls == []
    assert restarted.kinds() == ["drift_detected"]
    assert restarted.events.events[0].services[0].action == "report-only"
    # Git moves without touching this service: still drift, still not reverted.
    restarted.source.head = SHA2
    restarted.rec.cycle(full=False)
    assert restarted.applier.calls == []


def test_restart_applies_a_declaration_that_was_never_applied() -> None:
    """The marker of an older declaration (or none) means git changed: apply, even after a restart."""
    h = Harness()
    h.world.specs["staging/web"] = _spec("web:2")
    h.world.services["staging/web"] = ("update", (FieldChange("taskDefinition/image", "web:2", "web:1"),),
                                       {APPLIED_TAG: applied_marker(_spec("web:1"))})
    h.rec.cycle(full=True)
    assert h.applier.calls == [["staging/web"]]


def test_restart_with_self_heal_on_reverts_drift_as_self_heal() -> None:
    h = Harness()
    h.world.policy = SyncPolicy(automated=True, self_heal=True)
    spec = _spec("web:1")
    h.world.specs["staging/web"] = spec
    h.world.services["staging/web"] = ("update", (SCALE,), {APPLIED_TAG: applied_marker(spec)})
    h.rec.cycle(full=True)
    assert h.applier.calls == [["staging/web"]]
    assert h.board.to_json()["services"]["staging/web"]["history"][0]["action"] == "self-heal"


def test_a_standby_that_saw_a_rollout_in_flight_applies_the_change_after_its_rollback() -> None:
    """In sync only once the deployment ended: a standby that saw the dead leader's deployment rolling
    out, then rolled back by ECS, takes the change over as not applied (the applier then records the
    failure AWS knows), never as drift."""
    h = Harness(leader=False)
    h.rec.cycle(full=True)
    h.source.head = SHA2
    h.world.services["staging/web"] = ("in-sync", (), {})
    h.world.live_extra["staging/web"] = {"deployments": [{"id": "ecs-svc/2", "status": "PRIMARY",
                                                          "rolloutState": "IN_PROGRESS"}]}
    h.rec.cycle(full=True)
    h.world.services["staging/web"] = ("update", (FieldChange("taskDefinition/image", "b", "a"),), {})
    h.world.live_extra.clear()  # the circuit breaker rolled it back while nobody led
    h.leader = True
    h.rec.cycle(full=True)
    assert h.applier.calls == [["staging/web"]] and "drift_detected" not in h.kinds()


def test_restart_keeps_a_failure_recorded_in_aws_and_does_not_apply_it() -> None:
    """The failed-spec tag (written by whoever observed AWS fail the deployment): not applied again,
    and /status says why, also for a daemon that never saw the failure itself."""
    from reconciler.model import FAILED_TAG

    h = Harness()
    spec = _spec("web:2")
    h.world.specs["staging/web"] = spec
    h.world.services["staging/web"] = ("update", (FieldChange("taskDefinition/image", "web:2", "web:1"),),
                                       {FAILED_TAG: applied_marker(spec)})
    h.rec.cycle(full=True)
    h.rec.cycle(full=True)
    assert h.applier.calls == [] and "drift_detected" not in h.kinds()
    web = h.board.to_json()["services"]["staging/web"]
    assert web["sync"] == "OutOfSync" and "rolled back" in web["lastError"]
    assert h.rec.cycle(full=True).next_retry_at is None  # no retry is due: nothing to wake up for
