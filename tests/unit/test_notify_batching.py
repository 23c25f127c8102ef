"""Per-commit batching and the running commit aggregate, with an explicit clock (no sleeping)."""
from __future__ import annotations

import json

from test_notify_notifier import Recorder, make

from reconciler.events import CommitInfo, ReportEvent
from reconciler.notify import DeliveryError, InMemoryDedupStore, render_slack, render_slack_thread
from reconciler.notify.aggregate import CommitAggregates
from reconciler.notify.batching import Batch, Batcher, group_of
from reconciler.notify.content import NEW_SERVICES
from reconciler.notify.samples import COMMIT, event, service

ENV, SHA = "prod", COMMIT.sha
GROUP = (ENV, SHA, False)


def sync(kind: str, *names: str, env: str = ENV, sha: str = SHA, **extra: object) -> ReportEvent:
    """One applier event: `kind` for each of `names` (no status: the batch derives it from the kind)."""
    commit = COMMIT if sha == SHA else CommitInfo(sha=sha, title="other")
    return ReportEvent(kind=kind, environment=env, commit=commit,  # type: ignore[arg-type]
                       services=tuple(service(n, env=env) for n in names), extra=dict(extra))


def batch_of(*events: ReportEvent, now: float = 0.0) -> Batch:
    b = Batcher(window=2)
    for e in events:
        group = group_of(e)
        assert group is not None
        b.add(group, e, e.dedup_key, now)
    (only,) = b.pop_due(now, everything=True)
    return only


def statuses(ev: ReportEvent) -> dict[str, str | None]:
    return {s.service: s.status for s in ev.services}


# -- Batcher: when a batch goes out ------------------------------------------------------------

def test_quiet_window_restarts_with_each_member() -> None:
    b = Batcher(window=2)
    b.add(GROUP, sync("sync_started", "a"), "k1", now=0.0)
    assert b.next_due() == 2.0 and b.pop_due(1.99) == []
    b.add(GROUP, sync("sync_started", "b"), "k2", now=1.5)  # a new member: quiet again from 1.5
    assert b.pop_due(2.0) == [] and b.next_due() == 3.5
    (sent,) = b.pop_due(3.5)
    assert (sent.count, sorted(sent.services), sent.keys) == (2, ["prod/a", "prod/b"], ["k1", "k2"])
    assert len(b) == 0 and b.next_due() is None


def test_max_hold_is_five_windows_even_without_quiet() -> None:
    b = Batcher(window=2)
    for i in range(7):  # a member every 1.5 s: never 2 s of quiet
        b.add(GROUP, sync("sync_started", f"s{i}"), f"k{i}", now=1.5 * i)
    assert b.next_due() == 10.0  # started at 0, held at most 5 × 2 s
    assert b.pop_due(9.99) == []
    (sent,) = b.pop_due(10.0)
    assert sent.count == 7


def test_groups_are_environment_commit_and_self_heal_family() -> None:
    assert group_of(sync("sync_started", "a")) == GROUP
    assert group_of(sync("sync_started", "a", action="self-heal")) == (ENV, SHA, True)
    assert group_of(sync("sync_started", "a", env="dev")) == ("dev", SHA, False)
    assert group_of(event("drift_detected")) is None              # not a sync
    assert group_of(ReportEvent(kind="sync_started", environment=ENV, services=(service(),))) is None  # no commit
    b = Batcher(window=2)
    for e in (sync("sync_started", "a"), sync("sync_started", "a", env="dev"), sync("sync_started", "b")):
        b.add(group_of(e), e, e.dedup_key, 0.0)  # type: ignore[arg-type]
    assert sorted(x.count for x in b.pop_due(2.0)) == [1, 2]


def test_everything_pops_batches_that_are_not_due() -> None:
    b = Batcher(window=60)
    b.add(GROUP, sync("sync_started", "a"), "k", now=0.0)
    assert b.pop_due(1.0) == []
    assert len(b.pop_due(1.0, everything=True)) == 1


# -- the summary event: worst state, counts, reason ------------------------------------------------

