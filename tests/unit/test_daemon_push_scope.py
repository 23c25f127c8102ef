"""A push cycle reads, plans and applies only the services its commit changed (plus any not
settled at the commit before); the drift scan stays complete. Real planner, fake AWS."""
from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from test_daemon_loop import SHA1, SHA2, FakeSource
from test_plan_build import live_from, spec

from reconciler.apply import ApplyResult, ServiceResult
from reconciler.daemon.loop import LoopSettings, Reconciler, RelaySink
from reconciler.daemon.metrics import Metrics
from reconciler.daemon.status import StatusBoard
from reconciler.events import ListSink
from reconciler.model import (
    ApprovalPolicy,
    DesiredState,
    Environment,
    LiveEnvironment,
    LiveService,
    ServiceSpec,
    SyncPolicy,
)
from reconciler.plan import Plan

SHA3 = "3" * 40
POLICY = SyncPolicy(automated=True, self_heal=False)


def image(s: ServiceSpec, tag: str) -> ServiceSpec:
    td = {**s.task_definition, "containerDefinitions": [
        {**c, "image": c["image"].rsplit(":", 1)[0] + ":" + tag} for c in s.task_definition["containerDefinitions"]]}
    return ServiceSpec(s.environment, s.name, s.service, td, s.gitops, s.service_file, s.taskdef_file)


class Aws:
    """Live services by key; applying a service makes AWS run its spec (unless told to fail)."""

    def __init__(self) -> None:
        self.services: dict[str, LiveService] = {}
        self.full_reads = 0
        self.scoped_reads: list[set[str]] = []
        self.applied: list[list[str]] = []
        self.failing: set[str] = set()
        self.running: set[str] = set()  # deployments left in progress (apply does not wait)

    def read(self, desired: DesiredState) -> dict[str, LiveEnvironment]:
        self.full_reads += 1
        return self._live(desired, None)

    def read_scoped(self, desired: DesiredState, keys: Collection[str]) -> dict[str, LiveEnvironment]:
        self.scoped_reads.append(set(keys))
        return self._live(desired, set(keys))

    def _live(self, desired: DesiredState, keys: set[str] | None) -> dict[str, LiveEnvironment]:
        out: dict[str, LiveEnvironment] = {}
        for env in desired.environments:
            out[env] = LiveEnvironment(env, {k.partition("/")[2]: v for k, v in self.services.items()
                                             if k.startswith(env + "/") and (keys is None or k in keys)})
        return out

    def apply(self, plan: Plan, **kwargs: object) -> ApplyResult:
        self.applied.append([sp.key for sp in plan.services])
        results = []
        for sp in plan.services:
            failed = sp.key in self.failing
            if not failed and sp.spec is not None:
                self.services[sp.key] = live_from(sp.spec)
            status = "failed" if failed else "in_progress" if sp.key in self.running else "succeeded"
            results.append(ServiceResult(sp.environment, sp.name, sp.action, status))
        return ApplyResult(tuple(results))


class Setup:
    def __init__(self, policy: SyncPolicy = POLICY) -> None:
        self.aws = Aws()
        self.source = FakeSource()
        self.states: dict[str, DesiredState] = {}
        self.env = Environment("staging", "staging", "eu-west-1", sync_policy=policy)
        self.board = StatusBoard()
        self.rec = Reconciler(self.source, self.load, self.aws.read, self.aws, RelaySink(ListSink()), self.board,
                              Metrics(), LoopSettings(backoff_base=30, backoff_max=120), clock=lambda: 1e6,
                              read_scoped=self.aws.read_scoped)

    def commit(self, sha: str, *specs: ServiceSpec) -> None:
        self.states[sha] = DesiredState(environments={"staging": self.env}, services=specs)
        self.source.head = sha

    def load(self, root: Path) -> DesiredState:
        return self.states[self.source.head]


def started(setup: Setup, *specs: ServiceSpec) -> None:
    """First (complete) cycle at SHA1 with AWS already running every spec."""
    setup.commit(SHA1, *specs)
    setup.aws.services = {s.key: live_from(s) for s in specs}
    first = setup.rec.cycle(full=True)
    assert first.full and first.scoped is None and setup.aws.full_reads == 1


