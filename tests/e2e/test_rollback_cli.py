"""`reconciler rollback` end to end: back to the previous revision, paused until git changes."""
from __future__ import annotations

import pytest
from test_sync_helpers import by_key, copy_examples, describe, image_of, run_cli, set_image, sync_json

pytestmark = pytest.mark.e2e


def test_rollback_restores_the_previous_revision_and_pauses(sandbox, tmp_path):
    repo = copy_examples(tmp_path)
    assert sync_json(sandbox, repo, "--env", "staging")[0] == 0
    first = describe(sandbox, "staging", "web")["taskDefinition"]
    set_image(repo, "staging", "web", "1.5.0")
    assert sync_json(sandbox, repo, "--env", "staging")[0] == 0
    second = describe(sandbox, "staging", "web")["taskDefinition"]
    assert second != first

    result = run_cli(sandbox, "rollback", "--repo", str(repo), "--env", "staging", "--service", "web",
                     "--deregister")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "git still declares the newer revision" in result.stdout
    assert "pauses automated sync of staging/web" in result.stdout
    svc = describe(sandbox, "staging", "web")
    assert svc["taskDefinition"] == first
    assert image_of(sandbox, svc["taskDefinition"]).endswith("web:1.4.2")
    tags = {t["key"]: t["value"] for t in svc["tags"]}
    assert "ecs-reconciler:paused-at-commit" in tags
    status = sandbox.client("ecs").describe_task_definition(taskDefinition=second)["taskDefinition"]["status"]
    assert status == "INACTIVE"  # --deregister

    # A manual sync deploys git's revision again and lifts the pause.
    code, data = sync_json(sandbox, repo, "--env", "staging")
    assert code == 0, data
    assert by_key(data)["staging/web"]["status"] == "succeeded"
    svc = describe(sandbox, "staging", "web")
    assert image_of(sandbox, svc["taskDefinition"]).endswith("web:1.5.0")
    assert "ecs-reconciler:paused-at-commit" not in {t["key"] for t in svc["tags"]}


def test_rollback_refuses_unowned_services(sandbox, tmp_path):
    repo = copy_examples(tmp_path)
    result = run_cli(sandbox, "rollback", "--repo", str(repo), "--env", "staging", "--service", "legacy-worker")
    assert result.returncode == 1
    assert "not owned" in result.stdout
