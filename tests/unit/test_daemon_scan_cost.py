"""What keeps a no-op drift scan cheap and a push prompt: manifests parsed once per commit,
a scan that steps aside for a waiting push, and register pacing with a safety margin."""
from __future__ import annotations

from pathlib import Path

import pytest
from test_daemon_loop import SHA1, SHA2, Harness

from reconciler.apply import ApplyResult
from reconciler.aws.taskdefs import (
    AWS_REGISTER_RATE,
    REGISTER_BURST,
    REGISTER_RATE,
    TokenBucket,
    register_bucket_from_env,
)
from reconciler.daemon.cache import DesiredCache
from reconciler.daemon.leader import Leadership
from reconciler.daemon.loop import CycleResult
from reconciler.daemon.runner import Daemon
from reconciler.daemon.wakeup import Wakeup
from reconciler.model import DesiredState, FieldChange, LiveEnvironment
from reconciler.plan import Plan
from reconciler.source.hooks import PushHint

IMAGE = FieldChange("taskDefinition/containerDefinitions/web/image", "web:2", "web:1")


def hint(after: str | None) -> PushHint:
    return PushHint(source="gitlab", branch="main", after=after)


def test_scan_at_same_commit_does_not_reload_manifests() -> None:
    h = Harness()
    for _ in range(3):
        assert h.rec.cycle(full=True).full
    assert h.loads == 1 and h.world.plans == 3  # still compared with AWS every time
    h.source.head = SHA2
    h.rec.cycle(full=False)
    h.rec.cycle(full=True)
    assert h.loads == 2 and len(h.rec.desired_cache) == 2


def test_failed_load_is_retried_next_cycle() -> None:
    h = Harness()
    calls: list[Path] = []

    def flaky(root: Path) -> DesiredState:
        calls.append(root)
        if len(calls) == 1:
            raise OSError("checkout half-written")
        return Harness.load(h, root)

    h.rec.load = flaky
    assert not h.rec.cycle(full=True).ok
    assert h.rec.cycle(full=True).ok and len(calls) == 2
    h.rec.cycle(full=True)
    assert len(calls) == 2


def test_cache_keeps_only_the_newest_commits() -> None:
    loaded: list[Path] = []

    def load(root: Path) -> DesiredState:
        loaded.append(root)
        return DesiredState(environments={}, services=())

    cache = DesiredCache(load, keep=2)
    for sha in ("a", "b", "a", "c", "a", "b"):
        cache.load(sha, Path(sha))
    # "a" stays hot; "b" was evicted by "c" and loaded again
    assert [p.name for p in loaded] == ["a", "b", "c", "b"] and len(cache) == 2
    with pytest.raises(ValueError):
        DesiredCache(load, keep=0)


def test_drift_scan_steps_aside_for_a_waiting_push() -> None:
    h = Harness()
    reads: list[int] = []
    h.rec.read_live = lambda d: reads.append(1) or {}  # type: ignore[func-returns-value]
    h.rec.cycle(full=True)
    assert len(reads) == 1
    h.rec.interrupted = lambda sha: True
    r = h.rec.cycle(full=True)  # a drift scan at the same commit
    assert r.preempted and not r.full and len(reads) == 1 and h.world.plans == 1
    assert h.board.daemon["cycles"] == 1  # not counted as a completed cycle
    h.source.head = SHA2
    h.world.services["staging/web"] = ("update", (IMAGE,), {})
    r = h.rec.cycle(full=True)  # the push's own cycle is never preempted
    assert r.full and r.git_moved and not r.preempted and h.applier.calls == [["staging/web"]]


def test_scan_preempted_between_read_and_plan() -> None:
    h = Harness()
    h.rec.cycle(full=True)
    pushed: list[bool] = []
    h.rec.interrupted = lambda sha: bool(pushed)

    def read(desired: DesiredState) -> dict:
        pushed.append(True)  # the push arrives while AWS is being read
        return {}

    h.rec.read_live = read
    r = h.rec.cycle(full=True)
    assert r.preempted and h.world.plans == 1 and pushed == [True]


def test_scan_gives_way_between_describe_batches_and_the_push_is_served_before_it_finishes() -> None:
    """A push that arrives while a drift scan reads AWS is deployed before the scan's remaining
    DescribeServices batches are read; the scan then runs again from the start (real Daemon loop)."""
    h = Harness()
    wakeup = Wakeup()
    trace: list[tuple[str, int]] = []
    scans = [0]

    def read_live(desired: DesiredState) -> dict:
        scans[0] += 1
        for batch in range(10):  # 100 services: ten DescribeServices calls, a yield point between two
            if batch:
                h.rec.checkpoint("reading")
            trace.append((f"scan{scans[0]}", batch))
            if scans[0] == 2 and batch == 3:  # the push lands mid-scan
                h.source.head = SHA2
                h.world.services["staging/web"] = ("update", (IMAGE,), {})
                wakeup.notify("webhook", hint(SHA2))
        return {"staging": LiveEnvironment("staging")}

    def read_scoped(desired: DesiredState, keys: object) -> dict:
        trace.append(("push-read", 0))
        return {"staging": LiveEnvironment("staging")}

    def apply(plan: Plan, **kwargs: object) -> ApplyResult:
        trace.append(("apply " + ",".join(sp.key for sp in plan.services), 0))
        return applier_apply(plan, **kwargs)

    applier_apply = h.applier.apply
    h.applier.apply = apply  # type: ignore[method-assign]
    h.rec.read_live, h.rec.read_scoped = read_live, read_scoped
    h.rec.planner = lambda desired, live, instance, only=None: h.world.plan(desired, live, instance)
    h.rec.cycle(full=True)  # the first, complete cycle (never preemptible: git moved)
    cycles: list[CycleResult] = []

    def on_cycle(result: CycleResult, started: float) -> None:
        cycles.append(result)
        if result.full and result.commit == SHA2:
            daemon.request_stop()

    daemon = Daemon(h.rec, wakeup, Leadership(None), drift_interval=3600, on_cycle=on_cycle)
    daemon.loop()  # the drift scan is due at once
    assert [(c.preempted, c.full, c.commit) for c in cycles] == [(True, False, SHA1), (False, False, SHA2),
                                                                  (False, True, SHA2)]
    scan2 = [b for who, b in trace if who == "scan2"]
    assert scan2 == [0, 1, 2, 3]  # stopped at the next yield point, six batches unread
    served = trace.index(("apply staging/web", 0))
    assert trace[served - 1] == ("push-read", 0) and trace.index(("scan2", 3)) < served
    assert [b for who, b in trace[served:] if who == "scan3"] == list(range(10))  # the scan, again, in full
    assert h.board.daemon["cycles"] == 3  # the first cycle, the push, the scan; the given-way scan is not one


