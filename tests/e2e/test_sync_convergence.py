"""After a sync, plan says in sync: the reconciler never shows drift against what it sent itself, and a
field it cannot change is reported as a failure instead of a silent success."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from test_sync_helpers import by_key, copy_examples, describe, run_cli, sync_json

pytestmark = pytest.mark.e2e


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = copy_examples(tmp_path)
    shutil.rmtree(repo / "environments" / "production")
    shutil.rmtree(repo / "environments" / "staging" / "api")
    return repo


def edit(path: Path, pattern: str, replacement: str) -> None:
    text = path.read_text()
    new = re.sub(pattern, replacement, text, flags=re.MULTILINE | re.DOTALL)
    assert new != text, f"{pattern!r} not found in {path}"
    path.write_text(new)


def plan_exit(sandbox, repo: Path) -> tuple[int, str]:
    result = run_cli(sandbox, "plan", "--repo", str(repo))
    return result.returncode, result.stdout + result.stderr


def test_service_without_deployment_configuration_is_in_sync_after_create(sandbox, repo):
    service = repo / "environments" / "staging" / "web" / "service.yaml"
    edit(service, r"^deploymentConfiguration:\n(  .*\n)+", "")
    code, _ = sync_json(sandbox, repo)
    assert code == 0
    live = describe(sandbox, "staging", "web")
    assert live["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    code, out = plan_exit(sandbox, repo)
    assert code == 0, out


def test_removed_scalar_fields_go_back_to_aws_defaults(sandbox, repo):
    service = repo / "environments" / "staging" / "web" / "service.yaml"
    edit(service, r"^desiredCount: 2\n", "desiredCount: 2\nhealthCheckGracePeriodSeconds: 30\nenableExecuteCommand: true\n")
    assert sync_json(sandbox, repo)[0] == 0
    live = describe(sandbox, "staging", "web")
    assert (live["healthCheckGracePeriodSeconds"], live["enableExecuteCommand"]) == (30, True)

    edit(service, r"^healthCheckGracePeriodSeconds: 30\nenableExecuteCommand: true\n", "")
    code, out = plan_exit(sandbox, repo)
    assert code == 1 and "healthCheckGracePeriodSeconds" in out
    assert sync_json(sandbox, repo)[0] == 0
    live = describe(sandbox, "staging", "web")
    assert (live["healthCheckGracePeriodSeconds"], live["enableExecuteCommand"]) == (0, False)
    code, out = plan_exit(sandbox, repo)
    assert code == 0, out


def test_a_create_only_change_fails_with_an_explanation(sandbox, repo):
    assert sync_json(sandbox, repo)[0] == 0
    service = repo / "environments" / "staging" / "web" / "service.yaml"
    edit(service, r"^launchType: FARGATE\n", "launchType: EC2\n")
    code, data = sync_json(sandbox, repo)
    web = by_key(data)["staging/web"]
    assert code == 1, data
    assert web["status"] == "failed"
    assert "launchType" in web["message"] and "recreate" in web["message"]


def test_code_deploy_service_declared_rolling_fails_before_touching_anything(sandbox, tmp_path):
    repo = copy_examples(tmp_path / "prod")
    shutil.rmtree(repo / "environments" / "staging")
    service = repo / "environments" / "production" / "api" / "service.yaml"
    text = service.read_text()
    text = re.sub(r"^deploymentController:\n  type: CODE_DEPLOY\n", "", text, flags=re.M)
    text = text[:text.index("gitops:")] + "gitops:\n  strategy: rolling\n"
    service.write_text(text.replace("desiredCount: 2", "desiredCount: 3"))
    before = describe(sandbox, "production", "api")
    code, data = sync_json(sandbox, repo, "--service", "api")
    api = by_key(data)["production/api"]
    assert code == 1 and api["status"] == "failed", data
    assert "environments/production/api/service.yaml" in api["message"]
    assert "deploymentController" in api["message"] or "gitops.codeDeploy" in api["message"]
    after = describe(sandbox, "production", "api")
    assert after["desiredCount"] == before["desiredCount"] == 2  # nothing half-applied
    assert after["tags"] == before["tags"]
