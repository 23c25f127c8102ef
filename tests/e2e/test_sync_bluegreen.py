"""`reconciler sync` of CODE_DEPLOY services end to end: canary, alarm rollback, attach after a kill."""
from __future__ import annotations

from pathlib import Path

import pytest
from test_sync_helpers import by_key, copy_examples, describe, image_of, popen_cli, run_cli, set_image, sync_json

from reconciler.sandbox.pytest_plugin import TEST_SPEED

pytestmark = pytest.mark.e2e


def _read_until(proc, needle: str) -> list[str]:
    """Read the child's stdout line by line until `needle` shows up (or it exits)."""
    lines: list[str] = []
    for line in proc.stdout:
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"{needle!r} never printed: {''.join(lines)} {proc.stderr.read()}")


def _start_then_kill(sandbox, *args: str, until: str) -> None:
    """Run a sync and kill it (SIGKILL) as soon as it printed `until`: a crash mid-deployment."""
    proc = popen_cli(sandbox, "sync", *args)
    try:
        _read_until(proc, until)
    finally:
        proc.kill()
        proc.communicate()


def test_blue_green_canary_goes_through_codedeploy(sandbox, tmp_path):
    repo = copy_examples(tmp_path)
    set_image(repo, "production", "api", "2.1.0")
    result = run_cli(sandbox, "sync", "--repo", str(repo), "--env", "production", "--service", "api")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "started CodeDeploy deployment" in result.stdout
    assert "Green 10%" in result.stdout  # the canary step was reported
    assert "production/api: update succeeded" in result.stdout
    cd = sandbox.client("codedeploy")
    config = cd.get_deployment_config(deploymentConfigName="api-canary-10-percent-1-minute")["deploymentConfigInfo"]
    assert config["trafficRoutingConfig"]["timeBasedCanary"] == {"canaryPercentage": 10, "canaryInterval": 1}
    [dep_id] = cd.list_deployments(applicationName="api", deploymentGroupName="api-production",
                                   includeOnlyStatuses=["Succeeded"])["deployments"]
    info = cd.get_deployment(deploymentId=dep_id)["deploymentInfo"]
    assert info["deploymentConfigName"] == "api-canary-10-percent-1-minute"
    svc = describe(sandbox, "production", "api")
    assert image_of(sandbox, svc["taskDefinition"]).endswith("api:2.1.0")
    assert sync_json(sandbox, repo, "--env", "production", "--service", "api")[1]["services"] == []


def test_alarm_rolls_the_canary_back(sandbox_factory, tmp_path):
    from reconciler.sandbox.pytest_plugin import EXAMPLE_SEED

    sandbox = sandbox_factory(seed=EXAMPLE_SEED, speed=30.0)  # the 1-minute canary bake lasts 2 s
    repo = copy_examples(tmp_path)
    before = describe(sandbox, "production", "api")["taskDefinition"]
    set_image(repo, "production", "api", "2.1.0")
    proc = popen_cli(sandbox, "sync", "--repo", str(repo), "--env", "production", "--service", "api")
    try:
        _read_until(proc, "Green 10%")
        assert sandbox.fire_alarm("api-production-5xx")
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 1, out + err
    assert "production/api: update rolled_back" in out
    assert "FAILED: production/api" in out
    assert describe(sandbox, "production", "api")["taskDefinition"] == before


def _killed_mid_deployment(sandbox_factory, tmp_path: Path, service: str, tag: str, *, until: str) -> tuple:
    """A sandbox where `sync` of production/<service> at <tag> was killed as soon as it printed `until`.

    The sandbox clock stands still from just before the sync until the caller restarts it, so the
    deployment is still in flight when the test looks, however slow the machine (no race)."""
    from reconciler.sandbox.pytest_plugin import EXAMPLE_SEED

    sandbox = sandbox_factory(seed=EXAMPLE_SEED)
    repo = copy_examples(tmp_path)
    set_image(repo, "production", service, tag)
    sandbox.set_speed(0)
    _start_then_kill(sandbox, "--repo", str(repo), "--env", "production", "--service", service, until=until)
    return sandbox, repo


def _resume(sandbox, repo: Path, service: str) -> tuple[int, str]:
    """Sync production/<service> again; the clock starts once it said it follows the deployment, so
    the deployment cannot end before the new process looked (it would be recorded, not followed)."""
    proc = popen_cli(sandbox, "sync", "--repo", str(repo), "--env", "production", "--service", service)
    try:
        lines = _read_until(proc, "already in progress")
        sandbox.set_speed(TEST_SPEED)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    return proc.returncode, "".join(lines) + out + err


