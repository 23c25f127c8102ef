"""`reconciler verify` as a subprocess against the sandbox and the example repository."""
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
ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
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


def edit(repo: Path, env: str, service: str, old: str, new: str) -> None:
    path = repo / "environments" / env / service / "taskdef.json"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_the_example_repository_verifies_and_reports_digests(sandbox, repo):
    result = run_cli(sandbox, "verify", "--repo", str(repo), "--output", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    web = next(s for s in data["services"] if (s["environment"], s["service"]) == ("staging", "web"))
    assert web["ok"] and web["findings"] == []
    assert web["digests"][f"{ECR}/web:1.4.2"].startswith("sha256:")


def test_missing_parameter_secret_and_image_exit_1_naming_each(sandbox, repo):
    edit(repo, "staging", "web", '"/web/staging/api-url"', '"/web/staging/missing-url"')
    edit(repo, "staging", "web", "secret:web/staging/db-AbCdEf", "secret:web/staging/gone-AbCdEf")
    edit(repo, "staging", "api", "/api:2.0.1", "/api:2.0.2")
    result = run_cli(sandbox, "verify", "--repo", str(repo), "--env", "staging")
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "SSM parameter /web/staging/missing-url not found in SSM Parameter Store" in out
    assert ("secret arn:aws:secretsmanager:eu-west-1:123456789012:secret:web/staging/gone-AbCdEf "
            "not found in Secrets Manager") in out
    assert f"image {ECR}/api:2.0.2 not found in ECR (similar tags: 2.0.1, 2.0.0" in out
    assert "verify: 0 ok, 2 failed" in out
    assert "not-a-real-password" not in out + result.stderr  # a secret's value is never read or shown


def test_a_role_ecs_cannot_assume_is_a_finding(sandbox, repo):
    iam = sandbox.client("iam")
    iam.create_role(RoleName="ec2-only", AssumeRolePolicyDocument=json.dumps({"Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    edit(repo, "staging", "web", '"executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"',
         '"executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",\n'
         '  "taskRoleArn": "arn:aws:iam::123456789012:role/ec2-only"')
    result = run_cli(sandbox, "verify", "--repo", str(repo), "--env", "staging", "--service", "web")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "cannot be assumed by ECS tasks" in result.stdout


def test_unknown_service_is_a_usage_error(sandbox, repo):
    result = run_cli(sandbox, "verify", "--repo", str(repo), "--service", "nope")
    assert result.returncode == 2