def test_push_reads_plans_and_applies_only_the_changed_service() -> None:
    s = Setup()
    web, api, worker = spec("web"), spec("api"), spec("worker")
    started(s, web, api, worker)
    s.commit(SHA2, image(web, "2.0.0"), api, worker)
    result = s.rec.cycle(full=False)
    assert result.scoped == 1 and not result.full and result.applied == 1
    assert s.aws.scoped_reads == [{"staging/web"}] and s.aws.full_reads == 1
    assert s.aws.applied == [["staging/web"]]
    assert set(s.board.keys()) == {"staging/web", "staging/api", "staging/worker"}  # the others keep their state
    assert {k: m.synced_commit for k, m in s.rec.memory.items()} == dict.fromkeys(s.board.keys(), SHA2)
    # The drift scan stays complete, and finds everything in sync.
    s.aws.services["staging/api"] = live_from(api, desired_count=7)
    scan = s.rec.cycle(full=True)
    assert scan.full and s.aws.full_reads == 2 and s.aws.applied == [["staging/web"]]
    assert s.board.to_json()["services"]["staging/api"]["sync"] == "OutOfSync"  # drift seen by the full scan only


def test_a_service_that_failed_at_the_previous_commit_is_retried_by_the_next_push() -> None:
    s = Setup()
    web, api = spec("web"), spec("api")
    started(s, web, api)
    s.aws.failing = {"staging/api"}
    s.commit(SHA2, web, image(api, "2.0.0"))
    assert s.rec.cycle(full=False).scoped == 1 and s.rec.memory["staging/api"].failed_commit == SHA2
    s.aws.failing = set()
    s.commit(SHA3, image(web, "3.0.0"), image(api, "2.0.0"))
    result = s.rec.cycle(full=False)  # a newer commit supersedes the failed one, also for api
    assert s.aws.scoped_reads[-1] == {"staging/web", "staging/api"} and result.scoped == 2
    assert sorted(s.aws.applied[-1]) == ["staging/api", "staging/web"]


def test_removed_service_is_read_and_planned_as_an_orphan() -> None:
    s = Setup()
    web, api = spec("web"), spec("api")
    started(s, web, api)
    s.commit(SHA2, web)
    result = s.rec.cycle(full=False)
    assert result.scoped == 1 and s.aws.scoped_reads == [{"staging/api"}] and s.aws.applied == []
    assert s.board.to_json()["services"]["staging/api"]["action"] == "orphan"  # prune off: reported, kept


def test_no_scope_with_an_approval_gate_or_while_deployments_must_be_followed() -> None:
    s = Setup(SyncPolicy(automated=True, approval=ApprovalPolicy(users=("U1",))))
    web = spec("web")
    started(s, web)
    s.commit(SHA2, image(web, "2.0.0"))
    assert s.rec.cycle(full=False).full and s.aws.full_reads == 2 and s.aws.scoped_reads == []
    s = Setup()
    started(s, web)
    s.rec.leadership_gained()
    s.commit(SHA2, image(web, "2.0.0"))
    assert s.rec.cycle(full=False).full and s.aws.scoped_reads == []


def test_a_drift_scan_at_a_new_commit_is_complete() -> None:
    s = Setup()
    web, api = spec("web"), spec("api")
    started(s, web, api)
    s.commit(SHA2, image(web, "2.0.0"), api)
    result = s.rec.cycle(full=True)
    assert result.full and result.scoped is None and s.aws.full_reads == 2 and s.aws.scoped_reads == []


def test_a_deployment_left_in_progress_is_followed_by_the_next_push() -> None:
    s = Setup()
    web, api, worker = spec("web"), spec("api"), spec("worker")
    started(s, web, api, worker)
    s.aws.running = {"staging/web"}
    s.commit(SHA2, image(web, "2.0.0"), api, worker)
    assert s.rec.cycle(full=False).scoped == 1
    s.aws.running = set()
    s.commit(SHA3, image(web, "2.0.0"), image(api, "3.0.0"), worker)
    result = s.rec.cycle(full=False)  # api changed; web is still followed; worker is not read
    assert result.scoped == 2 and s.aws.scoped_reads[-1] == {"staging/web", "staging/api"}
