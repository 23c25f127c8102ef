"""`reconciler run` against the sandbox and a real git server: webhook, poll, broken manifests, secrets."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_daemon_helpers import DaemonProcess, daemons, git, set_image, synced  # noqa: F401 - fixtures

pytestmark = pytest.mark.e2e

TOKEN = "gl-webhook-token-9f8e7d6c5b4a"


def image(sandbox, cluster: str, service: str) -> str:
    ecs = sandbox.client("ecs")
    svc = ecs.describe_services(cluster=cluster, services=[service])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    return td["containerDefinitions"][0]["image"]


def test_push_webhook_applies_without_waiting_for_poll(sandbox, git, daemons, tmp_path: Path) -> None:
    server, repo = git
    d = DaemonProcess(tmp_path, "a", sandbox, server.url("manifests"), environment="staging",
                      webhook_gitlab_token=TOKEN)
    daemons.append(d.start())
    d.wait_for(synced("staging/web", "staging/api", commit=repo.head()), "first sync")
    new = set_image(repo, "staging", "web", "1.5.0") or repo.commit("web 1.5.0")
    body = json.dumps({"object_kind": "push", "ref": "refs/heads/main", "after": new, "checkout_sha": new,
                       "project": {"path_with_namespace": "platform/manifests"}}).encode()
    headers = {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": TOKEN, "Idempotency-Key": "k-1",
               "Content-Type": "application/json"}
    assert d.post("/webhook", body, {**headers, "X-Gitlab-Token": "wrong"}) == 401
    assert d.post("/webhook", body, headers) == 202
    doc = d.wait_for(synced("staging/web", commit=new), "web synced at the pushed commit", deadline=30)
    assert doc["commit"]["sha"] == new and doc["commit"]["title"] == "web 1.5.0"
    assert image(sandbox, "staging", "web").endswith("web:1.5.0")
    history = d.service(doc, "staging/web")["history"]
    assert history[0]["commit"] == new and history[0]["status"] == "succeeded"
    assert d.post("/webhook", body, headers) == 200  # a retry of the same delivery is deduplicated
    logs = "\n".join(d.log_lines())
    assert TOKEN not in logs


def test_poll_picks_up_a_commit_without_any_event(sandbox, git, daemons, tmp_path: Path) -> None:
    server, repo = git
    d = DaemonProcess(tmp_path, "a", sandbox, server.url("manifests"), environment="staging", poll_interval="0.3")
    daemons.append(d.start())
    d.wait_for(synced("staging/web", commit=repo.head()), "first sync")
    set_image(repo, "staging", "web", "1.5.0")
    new = repo.commit("web 1.5.0 via poll")
    d.wait_for(synced("staging/web", commit=new), "poll applied the commit", deadline=30)
    assert image(sandbox, "staging", "web").endswith("web:1.5.0")
    code, ready = d.get("/readyz")
    assert code == 200 and ready["ready"] is True
    code, metrics = d.get("/metrics")
    assert 'reconciler_aws_calls_total{action="DescribeServices",service="ecs"}' in metrics
    assert 'reconciler_services_sync{status="Synced"} 2.0' in metrics
    out = subprocess.run([sys.executable, "-m", "reconciler", "status", "--url", d.url, "--output", "json"],
                         capture_output=True, text=True, timeout=30)
    assert json.loads(out.stdout)["services"]["staging/web"]["lastAppliedCommit"] == new
    text = subprocess.run([sys.executable, "-m", "reconciler", "status", "--url", d.url],
                          capture_output=True, text=True, timeout=30).stdout
    assert "staging/web" in text and new[:8] in text


def test_broken_manifest_leaves_other_services_reconciled(sandbox, git, daemons, tmp_path: Path) -> None:
    server, repo = git
    d = DaemonProcess(tmp_path, "a", sandbox, server.url("manifests"), environment="staging", poll_interval="0.3")
    daemons.append(d.start())
    d.wait_for(synced("staging/web", "staging/api", commit=repo.head()), "first sync")
    repo.write("environments/staging/api/service.yaml", "desiredCount: [not, a, number\n")
    set_image(repo, "staging", "web", "1.5.0")
    new = repo.commit("break api, bump web")
    doc = d.wait_for(synced("staging/web", commit=new), "web applied despite broken api", deadline=30)
    assert doc["manifestIssues"], doc
    assert any("staging/api" in issue for issue in doc["manifestIssues"])
    api = d.service(doc, "staging/api")
    assert api["sync"] == "Unknown" and api["lastError"] == "manifest invalid"
    events = [e for e in d.log_events() if e.get("event") == "manifest_invalid"]
    assert len(events) == 1 and events[0]["commit"] == new[:8]