def test_latest_state_of_each_service_and_worst_state_kind() -> None:
    ev = CommitAggregates().merge(batch_of(
        sync("sync_started", "a", "b", "c"), sync("sync_succeeded", "a"), sync("sync_failed", "b")))
    assert statuses(ev) == {"a": "succeeded", "b": "failed", "c": "in_progress"}
    assert ev.kind == "sync_failed" and ev.reason == "1 of 3 services failed"

    cases = {("succeeded", "rolled_back"): "sync_rolled_back", ("succeeded", "in_progress"): "sync_started",
             ("succeeded", "succeeded"): "sync_succeeded", ("rolled_back", "failed"): "sync_failed"}
    for (x, y), kind in cases.items():
        services = (service("x", status=x), service("y", status=y))
        merged = CommitAggregates().merge(batch_of(
            ReportEvent(kind="sync_started", environment=ENV, commit=COMMIT, services=services),
            sync("sync_succeeded", "z")))
        assert merged.kind == kind, (x, y)


def test_reason_counts_failed_and_rolled_back_and_is_empty_when_all_is_well() -> None:
    ev = CommitAggregates().merge(batch_of(
        sync("sync_failed", "a"), sync("sync_rolled_back", "b"), sync("sync_succeeded", "c")))
    assert ev.reason == "2 of 3 services failed"
    ok = CommitAggregates().merge(batch_of(sync("sync_succeeded", "a"), sync("sync_succeeded", "b")))
    assert (ok.kind, ok.reason) == ("sync_succeeded", "")


def test_lone_event_of_a_new_commit_goes_out_unchanged() -> None:
    first = sync("sync_failed", "a")
    assert CommitAggregates().merge(batch_of(first)) is first


def test_summary_dedup_key_is_per_batch_and_timeless() -> None:
    agg = CommitAggregates()
    one = agg.merge(batch_of(sync("sync_started", "a"), sync("sync_started", "b"), now=5.0))
    same = CommitAggregates().merge(batch_of(sync("sync_started", "a"), sync("sync_started", "b"), now=999.0))
    other = agg.merge(batch_of(sync("sync_succeeded", "a"), sync("sync_succeeded", "b")))
    assert one.dedup_key == same.dedup_key  # the time the batch was held plays no part
    assert one.dedup_key != other.dedup_key and ":batch:" in one.dedup_key


# -- waves of one commit: the parent sums up everything, the thread only the wave -------------------

def test_waves_merge_into_the_parent_while_the_thread_gets_only_the_new_wave() -> None:
    agg = CommitAggregates()
    wave1 = [f"svc-{i:02d}" for i in range(20)]
    wave2 = [f"svc-{i:02d}" for i in range(20, 30)]
    agg.merge(batch_of(sync("sync_started", *wave1), *(sync("sync_succeeded", n) for n in wave1)))
    ev = agg.merge(batch_of(sync("sync_started", *wave2), *(sync("sync_succeeded", n) for n in wave2[:-1])))

    assert len(ev.services) == 30 and ev.kind == "sync_started"  # svc-29 is still in progress
    assert ev.extra[NEW_SERVICES] == tuple(f"prod/{n}" for n in wave2)
    parent = json.dumps(render_slack(ev), ensure_ascii=False)
    assert parent.count("29 succeeded") == 1 and "1 in progress" in parent and "30 services" in parent
    thread = json.dumps(render_slack_thread(ev), ensure_ascii=False)
    assert all(f"*{n}*" in thread for n in wave2) and not any(f"*{n}*" in thread for n in wave1)

    last = agg.merge(batch_of(sync("sync_succeeded", "svc-29")))  # one event, but the commit has 30
    assert (last.kind, len(last.services), last.extra[NEW_SERVICES]) == ("sync_succeeded", 30, ("prod/svc-29",))
    assert "30 succeeded" in json.dumps(render_slack(last))
    assert len(render_slack_thread(last)) == 1 and "*svc-28*" not in json.dumps(render_slack_thread(last))


def test_a_failure_in_an_early_wave_stays_in_the_summary() -> None:
    agg = CommitAggregates()
    agg.merge(batch_of(sync("sync_failed", "a"), sync("sync_succeeded", "b")))
    ev = agg.merge(batch_of(sync("sync_succeeded", "c"), sync("sync_succeeded", "d")))
    assert ev.kind == "sync_failed" and ev.reason == "1 of 4 services failed"


