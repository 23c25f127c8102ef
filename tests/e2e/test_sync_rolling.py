"""`reconciler sync` end to end: create, roll out, no-op, failure with rollback, prune, throttling."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from test_sync_helpers import by_key, copy_examples, describe, image_of, revisions, run_cli, set_image, sync_json

pytestmark = pytest.mark.e2e


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return copy_examples(tmp_path)


def test_first_sync_creates_then_second_sync_changes_nothing(sandbox, repo):
    code, data = sync_json(sandbox, repo)
    assert code == 0, [s["message"] for s in data["services"]]
    results = by_key(data)
    assert results["staging/web"]["action"] == "create" and results["staging/web"]["status"] == "succeeded"
    assert results["staging/api"]["action"] == "create" and results["staging/api"]["status"] == "succeeded"
    assert results["production/web"]["status"] == "succeeded"
    web = describe(sandbox, "staging", "web")
    tags = {t["key"]: t["value"] for t in web["tags"]}
    assert tags["ecs-reconciler:managed-by"] == "ecs-reconciler"
    assert tags["ecs-reconciler:environment"] == "staging"
    assert len(tags["ecs-reconciler:applied-spec"]) == 32  # what a restarted daemon compares against
    primary = [d for d in web["deployments"] if d["status"] == "PRIMARY"][0]
    assert primary["rolloutState"] == "COMPLETED" and primary["runningCount"] == 2
    # A new CODE_DEPLOY service has no deployment to follow: create waited for its first task set.
    [task_set] = [t for t in describe(sandbox, "staging", "api")["taskSets"] if t["status"] == "PRIMARY"]
    assert task_set["stabilityStatus"] == "STEADY_STATE"
    assert task_set["runningCount"] == task_set["computedDesiredCount"] > 0
    assert results["staging/api"]["message"] == f"created; task set {task_set['id']} steady"
    before = {f: revisions(sandbox, f) for f in ("web-staging", "api-staging", "web-production", "api-production")}
    deployments_before = {s: [d["id"] for d in describe(sandbox, c, s)["deployments"]]
                          for c, s in (("staging", "web"), ("production", "web"))}

    code, data = sync_json(sandbox, repo)
    assert code == 0, [s["message"] for s in data["services"]]
    assert data["services"] == [] and data["ok"] is True
    assert sorted(data["inSync"]) == ["production/api", "production/checkout", "production/web", "staging/api",
                                      "staging/web"]
    assert {f: revisions(sandbox, f) for f in before} == before  # zero new revisions
    assert {s: [d["id"] for d in describe(sandbox, c, s)["deployments"]]
            for c, s in (("staging", "web"), ("production", "web"))} == deployments_before


def test_changed_image_tag_rolls_out_and_completes(sandbox, repo):
    assert sync_json(sandbox, repo, "--env", "staging")[0] == 0
    set_image(repo, "staging", "web", "1.5.0")
    result = run_cli(sandbox, "sync", "--repo", str(repo), "--env", "staging")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "staging/web: update succeeded" in result.stdout
    assert "running 2/2, failed 0" in result.stdout  # progress lines
    web = describe(sandbox, "staging", "web")
    assert image_of(sandbox, web["taskDefinition"]).endswith("web:1.5.0")
    [primary] = [d for d in web["deployments"] if d["status"] == "PRIMARY"]
    assert primary["rolloutState"] == "COMPLETED" and primary["taskDefinition"] == web["taskDefinition"]
    assert len(revisions(sandbox, "web-staging")) == 2


def _without_hooks(repo: Path, env: str, service: str) -> None:
    """Drop the service's hooks (the example staging/web has a preSync migrate)."""
    path = repo / "environments" / env / service / "service.yaml"
    doc = yaml.safe_load(path.read_text())
    assert doc["gitops"].pop("hooks")
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def test_unpullable_image_fails_rolls_back_and_names_the_reason(sandbox, repo):
    _without_hooks(repo, "staging", "web")  # the rollout itself must meet the image
    assert sync_json(sandbox, repo, "--env", "staging")[0] == 0
    good = describe(sandbox, "staging", "web")["taskDefinition"]
    # In ECR, so verification lets it through, but its tasks cannot pull it (a sandbox fault).
    sandbox.fail_image("123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1.5.0")
    set_image(repo, "staging", "web", "1.5.0")
    code, data = sync_json(sandbox, repo, "--env", "staging")
    assert code == 1
    assert data["failed"] == ["staging/web"]
    web = by_key(data)["staging/web"]
    assert web["status"] == "rolled_back" and web["rolledBack"] is True, web
    assert any("CannotPullContainerError" in r for r in web["stoppedReasons"]), web
    assert describe(sandbox, "staging", "web")["taskDefinition"] == good  # ECS is back on the old revision
    assert any(e["kind"] == "sync_rolled_back" for e in data["events"])

    text = run_cli(sandbox, "sync", "--repo", str(repo), "--env", "staging")
    assert text.returncode == 1
    assert "CannotPullContainerError" in text.stdout and "FAILED: staging/web" in text.stdout


