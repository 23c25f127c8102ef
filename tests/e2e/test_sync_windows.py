"""Sync windows end to end: the daemon holds an automated sync during a deny window and applies it
when the window closes; `reconciler sync --override-window` applies it inside one and records it."""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_daemon_helpers import (  # noqa: F401 - fixtures
    EXAMPLES,
    LEASE_TABLE,
    REGISTRY,
    DaemonProcess,
    create_state_table,
    daemons,
    git,
    set_image,
    synced,
)

pytestmark = pytest.mark.e2e


def deny_window_now(seconds_left: int, manual_sync: bool = False) -> str:
    """A deny window that opened this minute (UTC) and closes `seconds_left` seconds from now."""
    now = dt.datetime.now(dt.UTC)
    duration = now.second + seconds_left
    return (f"syncWindows:\n  - kind: deny\n    schedule: '{now.minute} {now.hour} * * *'\n"
            f"    duration: {duration}s\n    timeZone: UTC\n    manualSync: {str(manual_sync).lower()}\n")


def image(sandbox, cluster: str, service: str) -> str:
    ecs = sandbox.client("ecs")
    arn = ecs.describe_services(cluster=cluster, services=[service])["services"][0]["taskDefinition"]
    return ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]["containerDefinitions"][0]["image"]


def test_deny_window_holds_automated_sync_until_it_closes(sandbox, git, daemons, tmp_path: Path) -> None:
    server, repo = git
    d = DaemonProcess(tmp_path, "a", sandbox, server.url("manifests"), environment="staging",
                      poll_interval="0.3", drift_interval="0.5")
    daemons.append(d.start())
    d.wait_for(synced("staging/web", commit=repo.head()), "first sync")
    env_file = "environments/staging/environment.yaml"
    repo.write(env_file, repo.read(env_file) + deny_window_now(12))
    set_image(repo, "staging", "web", "1.5.0")
    held_commit = repo.commit("web 1.5.0 during a freeze")
    doc = d.wait_for(lambda s: "frozen until" in (d.service(s, "staging/web").get("reason") or ""),
                     "sync held by the window", deadline=30)
    assert d.service(doc, "staging/web")["sync"] == "OutOfSync"
    assert doc["syncWindows"]["staging"][0]["kind"] == "deny"
    assert image(sandbox, "staging", "web").endswith("/web:1.4.2")  # nothing deployed in the window
    d.wait_for(synced("staging/web", commit=held_commit), "synced once the window closed", deadline=60)
    assert image(sandbox, "staging", "web") == f"{REGISTRY}/web:1.5.0"
    held = [e for e in d.log_events() if e.get("event") == "window_held" and e.get("service") == "staging/web"]
    assert len(held) == 1, held  # said once, though the daemon scanned many times in the window
    assert "staging frozen until" in held[0]["reason"]
    applied = [e for e in d.log_events() if e.get("event") == "sync_result" and e.get("service") == "staging/web"
               and e.get("commit") == held_commit[:8]]
    assert applied and applied[0]["timestamp"] > held[0]["timestamp"]


def run_cli(sandbox, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reconciler", *args], env={**os.environ, **sandbox.env(), **env},
                          capture_output=True, text=True, timeout=120)


def test_override_applies_inside_a_window_and_is_recorded(sandbox, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLES / "environments", repo / "environments")
    env_file = repo / "environments" / "production" / "environment.yaml"
    env_file.write_text(env_file.read_text() + deny_window_now(600, manual_sync=True))
    args = ("sync", "--repo", str(repo), "--env", "production", "--service", "web", "--output", "json",
            "--timeout", "2m")
    plan = run_cli(sandbox, "plan", "--repo", str(repo), "--env", "production")
    assert "window: production frozen until" in plan.stdout and "manualSync: true" in plan.stdout
    held = run_cli(sandbox, *args)
    assert held.returncode == 1, held.stderr
    doc = json.loads(held.stdout)
    assert doc["services"] == [] and doc["held"][0]["service"] == "production/web"
    assert image(sandbox, "production", "web").endswith("/web:1.4.1")
    create_state_table(sandbox)
    done = run_cli(sandbox, *args, "--override-window", RECONCILER_ACTOR="alice", RECONCILER_STATE_TABLE=LEASE_TABLE)
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(done.stdout)
    assert doc["windowOverrides"][0]["service"] == "production/web"
    assert "production frozen until" in doc["windowOverrides"][0]["reason"]
    assert image(sandbox, "production", "web").endswith("/web:1.4.2")
    history = run_cli(sandbox, "history", "--table", LEASE_TABLE, "--output", "json")
    assert history.returncode == 0, history.stderr
    [record] = [r for r in json.loads(history.stdout) if r["action"] == "sync-override-window"]
    assert record["actor_id"] == "alice" and record["service"] == "web" and record["environment"] == "production"
    assert record["result"] == "applied" and "production frozen until" in record["reason"]
