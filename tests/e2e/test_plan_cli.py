"""`reconciler plan` as a subprocess against the sandbox and the example repository."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "deploy-manifests" / "examples"
pytestmark = pytest.mark.e2e


def run_cli(sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **sandbox.env()}
    return subprocess.run([sys.executable, "-m", "reconciler", *args], env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    dest = tmp_path / "repo"
    shutil.copytree(EXAMPLES / "environments", dest / "environments")
    return dest


def by_key(data: dict) -> dict[str, dict]:
    return {f"{s['environment']}/{s['service']}": s for s in data["services"]}


def pin_production_api_to_seed(repo: Path) -> None:
    """Make git match what the seed runs for production/api (api:2.0.0), so it must plan as in-sync."""
    taskdef = repo / "environments" / "production" / "api" / "taskdef.json"
    taskdef.write_text(taskdef.read_text().replace("/api:2.0.1", "/api:2.0.0"))


def test_plan_of_the_example_world(sandbox, repo):
    pin_production_api_to_seed(repo)
    result = run_cli(sandbox, "plan", "--repo", str(repo), "--output", "json")
    assert result.returncode == 1, result.stderr
    services = by_key(json.loads(result.stdout))
    assert services["production/api"]["action"] == "in-sync", services["production/api"]
    assert services["production/api"]["changes"] == []
    assert services["staging/web"]["action"] == "create"
    assert services["staging/api"]["action"] == "create"
    web = services["production/web"]
    assert web["action"] == "update"
    [image] = [c for c in web["changes"] if c["path"] == "taskDefinition/containerDefinitions/web/image"]
    assert image["live"].endswith("web:1.4.1") and image["desired"].endswith("web:1.4.2")
    assert "staging/legacy-worker" not in services  # unowned and not in git: none of our business


def test_plan_text_output_of_a_drifted_service(sandbox, repo):
    result = run_cli(sandbox, "plan", "--repo", str(repo), "--env", "production", "--service", "web")
    assert result.returncode == 1, result.stderr
    assert "production/web: update" in result.stdout
    assert "web:1.4.1" in result.stdout and "web:1.4.2" in result.stdout


def test_plan_exits_0_when_everything_selected_is_in_sync(sandbox, repo):
    pin_production_api_to_seed(repo)
    result = run_cli(sandbox, "plan", "--repo", str(repo), "--env", "production", "--service", "api")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "production/api: in-sync" in result.stdout
    assert "plan: 1 in-sync" in result.stdout


def test_unowned_same_named_service_is_reported_not_planned(sandbox, repo):
    web = repo / "environments" / "staging" / "web"
    legacy = repo / "environments" / "staging" / "legacy-worker"
    shutil.copytree(web, legacy)
    for f in legacy.iterdir():
        text = f.read_text().replace("serviceName: web", "serviceName: legacy-worker")
        text = text.replace('"family": "web-staging"', '"family": "legacy-worker"')
        f.write_text(text)
    result = run_cli(sandbox, "plan", "--repo", str(repo), "--env", "staging", "--output", "json")
    services = by_key(json.loads(result.stdout))
    assert services["staging/legacy-worker"]["action"] == "unowned", result.stdout


def test_broken_manifest_does_not_hide_the_others(sandbox, repo):
    (repo / "environments" / "staging" / "api" / "service.yaml").write_text("serviceName: api\ndesiredCount: [\n")
    result = run_cli(sandbox, "plan", "--repo", str(repo), "--output", "json")
    assert result.returncode == 2
    data = json.loads(result.stdout)
    services = by_key(data)
    assert services["staging/api"]["action"] == "invalid"
    assert services["staging/web"]["action"] == "create"
    assert any("environments/staging/api/service.yaml" in i["file"] for i in data["issues"])


def test_missing_repo_is_a_usage_error(sandbox, tmp_path):
    result = run_cli(sandbox, "plan", "--repo", str(tmp_path / "nope"))
    assert result.returncode == 2
    assert "nope" in result.stderr
    assert "Traceback" not in result.stderr
