"""Fault matrix, state. Every kill point (UpdateService on the wire, mid-rollout, rollout done but
tags not written) x every restart mode (a replacement started at once, one started after the
deployment ended, a standby taking over); a leader that sent its final report and died before
its tags; a read outage while following; an ambiguous RegisterTaskDefinition failure. Whoever
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
from test_daemon_helpers import LEASE_TABLE, create_state_table, set_image, synced  # noqa: E402
from test_notify_daemon_helpers import about, chat_daemon, hook, metric, notify_config, single_service_repo  # noqa: E402
from test_notify_delivery import receiver  # noqa: E402, F401 - fixture

from reconciler.model import APPLIED_TAG, COMMIT_TAG  # noqa: E402
from reconciler.sandbox.pytest_plugin import EXAMPLE_SEED  # noqa: E402

pytestmark = pytest.mark.e2e
LEASE = 4.0
KEY = "production/web"
COMMON = dict(environment="production", state_table=LEASE_TABLE, lease_duration=str(LEASE),
              lease_renew_interval="1", poll_interval="0.3", drift_interval="1")


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


#: Where the leader dies: (a) its UpdateService received by AWS, the answer not yet back;
#: (b) mid-rollout; (c) the rollout completed, the applied-spec/commit tags not yet written.
KILL_POINTS = ("write-in-flight", "mid-rollout", "before-tags")
#: How leadership comes back: a replacement started at once (it waits for the dead lease to expire
#: and may find the deployment still running), a replacement started after the deployment ended,
#: a standby already running that takes over.
MODES = ("immediate", "after-end", "standby")
SPEED = 6.0  # a rolling deployment lasts about 5 s
HOLD = {"immediate": 8.0}  # UpdateService held on the wire (s): beyond the dead lease and a restart
FAILING = 1000  # TagResource answers 500 until reset: the completed rollout cannot be marked


def deployment_of(sandbox, revision: int) -> str:
    """The id of the one deployment of `revision` (waits for it). ECS lists a service's current
    deployments; those replaced stay ACTIVE until drained, and the tests run the clock no further
    than needed, so a second deployment of the change would be listed here."""
    def found() -> list[str]:
        return [d["id"] for d in service(sandbox)["deployments"] if d["taskDefinition"].endswith(f":{revision}")]
    wait(lambda: bool(found()), f"a deployment of revision {revision}")
    ids = found()
    assert len(ids) == 1, service(sandbox)["deployments"]
    return ids[0]


def kill_leader(kill_at: str, mode: str, a, sandbox, repo, before: int) -> str:
    """Commit a change and kill -9 the leader at `kill_at`; returns the change's commit."""
    if kill_at == "write-in-flight":
        # The sandbox holds UpdateService for HOLD seconds before applying it (injected latency);
        # `held` tells when the request has arrived, so the kill lands while it is on the wire.
        sandbox.add_latency("UpdateService", HOLD.get(mode, 3.0))
    set_image(repo, "production", "web", "1.5.0")
    change = repo.commit("web 1.5.0")
    if kill_at == "write-in-flight":
        wait(lambda: sandbox.held("UpdateService") == 1, "UpdateService on the wire")
        a.kill()
        sandbox.reset_faults()  # the held request still lands: AWS applies it after the caller died
        assert revisions(sandbox) == before + 1
        return change
    wait(lambda: primary(sandbox)["rolloutState"] == "IN_PROGRESS", "the deployment to start")
    if kill_at == "mid-rollout":
        a.kill()  # no final report, no tags, no lease release
        return change
    sandbox.server_error("TagResource", FAILING)  # 500 before applying: the tags never land
    sandbox.advance(600)
    wait(lambda: sandbox.errors_answered("TagResource") >= 1, "the tag write refused (AWS done, tags not)")
    a.kill()  # inside botocore's retries of TagResource, before the final report
    sandbox.reset_faults()
    return change