def test_self_heal_family_is_aggregated_apart() -> None:
    agg = CommitAggregates()
    agg.merge(batch_of(sync("sync_succeeded", "a"), sync("sync_succeeded", "b")))
    heal = agg.merge(batch_of(sync("sync_succeeded", "c", action="self-heal"),
                              sync("sync_succeeded", "d", action="self-heal")))
    assert sorted(statuses(heal)) == ["c", "d"] and heal.extra["action"] == "self-heal"


def test_memory_is_bounded_to_the_last_commits_per_environment() -> None:
    agg = CommitAggregates(per_environment=2)
    for sha in ("c1", "c2"):
        agg.merge(batch_of(sync("sync_succeeded", "a", sha=sha)))
    agg.merge(batch_of(sync("sync_succeeded", "b", sha="c1")))  # touching c1 makes c2 the oldest
    agg.merge(batch_of(sync("sync_succeeded", "a", sha="c3")))
    agg.merge(batch_of(sync("sync_succeeded", "a", env="dev", sha="c2")))
    assert len(agg) == 3
    assert agg.services(ENV, "c2") == {} and sorted(agg.services(ENV, "c1")) == ["prod/a", "prod/b"]
    assert list(agg.services("dev", "c2")) == ["dev/a"]  # other environments keep their own


# -- in the notifier (clock injected and frozen: only flush/close send held batches) ------------------

def frozen(**kw: object):
    return {"batch_seconds": 3600.0, "clock": lambda: 0.0, **kw}


def test_flush_sends_held_batch_as_one_event() -> None:
    rec = Recorder()
    n = make(rec, **frozen())
    for e in (sync("sync_started", "a", "b"), sync("sync_succeeded", "a"), sync("sync_succeeded", "b")):
        n.emit(e)
    assert n.flush(5)
    (sent,) = rec.events
    assert sent.kind == "sync_succeeded" and statuses(sent) == {"a": "succeeded", "b": "succeeded"}
    n.close()


def test_close_sends_held_batches() -> None:
    rec = Recorder()
    n = make(rec, **frozen())
    n.emit(sync("sync_started", "a"))
    n.emit(sync("sync_started", "b", env="dev"))
    assert n.close(5)
    assert sorted(e.environment or "" for e in rec.events) == ["dev", "prod"]
    assert n.stats.snapshot()["delivered"] == 2


def test_waves_through_the_notifier_update_one_summary() -> None:
    rec = Recorder()
    n = make(rec, **frozen())
    n.emit(sync("sync_succeeded", "a"))
    n.emit(sync("sync_succeeded", "b"))
    assert n.flush(5)
    n.emit(sync("sync_failed", "c"))
    assert n.close(5)
    first, second = rec.events
    assert sorted(statuses(first)) == ["a", "b"]
    assert statuses(second) == {"a": "succeeded", "b": "succeeded", "c": "failed"}
    assert second.extra[NEW_SERVICES] == ("prod/c",) and second.reason == "1 of 3 services failed"


def test_member_dedup_keys_are_forgotten_when_the_batch_is_not_delivered() -> None:
    store = InMemoryDedupStore()
    rec = Recorder(failures=[DeliveryError("HTTP 404", retryable=False)])
    n = make(rec, dedup=store, **frozen())
    members = (sync("sync_started", "a"), sync("sync_started", "b"))
    for e in members:
        n.emit(e)
    assert n.flush(5)
    assert rec.events == [] and n.stats.snapshot()["dropped_failed"] == 1
    assert not any(store.seen(e.dedup_key) for e in members)  # the next cycle may report them again
    for e in members:
        n.emit(e)
    assert n.close(5)
    assert len(rec.events) == 1 and all(store.seen(e.dedup_key) for e in members)
    assert n.stats.snapshot()["deduplicated"] == 0


def test_repeated_member_is_deduplicated_before_batching() -> None:
    rec = Recorder()
    n = make(rec, **frozen())
    for e in (sync("sync_started", "a"), sync("sync_started", "a"), sync("sync_started", "b")):
        n.emit(e)
    assert n.close(5)
    (sent,) = rec.events
    assert sorted(statuses(sent)) == ["a", "b"] and n.stats.snapshot()["deduplicated"] == 1