def test_scan_gives_way_between_services_while_planning() -> None:
    h = Harness()
    h.rec.cycle(full=True)
    planned: list[int] = []
    pushed: list[bool] = []
    h.rec.interrupted = lambda sha: bool(pushed)

    def planner(desired: DesiredState, live: object, instance: str) -> Plan:
        for i in range(100):
            h.rec.checkpoint("planning")  # build_plan's step, before each service
            planned.append(i)
            if i == 5:
                pushed.append(True)
        raise AssertionError("the scan should have given way")

    h.rec.planner = planner
    r = h.rec.cycle(full=True)
    assert r.preempted and planned == list(range(6))
    h.rec.interrupted = lambda sha: True
    h.rec.planner = h.world.plan
    h.source.head = SHA2
    r = h.rec.cycle(full=False)  # a push cycle never gives way, whatever is waiting
    assert not r.preempted and r.git_moved and h.rec.checkpoint("reading") is None


def test_push_pending_only_for_git_triggers_of_another_commit() -> None:
    wakeup = Wakeup()
    h = Harness()
    daemon = Daemon(h.rec, wakeup, Leadership(None))
    assert h.rec.interrupted == daemon.push_pending
    wakeup.notify("leader")
    assert not daemon.push_pending(SHA1)
    wakeup.notify("webhook", hint(SHA1))  # a redelivery of the commit being scanned
    assert not daemon.push_pending(SHA1)
    assert daemon.push_pending(SHA2)
    wakeup.notify("sqs", hint(None))  # commit unknown: assume it moved
    assert daemon.push_pending(SHA1)
    reasons, hints = wakeup.wait(0)
    assert reasons == ["leader", "webhook", "sqs"] and len(hints) == 2  # peeking cleared nothing
    assert not daemon.push_pending(SHA2)


def test_register_pacing_keeps_a_margin_below_aws_rate() -> None:
    now = [0.0]
    slept: list[float] = []
    bucket = TokenBucket(REGISTER_RATE, REGISTER_BURST, now=lambda: now[0], sleep=slept.append)
    waits = [bucket.acquire() for _ in range(REGISTER_BURST + 2)]
    assert waits[:REGISTER_BURST] == [0.0] * REGISTER_BURST
    assert waits[REGISTER_BURST] == pytest.approx(1.05) and waits[-1] == pytest.approx(2.10)
    assert REGISTER_RATE < AWS_REGISTER_RATE
    assert register_bucket_from_env({}).rate == REGISTER_RATE
    assert register_bucket_from_env({"RECONCILER_REGISTER_RATE": "1000"}).rate == 1000.0


def test_push_after_a_preempted_scan_runs_as_a_push_cycle_then_the_scan() -> None:
    """The push a scan stepped aside for is not made a complete cycle (which would cost what the
    scan costs); the drift scan, still due, runs right after it."""
    class Stub:
        interrupted = None

        def __init__(self) -> None:
            self.fulls: list[bool] = []
            self.daemon: Daemon | None = None

        def cycle(self, *, full: bool) -> CycleResult:
            self.fulls.append(full)
            if len(self.fulls) == 3 and self.daemon is not None:
                self.daemon.request_stop()
            preempted = len(self.fulls) == 1
            return CycleResult(full=full and not preempted, ok=True, preempted=preempted)

    stub = Stub()
    daemon = Daemon(stub, Wakeup(), Leadership(None), drift_interval=3600)  # type: ignore[arg-type]
    stub.daemon = daemon
    daemon.loop()
    assert stub.fulls == [True, False, True]  # scan (preempted), the push, the scan again


def test_task_definition_cache_drops_the_least_recently_used() -> None:
    """A scan reads every live revision each cycle: those stay, an unused one goes first (with the
    oldest-inserted dropped instead, a working set above the bound was re-described every cycle)."""
    from reconciler.aws.live import TaskDefinitionCache

    cache = TaskDefinitionCache(max_entries=3)
    for arn in ("a", "b", "c"):
        cache.put(arn, {"taskDefinitionArn": arn}, ())
    assert cache.get("a") is not None  # used: now the most recent
    cache.put("d", {"taskDefinitionArn": "d"}, ())
    assert cache.get("b") is None and all(cache.get(arn) is not None for arn in ("a", "c", "d"))
