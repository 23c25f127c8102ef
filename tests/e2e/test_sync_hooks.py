"""Post-sync hooks through `reconciler sync`: a failing smoke test fails the sync and rolls back."""
from __future__ import annotations

import pytest
from test_sync_helpers import by_key, copy_examples, describe, image_of, sync_json

pytestmark = pytest.mark.e2e


def test_failing_post_sync_smoke_test_fails_the_sync_and_rolls_back(sandbox, tmp_path):
    repo = copy_examples(tmp_path)
    service = repo / "environments" / "production" / "web" / "service.yaml"
    service.write_text(service.read_text().replace("gitops:\n", "gitops:\n  hooks:\n    postSync:\n"
                                                   "      - name: smoke\n        command: [bin/smoke-test]\n"
                                                   "        timeout: 2m\n        rollbackOnFailure: true\n", 1))
    sandbox.task_outcome("bin/smoke-test", exit_code=1, logs=("GET /health -> 503",))
    before = describe(sandbox, "production", "web")["taskDefinition"]
    code, data = sync_json(sandbox, repo, "--env", "production", "--service", "web", "--timeout", "5m")
    assert code == 1, data
    web = by_key(data)["production/web"]
    assert web["status"] == "rolled_back" and web["rolledBack"] is True, web
    assert web["message"].startswith("post-sync hook smoke failed: exit code 1 (container web)"), web
    assert "rolled back" in web["message"]
    after = describe(sandbox, "production", "web")["taskDefinition"]
    assert after == before and image_of(sandbox, after).endswith("/web:1.4.1")  # back on the previous revision
