"""The daemon never deploys what cannot start: verification before any write, pre-sync hooks
(migrations) that gate the rollout, and a hook followed (never started twice) across a SIGKILL."""
from __future__ import annotations

from pathlib import Path

import pytest
from test_daemon_helpers import REGISTRY, DaemonProcess, daemons, git, set_image, synced  # noqa: F401

pytestmark = pytest.mark.e2e
HOOK_TAG = "ecs-reconciler:hook"


def live_image(sandbox, cluster: str, service: str) -> str:
    ecs = sandbox.client("ecs")
    arn = ecs.describe_services(cluster=cluster, services=[service])["services"][0]["taskDefinition"]
    return ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]["containerDefinitions"][0]["image"]


def registered_images(sandbox, family: str) -> list[str]:
    ecs = sandbox.client("ecs")
    arns = ecs.list_task_definitions(familyPrefix=family)["taskDefinitionArns"]
    return [ecs.describe_task_definition(taskDefinition=a)["taskDefinition"]["containerDefinitions"][0]["image"]
            for a in arns]


def hook_tasks(sandbox) -> list[dict]:
    """Every one-off task the reconciler started for a hook (running or stopped)."""
    state = sandbox.state
    with state.lock:
        return [t.render(include_tags=True) for t in state.one_off.tasks.values()
                if any(tag["key"] == HOOK_TAG for tag in t.tags)]


def add_migration(repo, env: str = "staging", service: str = "web", command: str = "bin/migrate") -> None:
    path = f"environments/{env}/{service}/service.yaml"
    text = repo.read(path)
    if "preSync" in text:
        text = text.split("  hooks:\n")[0]
    repo.write(path, text + f"  hooks:\n    preSync:\n      - name: migrate\n        command: [{command}]\n"
                            "        timeout: 10m\n")


def test_unverifiable_service_is_not_deployed_and_the_good_one_is(sandbox, git, daemons, tmp_path: Path) -> None:
    server, repo = git
    d = DaemonProcess(tmp_path, "a", sandbox, server.url("manifests"), environment="staging", poll_interval="0.3")
    daemons.append(d.start())
    d.wait_for(synced("staging/web", "staging/api", commit=repo.head()), "first sync")
    set_image(repo, "staging", "web", "1.5.1")   # never pushed
    taskdef = "environments/staging/web/taskdef.json"
    repo.write(taskdef, repo.read(taskdef).replace('"/web/staging/api-url"', '"/web/staging/missing-url"')
               .replace("secret:web/staging/db-AbCdEf", "secret:web/staging/gone-AbCdEf"))
    set_image(repo, "staging", "api", "2.1.0")   # a valid bump in the same commit
    sha = repo.commit("web 1.5.1 (not pushed) and api 2.1.0")
    doc = d.wait_for(lambda s: synced("staging/api", commit=sha)(s)
                     and "not deployed" in (d.service(s, "staging/web").get("lastError") or ""),
                     "api deployed, web refused", deadline=60)
    error = d.service(doc, "staging/web")["lastError"]
    assert f"image {REGISTRY}/web:1.5.1 not found in ECR (similar tag" in error and "1.5.0" in error
    assert "SSM parameter /web/staging/missing-url not found" in error
    assert "secret arn:aws:secretsmanager:eu-west-1:123456789012:secret:web/staging/gone-AbCdEf not found" in error
    assert live_image(sandbox, "staging", "api") == f"{REGISTRY}/api:2.1.0"
    assert live_image(sandbox, "staging", "web") == f"{REGISTRY}/web:1.4.2"            # no UpdateService
    assert f"{REGISTRY}/web:1.5.1" not in registered_images(sandbox, "web-staging")   # no RegisterTaskDefinition
    results = [e for e in d.log_events() if e.get("event") == "sync_result" and e.get("service") == "staging/api"
               and e.get("commit") == sha[:8]]
    assert results and results[-1]["status"] == "succeeded"


