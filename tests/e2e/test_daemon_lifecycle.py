"""`reconciler run` lifecycle: drift and self-heal, leader lease, SIGTERM, git outage, secrets in logs."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from gitserver import GitHttpServer, ManifestRepo
from test_daemon_helpers import (  # noqa: F401 - fixtures
    EXAMPLES,
    LEASE_TABLE,
    DaemonProcess,
    create_state_table,
    daemons,
    git,
    set_image,
    synced,
)

pytestmark = pytest.mark.e2e


def desired_count(sandbox, cluster: str, service: str) -> int:
    return sandbox.client("ecs").describe_services(cluster=cluster, services=[service])["services"][0]["desiredCount"]


def test_drift_reported_and_self_healed(sandbox, git, daemons, tmp_path: Path) -> None:
    server, repo = git
    d = DaemonProcess(tmp_path, "a", sandbox, server.url("manifests"), drift_interval="0.5")
    daemons.append(d.start())
    d.wait_for(synced("staging/web", "production/web", commit=repo.head()), "first sync")
    ecs = sandbox.client("ecs")
    ecs.update_service(cluster="staging", service="web", desiredCount=5)      # staging: selfHeal on
    ecs.update_service(cluster="production", service="web", desiredCount=5)   # production: selfHeal off
    doc = d.wait_for(lambda s: d.service(s, "production/web").get("sync") == "OutOfSync",
                     "production drift reported", deadline=30)
    assert "service/desiredCount" in d.service(doc, "production/web")["drift"]
    d.wait_for(lambda s: any(h["action"] == "self-heal" and h["status"] == "succeeded"
                             for h in d.service(s, "staging/web").get("history", [])), "staging self-healed",
               deadline=30)
    assert desired_count(sandbox, "staging", "web") == 2
    assert desired_count(sandbox, "production", "web") == 5  # reported only
    drift_lines = [e for e in d.log_events() if e.get("event") == "drift_detected"]
    assert {e["service"] for e in drift_lines} == {"staging/web", "production/web"}
    assert len([e for e in drift_lines if e["service"] == "production/web"]) == 1  # not every scan
    assert all(e.get("commit") == repo.head()[:8] for e in drift_lines)


def test_restart_with_self_heal_off_reports_drift_instead_of_reverting(sandbox, git, daemons,
                                                                       tmp_path: Path) -> None:
    """A restarted daemon has lost its memory; the applied-spec tag keeps a hand-made change on an
    already applied declaration a drift (production: selfHeal off), not a commit to apply."""
    server, repo = git
    a = DaemonProcess(tmp_path, "a", sandbox, server.url("manifests"), environment="production",
                      drift_interval="0.5")
    daemons.append(a.start())
    a.wait_for(synced("production/web", commit=repo.head()), "first sync")
    a.stop()
    sandbox.client("ecs").update_service(cluster="production", service="web", desiredCount=5)
    b = DaemonProcess(tmp_path, "b", sandbox, server.url("manifests"), environment="production",
                      drift_interval="0.5")
    daemons.append(b.start())
    doc = b.wait_for(lambda s: s.get("cycles", 0) >= 3 and _production_web_sync(s) == "OutOfSync", "restarted daemon scanned",
                     deadline=30)
    assert "service/desiredCount" in doc["services"]["production/web"]["drift"]
    assert doc["services"]["production/web"]["history"] == []  # nothing applied after the restart
    assert desired_count(sandbox, "production", "web") == 5
    assert [e["service"] for e in b.log_events() if e.get("event") == "drift_detected"] == ["production/web"]


def _production_web_sync(doc: dict) -> str | None:
    return ((doc.get("services") or {}).get("production/web") or {}).get("sync")


def test_two_daemons_share_a_lease_and_standby_takes_over(sandbox, git, daemons, tmp_path: Path) -> None:
    server, repo = git
    create_state_table(sandbox)
    common = dict(environment="staging", state_table=LEASE_TABLE, lease_duration="3", lease_renew_interval="0.5",
                  poll_interval="0.3")
    a = DaemonProcess(tmp_path, "a", sandbox, server.url("manifests"), **common)
    daemons.append(a.start())
    a.wait_for(lambda s: s.get("leader") is True and synced("staging/web", commit=repo.head())(s), "a leads")
    b = DaemonProcess(tmp_path, "b", sandbox, server.url("manifests"), **common)
    daemons.append(b.start())
    b.wait_for(lambda s: s.get("ready") is True and s.get("leader") is False, "b is a ready standby")
    assert b.get("/readyz")[0] == 200
    set_image(repo, "staging", "web", "1.5.0")
    first = repo.commit("web 1.5.0")
    a.wait_for(synced("staging/web", commit=first), "leader applies")
    b_doc = b.wait_for(lambda s: (s.get("commit") or {}).get("sha") == first, "standby observed the commit")
    assert all(not svc["history"] for svc in b_doc["services"].values())  # the standby applied nothing
    assert not [e for e in b.log_events() if e.get("event") == "sync_result"]

    a.kill()  # no release: b must wait for expiry, then take over
    set_image(repo, "staging", "web", "1.4.2")
    second = repo.commit("back to web 1.4.2")
    doc = b.wait_for(lambda s: s.get("leader") is True and synced("staging/web", commit=second)(s),
                     "b took over and applied", deadline=45)
    assert doc["services"]["staging/web"]["history"][0]["commit"] == second


def test_sigterm_exits_cleanly_and_releases_the_lease(sandbox, git, daemons, tmp_path: Path) -> None:
    server, repo = git
    create_state_table(sandbox)
    d = DaemonProcess(tmp_path, "a", sandbox, server.url("manifests"), environment="staging",
                      state_table=LEASE_TABLE, lease_duration="30", lease_renew_interval="1", shutdown_timeout="10")
    daemons.append(d.start())
    d.wait_for(lambda s: s.get("leader") is True and synced("staging/web", commit=repo.head())(s), "leading")
    code, elapsed = d.terminate(timeout=30)
    assert code == 0
    assert elapsed < 10  # within the configured shutdown timeout (ECS default stopTimeout is 30 s)
    events = [e.get("event") for e in d.log_events()]
    assert "lease_released" in events and events[-1] == "shutdown_complete"
    item = sandbox.client("dynamodb").get_item(TableName=LEASE_TABLE, Key={"pk": {"S": "lease"},
                                                                           "sk": {"S": "ecs-reconciler"}})
    assert "holder" not in item["Item"] and item["Item"]["expires_at"]["N"] == "0"  # a standby can take over at once
    assert item["Item"]["epoch"]["N"] == "1"  # kept: the next term is epoch 2


def _primary(sandbox, cluster: str, service: str) -> dict:
    svc = sandbox.client("ecs").describe_services(cluster=cluster, services=[service])["services"][0]
    return next(d for d in svc["deployments"] if d["status"] == "PRIMARY")


def test_sigterm_mid_deployment_leaves_it_running_and_the_next_daemon_follows_it(sandbox_factory, git, daemons,
                                                                                 tmp_path: Path) -> None:
    from reconciler.sandbox.pytest_plugin import EXAMPLE_SEED, TEST_SPEED

    sandbox = sandbox_factory(seed=EXAMPLE_SEED)
    server, repo = git
    common = dict(environment="staging", poll_interval="0.3", shutdown_timeout="10")
    a = DaemonProcess(tmp_path, "a", sandbox, server.url("manifests"), **common)
    daemons.append(a.start())
    a.wait_for(synced("staging/web", commit=repo.head()), "first sync", deadline=60)
    sandbox.set_speed(3.0)  # a rolling deployment lasts about 10 s: time to see it in flight
    set_image(repo, "staging", "web", "1.5.0")
    repo.commit("web 1.5.0")
    # The sandbox clock stops the moment the rollout is seen in flight, and starts again only once
    # daemon b follows it: it cannot end in between, however slow the machine.
    a.wait_for(lambda _: _frozen_in_flight(sandbox, "staging", "web", speed=3.0), "deployment started")
    started = _primary(sandbox, "staging", "web")
    code, elapsed = a.terminate(timeout=30)
    assert code == 0 and elapsed < 10  # did not wait for the deployment (frozen, it would never end)
    assert _primary(sandbox, "staging", "web")["id"] == started["id"]  # left running, not stopped or replaced
    events = a.log_events()
    assert events[-1].get("event") == "shutdown_complete"
    results = [e for e in events if e.get("event") == "sync_result" and e.get("service") == "staging/web"]
    assert results[-1]["status"] == "in_progress" and "continues in AWS" in results[-1]["message"]

    b = DaemonProcess(tmp_path, "b", sandbox, server.url("manifests"), **common)
    daemons.append(b.start())
    b.wait_for(lambda _: any(e.get("event") == "deploy_progress" and started["id"] in e.get("progress", "")
                             for e in b.log_events()), "b follows it")
    sandbox.set_speed(TEST_SPEED)
    doc = b.wait_for(lambda s: any(h["status"] == "succeeded" for h in
                                   b.service(s, "staging/web").get("history", [])), "b followed it", deadline=60)
    [record] = b.service(doc, "staging/web")["history"]
    assert record["action"] == "follow" and record["deploymentId"] == started["id"]  # no second deployment
    assert _primary(sandbox, "staging", "web")["rolloutState"] == "COMPLETED"


def _frozen_in_flight(sandbox, cluster: str, service: str, *, speed: float) -> bool:
    """Stop the sandbox clock while looking; leave it stopped when the PRIMARY rollout is in flight."""
    sandbox.set_speed(0)
    if _primary(sandbox, cluster, service)["rolloutState"] == "IN_PROGRESS":
        return True
    sandbox.set_speed(speed)
    return False


def test_git_server_going_away_and_coming_back(sandbox, git, daemons, tmp_path: Path) -> None:
    server, repo = git
    d = DaemonProcess(tmp_path, "a", sandbox, server.url("manifests"), environment="staging", poll_interval="0.2")
    daemons.append(d.start())
    d.wait_for(synced("staging/web", commit=repo.head()), "first sync")
    server.stop()
    doc = d.wait_for(lambda s: "git" in (s.get("degraded") or {}), "git outage reported")
    assert d.get("/healthz")[0] == 200
    set_image(repo, "staging", "web", "1.5.0")
    new = repo.commit("during the outage", push=True)  # pushed to the bare repo; nobody can fetch it yet
    server.start()
    doc = d.wait_for(lambda s: not s.get("degraded") and synced("staging/web", commit=new)(s), "recovered")
    assert doc["services"]["staging/web"]["lastAppliedCommit"] == new
    events = [e.get("event") for e in d.log_events()]
    assert events.count("reconciler_degraded") == 1 and "reconciler_recovered" in events


def test_no_secret_in_any_log_line(sandbox, daemons, tmp_path: Path) -> None:
    token = "glpat-VerySecretGitToken-42"
    webhook = "hook-secret-xyz-123456"
    with GitHttpServer(tmp_path / "srv", username="gitlab+deploy-token-1", password=token) as server:
        repo = ManifestRepo.create(tmp_path / "srv", "manifests.git", tmp_path / "work")
        repo.copy_tree(EXAMPLES / "environments", "environments").commit("initial")
        d = DaemonProcess(tmp_path, "a", sandbox, server.url("manifests.git"), environment="staging",
                          git_username="gitlab+deploy-token-1", git_token=token, webhook_gitlab_token=webhook,
                          poll_interval="0.3", log_level="debug")
        daemons.append(d.start())
        d.wait_for(synced("staging/web", commit=repo.head()), "first sync over authenticated HTTP")
        assert d.post("/webhook", b"{}", {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": webhook}) == 200
        server.password = "rotated"  # the token stops working: errors are logged
        d.wait_for(lambda s: "git" in (s.get("degraded") or {}), "auth failure reported")
        endpoints = {path: json.dumps(d.get(path)[1]) for path in ("/status", "/metrics", "/readyz")}
        d.stop()
    assert "git unreachable" in endpoints["/status"]  # the error is there, redacted
    assert all(token not in body and webhook not in body for body in endpoints.values())
    text = d.log_path.read_text()
    assert "git unreachable" in text
    assert token not in text and webhook not in text
    assert all(token not in line for line in d.log_lines())