def finish_rollout(sandbox, revision: int) -> tuple[float, str]:
    """Let the change's deployment (once AWS applied the write) complete; returns when, and its id."""
    deployment = deployment_of(sandbox, revision)
    sandbox.set_speed(SPEED)
    sandbox.advance(600)
    wait(lambda: primary(sandbox)["rolloutState"] == "COMPLETED", "the deployment to complete")
    return time.time(), deployment


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kill_at", KILL_POINTS)
def test_kill_point_x_restart_mode(kill_at, mode, sandbox_factory, receiver, daemons, tmp_path: Path) -> None:
    """The matrix: per change 1 deployment, 1 revision, 1 final report; /status converged within 2
    lease durations of the moment it could (the kill, the new leader's start, or the end of a
    deployment it had to follow); a later hand-made change on this selfHeal: false service is
    reported by yet another leader, not reverted."""
    sandbox = sandbox_factory(seed=EXAMPLE_SEED)  # fast until the first sync, then SPEED
    create_state_table(sandbox)  # the lease, and the dedup store that survives the leader
    with GitDaemon(tmp_path / "srv") as server:
        repo = ManifestRepo.create(tmp_path / "srv", "manifests", tmp_path / "work")
        single_service_repo(repo, "production", "web")
        config = notify_config(tmp_path, receiver, api=False)
        a = chat_daemon(tmp_path, "a", sandbox, server.url("manifests"), config, **COMMON)
        daemons.append(a.start())
        a.wait_for(synced(KEY, commit=repo.head()), "first sync", deadline=90)
        sandbox.set_speed(SPEED)
        b = chat_daemon(tmp_path, "b", sandbox, server.url("manifests"), config, **COMMON)
        if mode == "standby":
            daemons.append(b.start())
            b.wait_for(lambda s: s.get("ready") is True and s.get("leader") is False, "b is a ready standby")
        before = revisions(sandbox)

        change = kill_leader(kill_at, mode, a, sandbox, repo, before)
        killed_at = ended_at = time.time()
        deployment = deployment_of(sandbox, before + 1) if kill_at == "before-tags" else None
        if kill_at == "before-tags":
            if mode == "after-end":
                time.sleep(max(0.0, killed_at + LEASE - time.time()))  # the dead lease has expired
        elif mode == "immediate":
            sandbox.set_speed(0)  # the deployment waits for b: b must find it running and follow it
        else:
            ended_at, deployment = finish_rollout(sandbox, before + 1)  # it ends while nobody leads
        if mode != "standby":
            daemons.append(b.start())
        if mode == "immediate" and kill_at != "before-tags":
            b.wait_for(lambda s: any(e.get("event") == "deploy_progress" and e.get("service") == KEY
                                     for e in b.log_events()), "b follows the running deployment", deadline=60)
            wait(lambda: sandbox.held("UpdateService") == 0, "a's UpdateService to land")
            ended_at, deployment = finish_rollout(sandbox, before + 1)

        doc = b.wait_for(synced(KEY, commit=change), "the outcome recorded", deadline=90)
        events = b.log_events()
        began = max(killed_at, stamp(events[0]), ended_at)
        recorded = next(stamp(e) for e in events if e.get("event") == "sync_result" and e.get("service") == KEY
                        and e.get("status") == "succeeded")
        assert recorded - began < 2 * LEASE, (recorded - began)  # /status converged
        assert primary(sandbox)["id"] == deployment  # 1 deployment: followed or recorded, never repeated
        assert doc["services"][KEY]["history"][0]["deploymentId"] == deployment
        assert doc["services"][KEY]["history"][0]["status"] == "succeeded"
        assert revisions(sandbox) == before + 1  # 1 revision
        assert tags(sandbox)[COMMIT_TAG] == change and APPLIED_TAG in tags(sandbox)
        cycles = b.status()["cycles"]
        b.wait_for(lambda s: s["cycles"] >= cycles + 3, "a few more cycles")
        finals = final_reports(receiver, change)
        assert len(finals) == 1 and "Synced" in finals[0], finals  # 1 final report

        # A hand-made change on this selfHeal: false service is drift for the next leader too.
        sandbox.client("ecs").update_service(cluster="production", service="web", desiredCount=5)
        b.terminate()  # gives the lease up: c leads at once
        c = chat_daemon(tmp_path, "c", sandbox, server.url("manifests"), config, **COMMON)
        daemons.append(c.start())
        doc = c.wait_for(lambda s: s.get("leader") and s["cycles"] >= 3 and
                         c.service(s, KEY).get("sync") == "OutOfSync", "c reports the drift", deadline=60)
        assert c.service(doc, KEY)["history"] == []  # nothing applied
        assert service(sandbox)["desiredCount"] == 5  # not reverted
        assert primary(sandbox)["id"] == deployment


