"""Fault matrix, state: a leader killed mid-rollout (kill -9) whose deployment ends while nobody
leads; a read outage while following; an ambiguous RegisterTaskDefinition failure. Whoever
observes the outcome records it from AWS: 1 deployment, 1 revision and 1 final report per
change, /status converged within 2 lease durations, and no hand-made change reverted later on a
selfHeal: false service."""
from __future__ import annotations

import datetime
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from gitserver import GitDaemon, ManifestRepo  # noqa: E402
from test_daemon_helpers import LEASE_TABLE, create_state_table, daemons, set_image, synced  # noqa: E402, F401
from test_notify_daemon_helpers import about, chat_daemon, hook, notify_config, single_service_repo  # noqa: E402
from test_notify_delivery import receiver  # noqa: E402, F401 - fixture

from reconciler.model import APPLIED_TAG, COMMIT_TAG  # noqa: E402
from reconciler.sandbox.pytest_plugin import EXAMPLE_SEED  # noqa: E402

pytestmark = pytest.mark.e2e
LEASE = 4.0
KEY = "production/web"


def service(sandbox) -> dict:
    ecs = sandbox.client("ecs")
    return ecs.describe_services(cluster="production", services=["web"], include=["TAGS"])["services"][0]


def primary(sandbox) -> dict:
    return next(d for d in service(sandbox)["deployments"] if d["status"] == "PRIMARY")


def tags(sandbox) -> dict[str, str]:
    return {t["key"]: t["value"] for t in service(sandbox).get("tags") or []}


def revisions(sandbox) -> int:
    ecs = sandbox.client("ecs")
    return len(ecs.list_task_definitions(familyPrefix="web-production")["taskDefinitionArns"])


def final_reports(rec, sha: str) -> list[str]:
    texts = [str(m) for m in hook(about(rec.requests, sha))]
    return [t for t in texts if "Sync started" not in t]


def stamp(event: dict) -> float:
    return datetime.datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()


def wait(predicate, what: str, deadline: float = 60.0) -> None:
    end = time.monotonic() + deadline
    while not predicate():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.mark.parametrize(("kill_at", "mode"), [("mid-rollout", "restart"), ("mid-rollout", "standby"),
                                               ("write-in-flight", "restart")])