def test_sync_killed_mid_deployment_attaches_to_it_on_restart(sandbox_factory, tmp_path):
    sandbox, repo = _killed_mid_deployment(sandbox_factory, tmp_path, "web", "1.5.0", until="production/web: running")
    svc = describe(sandbox, "production", "web")
    [primary] = [d for d in svc["deployments"] if d["status"] == "PRIMARY"]
    assert primary["rolloutState"] == "IN_PROGRESS"
    ecs = sandbox.client("ecs")
    revisions_before = ecs.list_task_definitions(familyPrefix="web-production")["taskDefinitionArns"]

    code, out = _resume(sandbox, repo, "web")
    assert code == 0, out
    assert f"following deployment {primary['id']} already in progress" in out  # the same one, not a second
    assert f"production/web: follow succeeded - ECS deployment {primary['id']} completed" in out
    after = describe(sandbox, "production", "web")
    assert [d["id"] for d in after["deployments"]] == [primary["id"]]
    assert after["deployments"][0]["rolloutState"] == "COMPLETED"
    assert ecs.list_task_definitions(familyPrefix="web-production")["taskDefinitionArns"] == revisions_before


def test_restart_during_codedeploy_follows_the_active_deployment(sandbox_factory, tmp_path):
    sandbox, repo = _killed_mid_deployment(sandbox_factory, tmp_path, "api", "2.1.0",
                                           until="started CodeDeploy deployment")
    cd = sandbox.client("codedeploy")
    [active] = cd.list_deployments(applicationName="api", deploymentGroupName="api-production",
                                   includeOnlyStatuses=["Created", "Queued", "InProgress", "Ready"])["deployments"]
    code, out = _resume(sandbox, repo, "api")
    assert code == 0, out
    assert f"following CodeDeploy deployment {active} already in progress" in out
    assert f"production/api: update succeeded - CodeDeploy deployment succeeded; deployment {active};" in out
    assert cd.get_deployment(deploymentId=active)["deploymentInfo"]["status"] == "Succeeded"
    assert len(cd.list_deployments(applicationName="api", deploymentGroupName="api-production")["deployments"]) == 1


def test_network_change_deploys_once_then_is_in_sync(sandbox, tmp_path):
    """The new subnets live on the PRIMARY task set only; the stale service-level value is no drift."""
    repo = copy_examples(tmp_path)
    cd = sandbox.client("codedeploy")

    def deployments() -> list[str]:
        return cd.list_deployments(applicationName="api", deploymentGroupName="api-staging")["deployments"]

    assert sync_json(sandbox, repo, "--env", "staging", "--service", "api")[0] == 0
    before = len(deployments())
    path = repo / "environments" / "staging" / "api" / "service.yaml"
    text = path.read_text()
    path.write_text(text.replace("      - subnet-0a1b2c3d4e5f60002\n", "", 1))
    assert path.read_text() != text
    plan = run_cli(sandbox, "plan", "--repo", str(repo), "--env", "staging", "--service", "api")
    assert plan.returncode == 1 and "subnets" in plan.stdout, plan.stdout + plan.stderr

    code, data = sync_json(sandbox, repo, "--env", "staging", "--service", "api")
    assert code == 0 and by_key(data)["staging/api"]["status"] == "succeeded", data
    assert len(deployments()) == before + 1
    [primary] = [t for t in describe(sandbox, "staging", "api")["taskSets"] if t["status"] == "PRIMARY"]
    assert "subnet-0a1b2c3d4e5f60002" not in primary["networkConfiguration"]["awsvpcConfiguration"]["subnets"]

    plan = run_cli(sandbox, "plan", "--repo", str(repo), "--env", "staging", "--service", "api")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert sync_json(sandbox, repo, "--env", "staging", "--service", "api")[0] == 0
    assert len(deployments()) == before + 1  # no second blue/green deployment


def test_ecs_to_code_deploy_is_refused_before_any_write_and_the_plan_says_what_to_commit(sandbox, tmp_path):
    """AWS has no path to CODE_DEPLOY [DG:update-service-parameters]: UpdateService would refuse it
    after a revision was registered and tags were written."""
    repo = copy_examples(tmp_path)
    path = repo / "environments" / "production" / "web" / "service.yaml"
    text = path.read_text()
    path.write_text(text.replace("gitops:\n  strategy: rolling\n", "gitops:\n  strategy: blue-green\n  codeDeploy:\n"
                                 "    application: web\n    deploymentGroup: web-production\n", 1))
    assert path.read_text() != text
    plan = run_cli(sandbox, "plan", "--repo", str(repo), "--env", "production", "--service", "web")
    assert plan.returncode == 1, plan.stdout + plan.stderr
    assert "AWS has no path to CODE_DEPLOY" in plan.stdout and "first remove the service from git" in plan.stdout
    ecs = sandbox.client("ecs")
    before = describe(sandbox, "production", "web")
    revisions_before = ecs.list_task_definitions(familyPrefix="web-production")["taskDefinitionArns"]
    code, data = sync_json(sandbox, repo, "--env", "production", "--service", "web")
    assert code == 1, data
    web = by_key(data)["production/web"]
    assert web["status"] == "failed" and web["registered"] is False, web
    assert web["message"].startswith("environments/production/web/service.yaml: deploymentController: "), web
    after = describe(sandbox, "production", "web")
    assert after["taskDefinition"] == before["taskDefinition"] and after["tags"] == before["tags"]
    assert ecs.list_task_definitions(familyPrefix="web-production")["taskDefinitionArns"] == revisions_before