def test_pre_sync_hook_runs_again_for_a_new_image_without_a_commit(sandbox, repo):
    """A working tree has no commit: the migrate hook that passed with the old image must not stand
    in for the new one (it did while AWS still listed the earlier run, about an hour)."""
    assert sync_json(sandbox, repo, "--env", "staging", "--service", "web")[0] == 0
    good = describe(sandbox, "staging", "web")["taskDefinition"]
    sandbox.fail_image("123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1.5.0")
    set_image(repo, "staging", "web", "1.5.0")
    code, data = sync_json(sandbox, repo, "--env", "staging", "--service", "web")
    assert code == 1, data
    web = by_key(data)["staging/web"]
    assert web["status"] == "failed" and web["deploymentId"] is None, web  # no rollout started
    assert web["message"].startswith("not deployed: pre-sync hook migrate failed"), web
    assert "CannotPullContainerError" in web["message"]
    assert describe(sandbox, "staging", "web")["taskDefinition"] == good


def test_one_failing_service_does_not_stop_the_others(sandbox, repo):
    set_image(repo, "staging", "web", "9.9.9-missing")
    code, data = sync_json(sandbox, repo, "--env", "staging")
    assert code == 1
    assert data["failed"] == ["staging/web"]
    web = by_key(data)["staging/web"]
    assert web["message"].startswith("not deployed: image ") and web["registered"] is False  # refused before any write
    assert [e["kind"] for e in data["events"] if e["services"] == ["web"]] == ["sync_failed"]
    assert by_key(data)["staging/api"]["status"] == "succeeded"
    assert by_key(data)["staging/api"]["imageDigests"]["123456789012.dkr.ecr.eu-west-1.amazonaws.com/api:2.0.1"].startswith("sha256:")


def test_dry_run_changes_nothing(sandbox, repo):
    code, data = sync_json(sandbox, repo, "--env", "staging", "--dry-run")
    assert code == 0
    assert by_key(data)["staging/web"]["status"] == "skipped"
    assert "would create" in by_key(data)["staging/web"]["message"]
    assert describe(sandbox, "staging", "web") is None
    assert revisions(sandbox, "web-staging") == []


def _set_prune(repo: Path, env: str, on: bool) -> None:
    path = repo / "environments" / env / "environment.yaml"
    text = path.read_text()
    new = text.replace("prune: false", f"prune: {'true' if on else 'false'}")
    if "prune:" not in text:
        new = text + f"\nsyncPolicy:\n  prune: {'true' if on else 'false'}\n"
    path.write_text(new)


def test_prune_off_leaves_removed_service_and_prune_on_deletes_only_owned(sandbox, repo):
    import shutil

    assert sync_json(sandbox, repo, "--env", "staging")[0] == 0
    shutil.rmtree(repo / "environments" / "staging" / "web")
    _set_prune(repo, "staging", False)
    code, data = sync_json(sandbox, repo, "--env", "staging")
    assert code == 0, [s["message"] for s in data["services"]]
    assert [r["service"] for r in data["reported"] if r["action"] == "orphan"] == ["web"]
    assert describe(sandbox, "staging", "web") is not None

    _set_prune(repo, "staging", True)
    code, data = sync_json(sandbox, repo, "--env", "staging")
    assert code == 0, [s["message"] for s in data["services"]]
    assert by_key(data)["staging/web"]["action"] == "prune"
    assert by_key(data)["staging/web"]["status"] == "succeeded"
    assert describe(sandbox, "staging", "web") is None
    assert describe(sandbox, "staging", "legacy-worker") is not None  # unowned: never touched


def test_throttled_api_still_converges(sandbox_factory, tmp_path):
    from reconciler.sandbox.pytest_plugin import EXAMPLE_SEED

    sandbox = sandbox_factory(seed=EXAMPLE_SEED, throttling=True)
    repo = copy_examples(tmp_path)
    for action in ("RegisterTaskDefinition", "CreateService", "DescribeServices", "CreateDeployment"):
        sandbox.throttle(action, 1)
    code, data = sync_json(sandbox, repo, "--env", "staging")
    assert code == 0, [s["message"] for s in data["services"]]
    assert [(r["service"], r["status"]) for r in data["services"]] == [("api", "succeeded"), ("web", "succeeded")]
    assert sync_json(sandbox, repo, "--env", "staging")[1]["services"] == []
