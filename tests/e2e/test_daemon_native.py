"""The daemon (a real process) driving ECS-native deployments in the sandbox (example service
production/checkout): LINEAR 25 % steps with one thread reply per step and no redeploy after the
target-group swap, a PAUSE hook held until `reconciler continue` and its timeout's ROLLBACK, a CANARY
rolled back by its alarm, SIGKILL mid-step followed to the end, CODE_DEPLOY moved to ECS BLUE_GREEN."""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from gitserver import GitDaemon, ManifestRepo
from test_daemon_helpers import EXAMPLES, DaemonProcess, daemons, set_image, synced  # noqa: F401 - fixtures
from test_notify_daemon_helpers import api, chat_daemon, notify_config
from test_notify_delivery import Receiver, receiver  # noqa: F401 - fixture
from test_sync_helpers import run_cli

from reconciler.sandbox.pytest_plugin import EXAMPLE_SEED

pytestmark = pytest.mark.e2e
KEY = "production/checkout"
PRODUCTION = EXAMPLES / "environments" / "production"
SPEED = 120.0  # a 15-second scheduler pass is 0.125 s; a 1-minute bake 0.5 s


@pytest.fixture
def world(sandbox_factory: Any, tmp_path: Path):
    box = sandbox_factory(seed=EXAMPLE_SEED, speed=SPEED)
    with GitDaemon(tmp_path / "srv") as server:
        repo = ManifestRepo.create(tmp_path / "srv", "manifests", tmp_path / "work")
        repo.write("environments/production/environment.yaml", (PRODUCTION / "environment.yaml").read_text())
        yield box, server, repo


def with_service(repo: ManifestRepo, name: str = "checkout") -> str:
    repo.copy_tree(PRODUCTION / name, f"environments/production/{name}")
    return repo.commit(f"production/{name}")


def set_deployment(repo: ManifestRepo, config: dict[str, Any], service: str = "checkout") -> None:
    path = repo.work / f"environments/production/{service}/service.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["deploymentConfiguration"] = config
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def service_deployments(box: Any, service: str = "checkout") -> list[dict[str, Any]]:
    return box.client("ecs").list_service_deployments(cluster="production", service=service)["serviceDeployments"]


def progress(d: DaemonProcess, pattern: str) -> Callable[[dict[str, Any]], bool]:
    return lambda doc: re.search(pattern, d.service(doc, KEY).get("progress") or "") is not None


def last_record(d: DaemonProcess, doc: dict[str, Any]) -> dict[str, Any]:
    return (d.service(doc, KEY).get("history") or [{}])[0]


def replies(rec: Receiver, sha: str) -> list[str]:
    """Thread replies (Web API) about commit `sha`, as text."""
    return [json.dumps(p) for m, p in api(rec.requests) if m == "chat.postMessage" and "thread_ts" in p
            and sha[:8] in json.dumps(p)]


