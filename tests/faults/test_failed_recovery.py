"""Fault matrix, state (the failed half): a leader killed (kill -9) mid-rollout of an image that
cannot start; the circuit breaker rolls the deployment back while nobody leads. Whoever leads
next records the failure from AWS (the service's ServiceDeployment history): 1 deployment for
the change, 1 final report (the one the dead leader would have sent), /status failed, and the
change is not deployed again over the next full cycles."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from gitserver import GitDaemon, ManifestRepo  # noqa: E402
from test_daemon_helpers import LEASE_TABLE, DaemonProcess, create_state_table, set_image, synced  # noqa: E402
from test_notify_daemon_helpers import chat_daemon, notify_config, single_service_repo  # noqa: E402
from test_notify_delivery import receiver  # noqa: E402, F401 - fixture
from test_recovery import KEY, LEASE, final_reports, primary, revisions, stamp, tags, wait  # noqa: E402

from reconciler.model import APPLIED_TAG, FAILED_TAG  # noqa: E402
from reconciler.sandbox.pytest_plugin import EXAMPLE_SEED  # noqa: E402

pytestmark = pytest.mark.e2e
BAD = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1.5.0"  # in ECR (verification passes), cannot be pulled


def deployments_of(sandbox, task_definition: str) -> int:
    """Service deployments (ECS keeps one per deployment, rolling ones too) that deployed this revision."""
    ecs = sandbox.client("ecs")
    briefs = ecs.list_service_deployments(cluster="production", service="web", maxResults=100)["serviceDeployments"]
    count = 0
    for brief in briefs:
        revision = ecs.describe_service_revisions(serviceRevisionArns=[brief["targetServiceRevisionArn"]])
        count += revision["serviceRevisions"][0]["taskDefinition"] == task_definition
    return count


def leader_and_successor(tmp_path: Path, sandbox, server: GitDaemon, receiver, daemons,
                         key: str) -> tuple[ManifestRepo, DaemonProcess, DaemonProcess]:
    """A repository declaring one service, a leader `a` that synced it, and the replica `b` that
    leads next (not started), both on the state table's lease and reporting to `receiver`."""
    env, _, name = key.partition("/")
    repo = ManifestRepo.create(tmp_path / "srv", "manifests", tmp_path / "work")
    single_service_repo(repo, env, name)
    common = dict(environment=env, state_table=LEASE_TABLE, lease_duration=str(LEASE),
                  lease_renew_interval="1", poll_interval="0.3", drift_interval="1")
    config = notify_config(tmp_path, receiver, api=False)
    a, b = (chat_daemon(tmp_path, n, sandbox, server.url("manifests"), config, **common) for n in "ab")
    daemons.append(a.start())
    a.wait_for(synced(key, commit=repo.head()), "first sync", deadline=90)
    return repo, a, b


def failed_at(commit: str):
    def check(doc: dict) -> bool:
        history = ((doc.get("services") or {}).get(KEY) or {}).get("history") or []
        return bool(history) and history[0]["commit"] == commit and history[0]["status"] in ("rolled_back", "failed")
    return check


@pytest.mark.parametrize("mode", ["restart", "standby"])
def test_rollout_rolled_back_while_nobody_led_is_recorded_not_repeated(mode, sandbox_factory, receiver, daemons,
                                                                         tmp_path: Path) -> None:
    sandbox = sandbox_factory(seed=EXAMPLE_SEED, speed=6.0)  # a rolling deployment lasts about 5 s
    create_state_table(sandbox)
    with GitDaemon(tmp_path / "srv") as server:
        repo, a, b = leader_and_successor(tmp_path, sandbox, server, receiver, daemons, "production/web")
        if mode == "standby":
            daemons.append(b.start())
            b.wait_for(lambda s: s.get("ready") is True and s.get("leader") is False, "b is a ready standby")
        before = revisions(sandbox)
        good_td = primary(sandbox)["taskDefinition"]

        sandbox.fail_image(BAD)
        set_image(repo, "production", "web", "1.5.0")
        change = repo.commit("web 1.5.0: an image whose tasks cannot start")
        wait(lambda: primary(sandbox)["taskDefinition"] != good_td, "the deployment to start")
        a.kill()  # kill -9 mid-rollout: no final report, no tags, no lease release
        killed_at = time.time()
        started = primary(sandbox)
        assert started["rolloutState"] == "IN_PROGRESS"
        sandbox.advance(600)  # the circuit breaker trips and ECS rolls back while nobody leads
        wait(lambda: primary(sandbox)["taskDefinition"] == good_td and primary(sandbox)["rolloutState"] == "COMPLETED",
             "the rollback to complete")
        rollback = primary(sandbox)["id"]

        if mode == "restart":
            daemons.append(b.start())
        doc = b.wait_for(failed_at(change), "the failure recorded", deadline=90)
        events = b.log_events()
        began = max(killed_at, stamp(events[0]))
        recorded = next(stamp(e) for e in events if e.get("event") == "sync_result" and e.get("service") == KEY)
        assert recorded - began < 2 * LEASE + 8, (recorded - began)
        web = doc["services"][KEY]
        assert web["history"][0]["status"] == "rolled_back" and web["history"][0]["deploymentId"] == started["id"]
        assert web["sync"] == "OutOfSync" and web["lastAppliedCommit"] != change
        assert "circuit breaker" in web["lastError"] and "CannotPullContainerError" in web["lastError"], web
        assert tags(sandbox)[FAILED_TAG] != tags(sandbox)[APPLIED_TAG]

        cycles = doc["cycles"]
        doc = b.wait_for(lambda s: s["cycles"] >= cycles + 4, "a few more full cycles")
        assert len(doc["services"][KEY]["history"]) == 1  # nothing applied again
        assert primary(sandbox)["id"] == rollback  # no second deployment started
        assert deployments_of(sandbox, started["taskDefinition"]) == 1  # 1 deployment for the change
        assert revisions(sandbox) == before + 1  # 1 revision
        finals = final_reports(receiver, change)
        assert len(finals) == 1 and "Rolled back" in finals[0], finals  # what the dead leader would have sent
        assert doc["services"][KEY]["sync"] == "OutOfSync"

        # Git declaring something else is applied at once.
        set_image(repo, "production", "web", "1.4.1")
        fixed = repo.commit("web 1.4.1 instead")
        b.wait_for(synced(KEY, commit=fixed), "the next change applied", deadline=90)
        assert FAILED_TAG not in tags(sandbox)


