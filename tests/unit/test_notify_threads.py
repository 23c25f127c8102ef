"""Which reports share a chat thread."""
from __future__ import annotations

from dataclasses import replace

from reconciler.notify import thread_key
from reconciler.notify.samples import event


def test_sync_reports_of_one_commit_share_the_deploy_thread() -> None:
    started, done = event("sync_started"), event("sync_succeeded")
    assert thread_key(started) == thread_key(done)
    assert thread_key(done).startswith("deploy:")


def test_self_heal_gets_its_own_thread_not_the_commits() -> None:
    done = event("sync_succeeded")
    healed = replace(done, extra={**done.extra, "action": "self-heal"})
    assert thread_key(healed) != thread_key(done)
    assert thread_key(healed).startswith("self-heal:")
    assert thread_key(replace(healed, kind="sync_started")) == thread_key(healed)


def test_drift_threads_are_per_service_and_have_no_time_in_them() -> None:
    first, again = event("drift_detected"), event("drift_detected")
    assert thread_key(first) == thread_key(again) == "drift:prod/orders"