def test_linear_steps_pause_continue_and_timeout(world, receiver, daemons, tmp_path: Path) -> None:
    box, server, repo = world
    with_service(repo)
    d = chat_daemon(tmp_path, "a", box, server.url("manifests"), notify_config(tmp_path, receiver),
                    environment="production", poll_interval="0.2", drift_interval="0.5")
    daemons.append(d.start())
    d.wait_for(synced(KEY), "first sync (already in sync: no deployment)", deadline=90)
    assert len(service_deployments(box)) == 1  # the seed's CreateService only

    # 1. LINEAR 25 %: 25 -> 50 -> 75 -> 100 with bakes, one thread reply per step.
    set_deployment(repo, {"strategy": "LINEAR", "bakeTimeInMinutes": 1,
                          "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 1},
                          "deploymentCircuitBreaker": {"enable": True, "rollback": True}})
    set_image(repo, "production", "checkout", "3.0.1")
    linear = repo.commit("checkout 3.0.1, LINEAR 25 %")
    d.wait_for(synced(KEY, commit=linear), "LINEAR rollout", deadline=120)
    texts = replies(receiver, linear)
    for pct in (25, 50, 75, 100):
        step = [t for t in texts if f"LINEAR step {pct // 25}/4: {pct} %" in t]
        assert len(step) == 1, (pct, texts)
    deployments = service_deployments(box)
    assert [x["status"] for x in deployments[:1]] == ["SUCCESSFUL"] and len(deployments) == 2
    # The target groups swapped: the next scans are in sync and deploy nothing.
    lb = box.client("ecs").describe_services(cluster="production", services=["checkout"])["services"][0]["loadBalancers"]
    assert lb[0]["targetGroupArn"].endswith("checkout-green/0000000000000008")
    cycles = d.status()["cycles"]
    doc = d.wait_for(lambda doc: doc["cycles"] >= cycles + 3, "three more scans", deadline=60)
    assert d.service(doc, KEY)["sync"] == "Synced" and len(service_deployments(box)) == 2

    # 2. CANARY with a PAUSE hook: held until `reconciler continue`.
    set_deployment(repo, yaml.safe_load((PRODUCTION / "checkout" / "service.yaml").read_text())["deploymentConfiguration"])
    set_image(repo, "production", "checkout", "3.1.0")
    paused = repo.commit("checkout 3.1.0, CANARY with a pause")
    d.wait_for(progress(d, r"CANARY: paused at POST_TEST_TRAFFIC_SHIFT, expires \d\d:\d\d, hook ecs-pause-"),
               "the pause", deadline=90)
    assert d.service(d.status(), KEY)["sync"] != "Synced" or last_record(d, d.status()).get("commit") != paused
    answer = run_cli(box, "continue", "--repo", str(repo.work), "--env", "production", "--service", "checkout")
    assert answer.returncode == 0, answer.stdout + answer.stderr
    d.wait_for(synced(KEY, commit=paused), "the canary after continue", deadline=90)
    texts = replies(receiver, paused)
    assert sum("paused at POST_TEST_TRAFFIC_SHIFT" in t for t in texts) == 1, texts
    # the pause's reply carries Continue / Roll back buttons (handled as continue/abort: test_chatops_dispatch)
    [pause] = [json.loads(t) for t in texts if "paused at POST_TEST_TRAFFIC_SHIFT" in t]
    assert [(e["action_id"], e["value"]) for e in pause["blocks"][-1]["elements"]] == [
        ("deployment_continue", "production|checkout"), ("deployment_rollback", "production|checkout")]
    assert all("deployment_continue" not in t for t in texts if "CANARY step 2/2" in t)
    assert sum("CANARY step 1/2: 10 %" in t for t in texts) == 1 and sum("CANARY step 2/2: 100 %" in t for t in texts) == 1

    # 3. The pause times out: its ROLLBACK action is reported as the cause.
    set_image(repo, "production", "checkout", "3.0.0")
    timeout = repo.commit("checkout back to 3.0.0, nobody continues")
    d.wait_for(progress(d, "paused at POST_TEST_TRAFFIC_SHIFT"), "the second pause", deadline=90)
    box.advance(61 * 60)
    doc = d.wait_for(lambda doc: last_record(d, doc).get("commit") == timeout
                     and last_record(d, doc).get("status") == "rolled_back", "the timeout's rollback", deadline=90)
    assert re.search(r"PAUSE hook ecs-pause-\S+ timed out \(ECS rolled back to \d+\)", last_record(d, doc)["message"])
    # The report follows the status by a moment (the notifier's queue): wait for it, not for time.
    while not any("timed out" in t for t in replies(receiver, timeout)):
        receiver.wait_for(len(receiver.requests) + 1, timeout=30)


def test_canary_alarm_rolls_back_and_the_report_names_it(world, receiver, daemons, tmp_path: Path) -> None:
    box, server, repo = world
    with_service(repo)
    set_deployment(repo, {"strategy": "CANARY", "bakeTimeInMinutes": 1,
                          "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 10},
                          "alarms": {"alarmNames": ["checkout-production-5xx"], "enable": True, "rollback": True}})
    set_image(repo, "production", "checkout", "3.0.1")
    sha = repo.commit("checkout 3.0.1 as a canary")
    d = chat_daemon(tmp_path, "a", box, server.url("manifests"), notify_config(tmp_path, receiver),
                    environment="production", poll_interval="0.2")
    daemons.append(d.start())
    d.wait_for(progress(d, r"CANARY step 1/2: 10 %"), "the canary step", deadline=90)
    box.client("cloudwatch").set_alarm_state(AlarmName="checkout-production-5xx", StateValue="ALARM",
                                             StateReason="5xx above threshold")
    doc = d.wait_for(lambda doc: last_record(d, doc).get("status") == "rolled_back", "the rollback", deadline=90)
    assert last_record(d, doc)["message"].startswith("alarm checkout-production-5xx in ALARM (ECS rolled back to")
    # The report follows the status by a moment (the notifier's queue): wait for it, not for time.
    final = [p for m, p in api(receiver.requests) if m == "chat.update" and sha[:8] in json.dumps(p)]
    while not (final and "checkout-production-5xx" in json.dumps(final[-1])):
        receiver.wait_for(len(receiver.requests) + 1, timeout=30)
        final = [p for m, p in api(receiver.requests) if m == "chat.update" and sha[:8] in json.dumps(p)]


