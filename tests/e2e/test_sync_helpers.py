"""Helpers (no tests) for the sync/rollback end-to-end tests: run the CLI against a sandbox, edit the example repo."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "deploy-manifests" / "examples"
REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


def cli_env(sandbox: Any) -> dict[str, str]:
    return {**os.environ, **sandbox.env(), "RECONCILER_APPLY_POLL_INTERVAL": "0.05"}


def run_cli(sandbox: Any, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reconciler", *args], env=cli_env(sandbox),
                          capture_output=True, text=True, timeout=timeout)


def popen_cli(sandbox: Any, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "reconciler", *args], env=cli_env(sandbox),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def sync_json(sandbox: Any, repo: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = run_cli(sandbox, "sync", "--repo", str(repo), "--output", "json", *args)
    assert result.stdout.strip(), result.stderr
    return result.returncode, json.loads(result.stdout)


def copy_examples(dest: Path) -> Path:
    repo = dest / "repo"
    shutil.copytree(EXAMPLES / "environments", repo / "environments")
    return repo


def set_image(repo: Path, env: str, service: str, tag: str) -> None:
    path = repo / "environments" / env / service / "taskdef.json"
    text = path.read_text()
    new = re.sub(rf"({re.escape(REGISTRY)}/{service}):[\w.-]+", rf"\1:{tag}", text)
    assert new != text, "image not found in taskdef"
    path.write_text(new)


def by_key(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{s['environment']}/{s['service']}": s for s in data["services"]}


def describe(sandbox: Any, cluster: str, service: str) -> dict[str, Any] | None:
    ecs = sandbox.client("ecs")
    found = ecs.describe_services(cluster=cluster, services=[service], include=["TAGS"])["services"]
    live = [s for s in found if s.get("status") != "INACTIVE"]
    return live[0] if live else None


def revisions(sandbox: Any, family: str) -> list[str]:
    ecs = sandbox.client("ecs")
    return [a for a in ecs.list_task_definitions(familyPrefix=family)["taskDefinitionArns"]
            if a.rsplit("/", 1)[-1].rsplit(":", 1)[0] == family]


def image_of(sandbox: Any, task_definition_arn: str) -> str:
    td = sandbox.client("ecs").describe_task_definition(taskDefinition=task_definition_arn)["taskDefinition"]
    return td["containerDefinitions"][0]["image"]
