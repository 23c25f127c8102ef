"""A deployment AWS rolled back is not deployed again by the daemon that followed it: its backoff retry
reads the failure from AWS (the ServiceDeployment), records it (failed-spec tag) and deploys nothing,
until git declares something else."""
from __future__ import annotations

from pathlib import Path

import pytest
from gitserver import GitDaemon, ManifestRepo
from test_daemon_failures import rolled_back
from test_daemon_helpers import daemons, set_image, synced  # noqa: F401 - fixtures
from test_notify_daemon_helpers import about, chat_daemon, hook, notify_config, single_service_repo
from test_notify_delivery import receiver  # noqa: F401 - fixture

from reconciler.model import FAILED_TAG

pytestmark = pytest.mark.e2e
BAD = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1.5.0"  # production/web has no preSync hook


def deployments_of(sandbox, task_definition: str) -> int:
    ecs = sandbox.client("ecs")
    briefs = ecs.list_service_deployments(cluster="production", service="web", maxResults=100)["serviceDeployments"]
    return sum(ecs.describe_service_revisions(serviceRevisionArns=[b["targetServiceRevisionArn"]])
               ["serviceRevisions"][0]["taskDefinition"] == task_definition for b in briefs)


def test_a_rolled_back_commit_is_not_deployed_again_after_its_backoff(sandbox, receiver, daemons, tmp_path: Path):
    with GitDaemon(tmp_path / "srv") as server:
        repo = ManifestRepo.create(tmp_path / "srv", "manifests", tmp_path / "work")
        single_service_repo(repo, "production", "web")
        d = chat_daemon(tmp_path, "a", sandbox, server.url("manifests"), notify_config(tmp_path, receiver, api=False),
                        environment="production", poll_interval="0.2", drift_interval="0.5",
                        backoff_base="0.5", backoff_max="1")
        daemons.append(d.start())
        d.wait_for(synced("production/web", commit=repo.head()), "first sync")

        sandbox.fail_image(BAD)
        set_image(repo, "production", "web", "1.5.0")
        bad = repo.commit("web: release a tag whose image cannot be pulled")
        doc = d.wait_for(rolled_back("production/web", bad), "the bad commit to roll back", deadline=90)
        failed_td = next(h for h in doc["services"]["production/web"]["history"] if h["commit"] == bad)
        # The backoff (0.5 s, then 1 s) passes several times: each retry finds the failure in AWS.
        doc = d.wait_for(lambda s: len([h for h in s["services"]["production/web"]["history"] if h["commit"] == bad]) >= 2,
                         "the retry to record the failure from AWS", deadline=60)
        cycles = doc["cycles"]
        doc = d.wait_for(lambda s: s["cycles"] >= cycles + 6, "more cycles")
        history = [h for h in doc["services"]["production/web"]["history"] if h["commit"] == bad]
        assert len(history) == 2 and {h["deploymentId"] for h in history} == {failed_td["deploymentId"]}, history
        web = sandbox.client("ecs").describe_services(cluster="production", services=["web"], include=["TAGS"])["services"][0]
        assert FAILED_TAG in {t["key"] for t in web.get("tags") or []}
        revisions = sandbox.client("ecs").list_task_definitions(familyPrefix="web-production")["taskDefinitionArns"]
        assert deployments_of(sandbox, revisions[-1]) == 1  # the bad revision was deployed once
        finals = [m for m in hook(about(receiver.requests, bad)) if "Sync started" not in str(m)]
        assert len(finals) == 1, finals