def test_sigkill_mid_step_restart_follows_the_same_deployment(world, daemons, tmp_path: Path) -> None:
    box, server, repo = world
    with_service(repo)
    set_deployment(repo, {"strategy": "LINEAR", "bakeTimeInMinutes": 1,
                          "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 2}})
    set_image(repo, "production", "checkout", "3.0.1")
    sha = repo.commit("checkout 3.0.1, LINEAR")
    d = DaemonProcess(tmp_path, "a", box, server.url("manifests"), environment="production")
    daemons.append(d.start())
    d.wait_for(progress(d, r"LINEAR step 1/4"), "the first step", deadline=90)
    d.kill()
    box.set_speed(0)  # the deployment waits mid-step while no daemon runs
    target = service_deployments(box)[0]
    assert target["status"] == "IN_PROGRESS"
    again = DaemonProcess(tmp_path, "b", box, server.url("manifests"), environment="production")
    daemons.append(again.start())
    again.wait_for(progress(again, r"LINEAR step 1/4"), "the restarted daemon following", deadline=90)
    box.set_speed(SPEED)
    again.wait_for(synced(KEY, commit=sha), "the deployment followed to its end", deadline=120)
    deployments = service_deployments(box)
    assert len(deployments) == 2 and deployments[0]["serviceDeploymentArn"] == target["serviceDeploymentArn"]
    assert deployments[0]["status"] == "SUCCESSFUL"
    assert any(e.get("progress", "").startswith("following service deployment") for e in again.log_events()), \
        [e for e in again.log_events() if e.get("event") in ("service_applied", "deploy_progress", "service_planned")]


def test_code_deploy_service_moves_to_ecs_blue_green(world, daemons, tmp_path: Path) -> None:
    box, server, repo = world
    with_service(repo, "api")
    d = DaemonProcess(tmp_path, "a", box, server.url("manifests"), environment="production", poll_interval="0.2")
    daemons.append(d.start())
    d.wait_for(synced("production/api", commit=repo.head()), "the CodeDeploy service in sync", deadline=90)
    path = repo.work / "environments/production/api/service.yaml"
    doc = yaml.safe_load(path.read_text())
    doc.pop("deploymentController", None)
    doc["gitops"] = {"waitTimeout": "30m"}
    elb = "arn:aws:elasticloadbalancing:eu-west-1:123456789012"
    doc["loadBalancers"][0]["advancedConfiguration"] = {
        "alternateTargetGroupArn": f"{elb}:targetgroup/api-production-green/0000000000000006",
        "productionListenerRule": f"{elb}:listener-rule/app/api-production/0000000000000005/0000000000000001/0000000000000001",
        "roleArn": "arn:aws:iam::123456789012:role/ecsInfrastructureRoleForLoadBalancers"}
    doc["deploymentConfiguration"] = {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 0}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    sha = repo.commit("api: CodeDeploy -> ECS blue/green")
    d.wait_for(synced("production/api", commit=sha), "moved over", deadline=120)
    svc = box.client("ecs").describe_services(cluster="production", services=["api"])["services"][0]
    assert svc["deploymentController"] == {"type": "ECS"} and svc["runningCount"] == 2
    assert [x["status"] for x in service_deployments(box, "api")] == ["SUCCESSFUL"]
    cycles = d.status()["cycles"]
    d.wait_for(lambda doc: doc["cycles"] >= cycles + 2 and d.service(doc, "production/api")["sync"] == "Synced",
               "in sync after the swap", deadline=60)