def test_failing_migration_blocks_the_rollout_and_a_passing_one_lets_it_through(sandbox, git, daemons,
                                                                                tmp_path: Path) -> None:
    server, repo = git
    sandbox.task_outcome("bin/migrate", exit_code=1, run_seconds=30,
                         logs=("migrating users", "ERROR: column users.email already exists"))
    d = DaemonProcess(tmp_path, "a", sandbox, server.url("manifests"), environment="staging", poll_interval="0.3")
    daemons.append(d.start())
    d.wait_for(synced("staging/web", commit=repo.head()), "first sync")
    add_migration(repo)
    set_image(repo, "staging", "web", "1.5.0")
    bad = repo.commit("web 1.5.0 with a migration that fails")
    doc = d.wait_for(lambda s: "pre-sync hook migrate failed" in (d.service(s, "staging/web").get("lastError") or ""),
                     "migration failed", deadline=60)
    error = d.service(doc, "staging/web")["lastError"]
    assert "exit code 1 (container web)" in error and "Essential container in task exited" in error
    assert "ERROR: column users.email already exists" in error
    assert live_image(sandbox, "staging", "web") == f"{REGISTRY}/web:1.4.2"  # the rollout did not start
    [run] = [t for t in hook_tasks(sandbox) if t["containers"][0]["exitCode"] == 1]
    assert run["overrides"]["containerOverrides"] == [{"name": "web", "command": ["bin/migrate"]}]
    assert run["taskDefinitionArn"].rsplit(":", 1)[0].endswith("web-staging") and bad
    sandbox.task_outcome("bin/migrate", exit_code=0, logs=("migrated",))
    add_migration(repo, command="bin/migrate --fixed")
    good = repo.commit("migration fixed")
    d.wait_for(synced("staging/web", commit=good), "deployed after the migration passed", deadline=60)
    assert live_image(sandbox, "staging", "web") == f"{REGISTRY}/web:1.5.0"
    commands = [t["overrides"]["containerOverrides"][0]["command"] for t in hook_tasks(sandbox)]
    assert commands.count(["bin/migrate"]) >= 1 and commands.count(["bin/migrate --fixed"]) == 1


def test_sigkill_while_the_migration_runs_restart_follows_the_same_task(sandbox, git, daemons,
                                                                        tmp_path: Path) -> None:
    server, repo = git
    a = DaemonProcess(tmp_path, "a", sandbox, server.url("manifests"), environment="staging", poll_interval="0.3")
    daemons.append(a.start())
    a.wait_for(synced("staging/web", commit=repo.head()), "first sync")
    # Runs until the test moves the sandbox clock on (a day of sandbox time: minutes of real time), so no restart is too slow.
    sandbox.task_outcome("bin/slow-migrate", exit_code=0, run_seconds=1e5)
    add_migration(repo, command="bin/slow-migrate")
    set_image(repo, "staging", "web", "1.5.0")
    sha = repo.commit("web 1.5.0 with a slow migration")
    a.wait_for(lambda s: any(t["lastStatus"] != "STOPPED" for t in hook_tasks(sandbox)), "migration started",
               deadline=60)
    a.kill()  # SIGKILL: no chance to clean up
    [task] = [t for t in hook_tasks(sandbox) if t["lastStatus"] != "STOPPED"]
    b = DaemonProcess(tmp_path, "b", sandbox, server.url("manifests"), environment="staging", poll_interval="0.3")
    daemons.append(b.start())
    task_id = task["taskArn"].rsplit("/", 1)[-1]
    b.wait_for(lambda s: any("following task" in e.get("progress", "") and task_id in e.get("progress", "")
                             for e in b.log_events() if e.get("event") == "deploy_progress"),
               "b follows the running migration", deadline=90)
    sandbox.advance(1e5)  # the migration exits 0
    b.wait_for(synced("staging/web", commit=sha), "deployed after the followed migration", deadline=90)
    assert [e for e in b.log_events() if e.get("event") == "hook_started"] == []  # never started twice
    assert live_image(sandbox, "staging", "web") == f"{REGISTRY}/web:1.5.0"