def test_rollout_finished_while_nobody_led_is_recorded_from_aws(kill_at, mode, sandbox_factory, receiver, daemons,
                                                                  tmp_path: Path) -> None:
    sandbox = sandbox_factory(seed=EXAMPLE_SEED, speed=6.0)  # a rolling deployment lasts about 5 s
    create_state_table(sandbox)  # the lease, and the dedup store that survives the leader
    with GitDaemon(tmp_path / "srv") as server:
        repo = ManifestRepo.create(tmp_path / "srv", "manifests", tmp_path / "work")
        single_service_repo(repo, "production", "web")
        common = dict(environment="production", state_table=LEASE_TABLE, lease_duration=str(LEASE),
                      lease_renew_interval="1", poll_interval="0.3", drift_interval="1")
        config = notify_config(tmp_path, receiver, api=False)
        a = chat_daemon(tmp_path, "a", sandbox, server.url("manifests"), config, **common)
        daemons.append(a.start())
        a.wait_for(synced(KEY, commit=repo.head()), "first sync", deadline=90)
        b = chat_daemon(tmp_path, "b", sandbox, server.url("manifests"), config, **common)
        if mode == "standby":
            daemons.append(b.start())
            b.wait_for(lambda s: s.get("ready") is True and s.get("leader") is False, "b is a ready standby")
        before = revisions(sandbox)

        if kill_at == "write-in-flight":
            sandbox.add_latency("UpdateService", 3.0)  # AWS applies it after the caller died
        set_image(repo, "production", "web", "1.5.0")
        change = repo.commit("web 1.5.0")
        if kill_at == "write-in-flight":
            wait(lambda: revisions(sandbox) == before + 1, "the revision to be registered")
            time.sleep(1.0)  # UpdateService sent, its answer 2 s away
            a.kill()
            sandbox.reset_faults()
            wait(lambda: primary(sandbox)["taskDefinition"].endswith(f":{before + 1}"), "the write to land")
        else:
            wait(lambda: primary(sandbox)["rolloutState"] == "IN_PROGRESS", "the deployment to start")
            a.kill()  # kill -9 mid-rollout: no final report, no tags, no lease release
        killed_at = time.time()
        started = primary(sandbox)
        sandbox.advance(600)  # the deployment ends while nobody leads
        wait(lambda: primary(sandbox)["rolloutState"] == "COMPLETED", "the deployment to complete")

        if mode == "restart":
            daemons.append(b.start())
        doc = b.wait_for(synced(KEY, commit=change), "the outcome recorded", deadline=90)
        # From the kill (or b's start, when it came later): the lease expires, b leads, one cycle records.
        events = b.log_events()
        began = max(killed_at, stamp(events[0]))
        recorded = next(stamp(e) for e in events if e.get("event") == "sync_result" and e.get("service") == KEY)
        assert recorded - began < 2 * LEASE, (recorded - began)
        web = doc["services"][KEY]
        assert web["history"][0]["deploymentId"] == started["id"] and web["history"][0]["status"] == "succeeded"
        assert primary(sandbox)["id"] == started["id"]  # 1 deployment: followed, never repeated
        assert revisions(sandbox) == before + 1  # 1 revision
        assert tags(sandbox)[COMMIT_TAG] == change and APPLIED_TAG in tags(sandbox)
        b.wait_for(lambda s: s["cycles"] >= 3, "a few cycles")
        finals = final_reports(receiver, change)
        assert len(finals) == 1 and "Synced" in finals[0], finals  # 1 final report

        # A hand-made change on this selfHeal: false service is drift after yet another restart.
        sandbox.client("ecs").update_service(cluster="production", service="web", desiredCount=5)
        b.kill()
        c = chat_daemon(tmp_path, "c", sandbox, server.url("manifests"), config, **common)
        daemons.append(c.start())
        doc = c.wait_for(lambda s: s.get("leader") and s["cycles"] >= 3 and
                         c.service(s, KEY).get("sync") == "OutOfSync", "c reports the drift", deadline=60)
        assert c.service(doc, KEY)["history"] == []  # nothing applied
        assert service(sandbox)["desiredCount"] == 5  # not reverted


def test_read_outage_and_ambiguous_register_while_deploying(sandbox_factory, receiver, daemons,
                                                            tmp_path: Path) -> None:
    sandbox = sandbox_factory(seed=EXAMPLE_SEED, speed=6.0)
    with GitDaemon(tmp_path / "srv") as server:
        repo = ManifestRepo.create(tmp_path / "srv", "manifests", tmp_path / "work")
        single_service_repo(repo, "production", "web")
        a = chat_daemon(tmp_path, "a", sandbox, server.url("manifests"), notify_config(tmp_path, receiver, api=False),
                        environment="production", poll_interval="0.3", drift_interval="1", aws_max_attempts="2")
        daemons.append(a.start())
        a.wait_for(synced(KEY, commit=repo.head()), "first sync", deadline=90)
        before = revisions(sandbox)

        sandbox.server_error("RegisterTaskDefinition", 1, after_apply=True)  # registered; the answer is lost
        set_image(repo, "production", "web", "1.5.0")
        change = repo.commit("web 1.5.0")
        wait(lambda: primary(sandbox)["rolloutState"] == "IN_PROGRESS", "the deployment to start")
        sandbox.server_error("DescribeServices", 30)  # 15 failed reads while following
        doc = a.wait_for(synced(KEY, commit=change), "the deployment followed through the outage", deadline=90)
        assert doc["services"][KEY]["history"][0]["status"] == "succeeded"
        assert revisions(sandbox) == before + 1  # the lost answer did not register a second revision
        assert any(e.get("event") == "taskdef_register_ambiguous" for e in a.log_events())
        assert tags(sandbox)[COMMIT_TAG] == change
        texts = [str(m) for m in hook(about(receiver.requests, change))]
        assert not [t for t in texts if "Sync failed" in t], texts  # never "failed" for an unreadable AWS
        assert len([t for t in texts if "Synced" in t]) == 1, texts