def test_final_report_sent_by_a_leader_that_died_before_its_tags_is_not_repeated(
        sandbox_factory, receiver, daemons, tmp_path: Path) -> None:
    """With the DynamoDB state table: the leader saw the rollout complete, failed to write its tags
    (TagResource answering 500, logged), sent the final report and died. The next leader records
    the service from AWS (tags, /status) and its report is deduplicated against the dead one's."""
    sandbox = sandbox_factory(seed=EXAMPLE_SEED)  # fast until the first sync, then SPEED
    create_state_table(sandbox)
    with GitDaemon(tmp_path / "srv") as server:
        repo = ManifestRepo.create(tmp_path / "srv", "manifests", tmp_path / "work")
        single_service_repo(repo, "production", "web")
        config = notify_config(tmp_path, receiver, api=False)
        a = chat_daemon(tmp_path, "a", sandbox, server.url("manifests"), config, aws_max_attempts="2", **COMMON)
        daemons.append(a.start())
        a.wait_for(synced(KEY, commit=repo.head()), "first sync", deadline=90)
        sandbox.set_speed(SPEED)
        set_image(repo, "production", "web", "1.5.0")
        change = repo.commit("web 1.5.0")
        wait(lambda: primary(sandbox)["rolloutState"] == "IN_PROGRESS", "the deployment to start")
        sandbox.server_error("TagResource", FAILING)
        sandbox.advance(600)
        wait(lambda: len(final_reports(receiver, change)) == 1, "a's final report")
        assert any(e.get("event") == "applied_tag_failed" for e in a.log_events())
        a.kill()
        sandbox.reset_faults()
        assert tags(sandbox)[COMMIT_TAG] != change  # the dead leader never marked it

        b = chat_daemon(tmp_path, "b", sandbox, server.url("manifests"), config, **COMMON)
        daemons.append(b.start())
        b.wait_for(synced(KEY, commit=change), "b records the service", deadline=60)
        assert tags(sandbox)[COMMIT_TAG] == change
        assert any(e.get("event") == "rollout_recovered" for e in b.log_events())
        b.wait_for(lambda s: metric(b, "reconciler_notifications_total", outcome="deduplicated") >= 1,
                   "b's report deduplicated against a's")
        cycles = b.status()["cycles"]
        b.wait_for(lambda s: s["cycles"] >= cycles + 3, "a few more cycles")
        finals = final_reports(receiver, change)
        assert len(finals) == 1 and "Synced" in finals[0], finals  # 1 report, the dead leader's


def test_read_outage_and_ambiguous_register_while_deploying(sandbox_factory, receiver, daemons,
                                                            tmp_path: Path) -> None:
    sandbox = sandbox_factory(seed=EXAMPLE_SEED)  # fast until the first sync, then SPEED
    with GitDaemon(tmp_path / "srv") as server:
        repo = ManifestRepo.create(tmp_path / "srv", "manifests", tmp_path / "work")
        single_service_repo(repo, "production", "web")
        a = chat_daemon(tmp_path, "a", sandbox, server.url("manifests"), notify_config(tmp_path, receiver, api=False),
                        environment="production", poll_interval="0.3", drift_interval="1", aws_max_attempts="2")
        daemons.append(a.start())
        a.wait_for(synced(KEY, commit=repo.head()), "first sync", deadline=90)
        sandbox.set_speed(SPEED)
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
