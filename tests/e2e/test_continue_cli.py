"""`reconciler continue` end to end against the sandbox: a PAUSE hook answered with
ContinueServiceDeployment, and with --rollback."""
from __future__ import annotations

from typing import Any

import pytest
from test_sandbox_native import create, describe, pause_config, run_until, seed_without_checkout, update
from test_sync_helpers import copy_examples, run_cli

pytestmark = pytest.mark.e2e


@pytest.fixture
def box(sandbox_factory: Any) -> Any:
    return sandbox_factory(seed=seed_without_checkout(), speed=0)


def test_continue_answers_the_pause_hook_and_rollback_rolls_back(box, tmp_path) -> None:
    repo = copy_examples(tmp_path)
    create(box, pause_config())
    arn = update(box, "3.0.1")
    run_until(box, arn, set(), stage="POST_TEST_TRAFFIC_SHIFT")
    result = run_cli(box, "continue", "--repo", str(repo), "--env", "production", "--service", "checkout")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "continued: hook ecs-pause-" in result.stdout and "POST_TEST_TRAFFIC_SHIFT" in result.stdout
    assert run_until(box, arn, {"SUCCESSFUL"})["status"] == "SUCCESSFUL"

    again = run_cli(box, "continue", "--repo", str(repo), "--env", "production", "--service", "checkout")
    assert again.returncode == 1 and "no deployment is waiting" in again.stdout

    arn = update(box, "3.1.0")
    run_until(box, arn, set(), stage="POST_TEST_TRAFFIC_SHIFT")
    back = run_cli(box, "continue", "--repo", str(repo), "--env", "production", "--service", "checkout",
                   "--rollback", "--output", "json")
    assert back.returncode == 0, back.stdout + back.stderr
    assert '"deploymentId": "' + arn in back.stdout
    assert describe(box, arn)["status"] in ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS")