def test_codedeploy_deployment_rolled_back_while_nobody_led_is_recorded_not_repeated(sandbox_factory, receiver,
                                                                                    daemons, tmp_path: Path) -> None:
    """The same through CodeDeploy: the group's deployment is stopped by its alarm and rolled back
    (a codeDeployRollback deployment) while nobody leads; the next leader records the stopped one."""
    sandbox = sandbox_factory(seed=EXAMPLE_SEED, speed=30.0)  # the 1-minute canary bake lasts 2 s
    create_state_table(sandbox)
    api = "production/api"
    cd = sandbox.client("codedeploy")

    def deployments(**kw) -> list[str]:
        return cd.list_deployments(applicationName="api", deploymentGroupName="api-production", **kw)["deployments"]

    with GitDaemon(tmp_path / "srv") as server:
        repo, a, b = leader_and_successor(tmp_path, sandbox, server, receiver, daemons, "production/api")
        before = set(deployments())

        set_image(repo, "production", "api", "2.1.0")
        change = repo.commit("api 2.1.0")
        wait(lambda: set(deployments(includeOnlyStatuses=["InProgress"])) - before, "the deployment to start")
        a.kill()
        [started] = set(deployments()) - before
        assert sandbox.fire_alarm("api-production-5xx")  # CodeDeploy stops it and rolls back, nobody leads
        wait(lambda: cd.get_deployment(deploymentId=started)["deploymentInfo"]["status"] == "Failed"
             and not deployments(includeOnlyStatuses=["Created", "Queued", "InProgress"]), "the rollback to end")

        daemons.append(b.start())
        doc = b.wait_for(lambda s: (((s.get("services") or {}).get(api) or {}).get("history") or [{}])[0].get("commit")
                         == change, "the failure recorded", deadline=90)
        record = doc["services"][api]["history"][0]
        assert record["status"] == "rolled_back" and record["deploymentId"] == started, record
        cycles = doc["cycles"]
        b.wait_for(lambda s: s["cycles"] >= cycles + 4, "a few more full cycles")
        mine = [d for d in set(deployments()) - before
                if cd.get_deployment(deploymentId=d)["deploymentInfo"]["creator"] != "codeDeployRollback"]
        assert mine == [started]  # 1 deployment for the change, never started again
        finals = final_reports(receiver, change)
        assert len(finals) == 1 and "Rolled back" in finals[0], finals


def test_native_deployment_rolled_back_while_nobody_led_is_recorded_not_repeated(sandbox_factory, receiver, daemons,
                                                                               tmp_path: Path) -> None:
    """The same through ECS-native CANARY: the circuit breaker rolls the service deployment back
    (ROLLBACK_SUCCESSFUL) while nobody leads; the next leader records it by its ARN."""
    sandbox = sandbox_factory(seed=EXAMPLE_SEED, speed=30.0)
    create_state_table(sandbox)
    checkout = "production/checkout"
    ecs = sandbox.client("ecs")

    def history() -> list[dict]:
        return ecs.list_service_deployments(cluster="production", service="checkout")["serviceDeployments"]

    with GitDaemon(tmp_path / "srv") as server:
        repo, a, b = leader_and_successor(tmp_path, sandbox, server, receiver, daemons, "production/checkout")
        before = {b["serviceDeploymentArn"] for b in history()}

        sandbox.fail_image("123456789012.dkr.ecr.eu-west-1.amazonaws.com/checkout:3.1.0")
        set_image(repo, "production", "checkout", "3.1.0")
        change = repo.commit("checkout 3.1.0: an image whose tasks cannot start")
        wait(lambda: {b["serviceDeploymentArn"] for b in history()} - before, "the deployment to start")
        a.kill()
        [started] = {b["serviceDeploymentArn"] for b in history()} - before
        wait(lambda: next(b["status"] for b in history() if b["serviceDeploymentArn"] == started)
             == "ROLLBACK_SUCCESSFUL", "the rollback to end", deadline=90)

        daemons.append(b.start())
        doc = b.wait_for(lambda s: (((s.get("services") or {}).get(checkout) or {}).get("history") or [{}])[0]
                         .get("commit") == change, "the failure recorded", deadline=90)
        record = doc["services"][checkout]["history"][0]
        assert record["status"] == "rolled_back" and record["deploymentId"] == started, record
        assert "circuit breaker" in doc["services"][checkout]["lastError"]
        cycles = doc["cycles"]
        b.wait_for(lambda s: s["cycles"] >= cycles + 4, "a few more full cycles")
        assert {b_["serviceDeploymentArn"] for b_ in history()} - before == {started}  # never deployed again
        finals = final_reports(receiver, change)
        assert len(finals) == 1 and "Rolled back" in finals[0], finals
