"""One commit touching 30 services: `reconciler run` sends ONE summary parent to Slack's Web API and
the per-service details in its thread (the notifier merges the applier's per-service events)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from gitserver import GitDaemon, ManifestRepo
from test_daemon_helpers import REGISTRY, daemons, synced  # noqa: F401 - fixtures
from test_notify_daemon_helpers import about, api, chat_daemon, hook, notify_config
from test_notify_delivery import receiver  # noqa: F401 - fixture

pytestmark = pytest.mark.e2e
N = 30
NAMES = [f"svc-{i:02d}" for i in range(N)]
ENVIRONMENT = """cluster: staging
region: eu-west-1
accountId: "123456789012"
syncPolicy: {automated: true, selfHeal: true}
"""
SERVICE = """launchType: FARGATE
desiredCount: 1
networkConfiguration:
  awsvpcConfiguration:
    subnets: [subnet-0a1b2c3d4e5f60001]
    securityGroups: [sg-0a1b2c3d4e5f60001]
    assignPublicIp: DISABLED
"""


def taskdef(name: str, tag: str) -> str:
    return json.dumps({
        "family": name, "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256",
        "memory": "512", "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
        "containerDefinitions": [{"name": "web", "image": f"{REGISTRY}/web:{tag}", "essential": True}]}, indent=2)


def write_services(repo: ManifestRepo, tag: str) -> None:
    for name in NAMES:
        repo.write(f"environments/staging/{name}/service.yaml", SERVICE)
        repo.write(f"environments/staging/{name}/taskdef.json", taskdef(name, tag))


def test_commit_touching_30_services_gives_one_summary_and_a_thread(sandbox_factory, receiver, daemons,
                                                                     tmp_path: Path) -> None:
    from reconciler.sandbox.pytest_plugin import EXAMPLE_SEED

    sandbox = sandbox_factory(seed=EXAMPLE_SEED, speed=3000.0)
    with GitDaemon(tmp_path / "srv") as server:
        repo = ManifestRepo.create(tmp_path / "srv", "manifests", tmp_path / "work")
        repo.write("environments/staging/environment.yaml", ENVIRONMENT)
        write_services(repo, "1.4.1")
        repo.commit("30 services")
        d = chat_daemon(tmp_path, "a", sandbox, server.url("manifests"),
                        notify_config(tmp_path, receiver, batchSeconds=1.5),
                        environment="staging", poll_interval="0.2", max_parallel="10",
                        register_rate="1000", register_burst="100")  # AWS: 1/s; not what is tested here
        daemons.append(d.start())
        keys = [f"staging/{n}" for n in NAMES]
        d.wait_for(synced(*keys, commit=repo.head()), "30 services created", deadline=60)
        write_services(repo, "1.4.2")
        sha = repo.commit("web 1.4.2 everywhere")
        d.wait_for(synced(*keys, commit=sha), "30 services updated", deadline=60)

        def finished(requests) -> bool:
            text = json.dumps([p for _, p in api(about(requests, sha)) if "thread_ts" in p], ensure_ascii=False)
            return all(f"*{n}* · succeeded" in text for n in NAMES)

        mine = about(receiver.wait_for(1), sha)
        while not finished(receiver.requests):
            mine = about(receiver.wait_for(len(receiver.requests) + 1, timeout=15), sha)
        mine = about(receiver.requests, sha)

    calls = api(mine)
    parents = [p for m, p in calls if m == "chat.postMessage" and "thread_ts" not in p]
    assert len(parents) == 1, [p["text"] for p in parents]  # ONE message in the channel, not 30 or 60
    assert parents[0]["text"].startswith(f":white_check_mark: [staging] {N} services — Synced") or \
        parents[0]["text"].startswith(f":arrows_counterclockwise: [staging] {N} services")
    replies = [p for m, p in calls if m == "chat.postMessage" and "thread_ts" in p]
    assert len({p["thread_ts"] for p in replies}) == 1
    # 30 services packed a dozen per reply; a loaded machine may split the commit into a few waves,
    # never into one message per service (that would be 30 to 60).
    assert len(replies) <= 10
    updates = [p for m, p in calls if m == "chat.update"]
    assert all(u["ts"] == replies[0]["thread_ts"] for u in updates)
    final = (updates[-1] if updates else parents[0])
    assert final["text"].startswith(f":white_check_mark: [staging] {N} services — Synced")
    assert f"{N} succeeded" in json.dumps(final["blocks"])
    thread = json.dumps(replies, ensure_ascii=False)
    assert all(re.search(rf"\*{n}\* · succeeded .*?web:1.4.1` → `[^`]*web:1.4.2", thread) for n in NAMES)
    assert len(hook(mine)) <= 6  # the webhook (no threads) also gets summaries, not one message per service
