"""Chat operations end to end: `reconciler run` as a process, the sandbox, a git server on loopback that
accepts pushes, and a local Slack stand-in that sends correctly signed slash commands and button clicks
and receives the Web API calls and `response_url` answers."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from gitserver import GitDaemon, ManifestRepo, _git
from test_daemon_helpers import EXAMPLES, LEASE_TABLE, DaemonProcess, create_state_table, daemons, set_image  # noqa: F401
from test_notify_delivery import Receiver, Reply, Request, _json, receiver  # noqa: F401 - fixture

from reconciler.chatops.signing import sign

pytestmark = pytest.mark.e2e

SECRET = "e2e-slack-signing-secret"
BOT = "xoxb-e2e-approvals-bot"
API_TOKEN = "e2e-api-bearer-token"
TEAM = "T0E2E"
DANA, BOB, MALLORY = "U0DANA", "U0BOB", "U0MALLORY"
REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


class SlackStandIn(Receiver):
    """Answers the Web API like Slack (users.info with an email; posts get a ts)."""

    def reply(self, req: Request) -> Reply:
        if req.path == "/api/users.info":
            return _json({"ok": True, "user": {"id": req.json()["user"], "profile": {"email": "nobody@example.com"}}})
        if req.path.startswith("/respond/"):
            return 200, {}, b"ok"
        return super().reply(req)


@pytest.fixture
def slack(receiver: Receiver) -> Receiver:
    receiver.__class__ = SlackStandIn
    return receiver


@pytest.fixture
def served(tmp_path: Path):
    with GitDaemon(tmp_path / "srv", writable=True) as server:
        repo = ManifestRepo.create(tmp_path / "srv", "manifests", tmp_path / "work")
        for env in ("staging", "production"):
            repo.copy_tree(EXAMPLES / "environments" / env / "web", f"environments/{env}/web")
            text = (EXAMPLES / "environments" / env / "environment.yaml").read_text()
            if env == "production":
                text += f"  approval:\n    approvers: [{DANA}, {BOB}]\n    lifetime: 1h\n"
            repo.write(f"environments/{env}/environment.yaml", text)
        repo.commit("staging and production web, production gated")
        yield server, repo


def start(tmp_path: Path, name: str, sandbox: Any, url: str, slack: Receiver) -> DaemonProcess:
    config = tmp_path / "reconciler.yaml"
    config.write_text(json.dumps({"chatops": {"permissions": [
        {"environments": ["staging"], "actions": ["deploy", "sync", "rollback"], "users": [DANA]},
        {"environments": ["production"], "actions": ["promote"], "users": [DANA]}]}}))
    d = DaemonProcess(tmp_path, name, sandbox, url, config_file=str(config), state_table=LEASE_TABLE,
                      slack_signing_secret=SECRET, slack_team_id=TEAM, slack_bot_token=BOT,
                      slack_approval_channel="C0APPROVALS", slack_api_url=slack.url("/api/"), api_token=API_TOKEN,
                      poll_interval="0.3")
    return d.start()


def post(d: DaemonProcess, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(d.url + path, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def command(d: DaemonProcess, slack: Receiver, user: str, text: str, *, ts: int | None = None,
            secret: str = SECRET) -> tuple[int, dict[str, Any]]:
    body = urlencode({"token": "x", "team_id": TEAM, "channel_id": "C0DEPLOYS", "channel_name": "deploys",
                      "user_id": user, "user_name": user.lower()[2:], "command": "/reconciler", "text": text,
                      "response_url": slack.url(f"/respond/{user}/{time.monotonic_ns()}"),
                      "trigger_id": "1.2.3"}).encode()
    return post(d, "/slack/commands", body, sign(secret, ts or int(time.time()), body))


def click(d: DaemonProcess, slack: Receiver, user: str, value: str, action: str = "approval_approve",
          ts: int | None = None) -> tuple[int, dict[str, Any]]:
    payload = {"type": "block_actions", "user": {"id": user, "username": user.lower(), "team_id": TEAM},
               "team": {"id": TEAM}, "container": {"type": "message", "message_ts": "1.0", "channel_id": "C0APPROVALS"},
               "channel": {"id": "C0APPROVALS", "name": "approvals"},
               "response_url": slack.url(f"/respond/{user}/{time.monotonic_ns()}"),
               "actions": [{"action_id": action, "block_id": "b", "value": value, "type": "button",
                            "action_ts": str(time.time())}]}
    body = urlencode({"payload": json.dumps(payload)}).encode()
    return post(d, "/slack/interactions", body, sign(SECRET, ts or int(time.time()), body))


def web_api(slack: Receiver, method: str) -> list[dict[str, Any]]:
    return [r.json() for r in list(slack.requests) if r.path == f"/api/{method}"]


def answers(slack: Receiver, user: str) -> list[str]:
    return [r.json()["text"] for r in list(slack.requests) if r.path.startswith(f"/respond/{user}/")]


def wait(what: str, check: Any, d: DaemonProcess, deadline: float = 60.0) -> Any:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.1)  # polling a condition with a deadline
    raise AssertionError(f"timed out waiting for {what}\n{d.log_tail()}")


def production_image(sandbox: Any) -> str:
    ecs = sandbox.client("ecs")
    svc = ecs.describe_services(cluster="production", services=["web"])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    return str(td["containerDefinitions"][0]["image"])


def history(sandbox: Any) -> list[dict[str, Any]]:
    out = subprocess.run([sys.executable, "-m", "reconciler", "history", "--output", "json", "--limit", "100"],
                         env={**os.environ, **sandbox.env(), "RECONCILER_STATE_TABLE": LEASE_TABLE},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return list(json.loads(out.stdout))


def status_of(d: DaemonProcess, key: str) -> dict[str, Any]:
    return d.service(d.status() or {}, key)


def test_approval_gate_from_request_to_deployment(sandbox, served, slack, daemons, tmp_path: Path) -> None:
    server, repo = served
    create_state_table(sandbox)
    first = repo.head()
    before = production_image(sandbox)
    d = start(tmp_path, "a", sandbox, server.url("manifests"), slack)
    daemons.append(d)
    d.wait_for(lambda s: status_of(d, "staging/web").get("sync") == "Synced"
               and "waiting for approval" in status_of(d, "production/web").get("reason", ""), "request")
    [request] = wait("approval request", lambda: web_api(slack, "chat.postMessage"), d)
    assert f"commit {first[:8]}" in request["text"] and f"`{REGISTRY}/web:1.4.1` → `{REGISTRY}/web:1.4.2`" in \
        json.dumps(request["blocks"], ensure_ascii=False).replace("…/", f"{REGISTRY}/")
    old_value = request["blocks"][-1]["elements"][0]["value"]
    assert production_image(sandbox) == before  # nothing applied

    # bad signature and a replayed-late timestamp: 401, nothing changes
    assert command(d, slack, DANA, "approve production", secret="wrong")[0] == 401
    assert command(d, slack, DANA, "approve production", ts=int(time.time()) - 301)[0] == 401
    assert click(d, slack, DANA, old_value, ts=int(time.time()) - 301)[0] == 401
    # someone not allowed: refused, nothing changes
    assert click(d, slack, MALLORY, old_value)[0] == 200
    wait("refusal", lambda: any("not an approver" in t for t in answers(slack, MALLORY)), d)

    # git moves before the approval: the request is superseded in place and a new one posted
    set_image(repo, "production", "web", "1.5.0")
    second = repo.commit("production web 1.5.0")
    wait("second request", lambda: len(web_api(slack, "chat.postMessage")) == 2, d)
    wait("superseded", lambda: any("Superseded by" in u["text"] for u in web_api(slack, "chat.update")), d)
    new_value = web_api(slack, "chat.postMessage")[1]["blocks"][-1]["elements"][0]["value"]
    assert click(d, slack, DANA, old_value)[0] == 200
    wait("stale click answer", lambda: any("superseded" in t for t in answers(slack, DANA)), d)
    assert production_image(sandbox) == before

    # a restart between request and approval keeps the request (no new post)
    d.terminate()
    d = start(tmp_path, "b", sandbox, server.url("manifests"), slack)
    daemons.append(d)
    d.wait_for(lambda s: "waiting for approval" in status_of(d, "production/web").get("reason", ""), "restart")
    assert len(web_api(slack, "chat.postMessage")) == 2

    # two clicks on Approve: one deployment
    families = sandbox.client("ecs").list_task_definitions(familyPrefix="web-production")["taskDefinitionArns"]
    assert click(d, slack, DANA, new_value)[0] == 200
    assert click(d, slack, DANA, new_value)[0] == 200
    d.wait_for(lambda s: status_of(d, "production/web").get("lastAppliedCommit") == second
               and status_of(d, "production/web").get("sync") == "Synced", "approved deployment")
    assert production_image(sandbox) == f"{REGISTRY}/web:1.5.0"
    after = sandbox.client("ecs").list_task_definitions(familyPrefix="web-production")["taskDefinitionArns"]
    assert len(after) == len(families) + 1
    wait("approved message", lambda: any(f"Approved by <@{DANA}>" in u["text"] for u in web_api(slack, "chat.update")), d)
    wait("second click answer", lambda: any("already approved" in t for t in answers(slack, DANA)), d)
    deployments = [r for r in (status_of(d, "production/web").get("history") or []) if r.get("commit") == second]
    assert len(deployments) == 1

    records = history(sandbox)
    seen = {(r["action"], r["result"], r.get("actor_id")) for r in records}
    assert {("approval-request", "requested", "daemon"), ("approval-request", "superseded", "daemon"),
            ("approve", "refused", MALLORY), ("approve", "ignored", DANA), ("approve", "approved", DANA)} <= seen
    approved = next(r for r in records if r["result"] == "approved")
    assert approved["commit"] == second and approved["plan_hash"] and approved["channel"] == "C0APPROVALS"


def test_deploy_and_promote_become_commits(sandbox, served, slack, daemons, tmp_path: Path) -> None:
    server, repo = served
    create_state_table(sandbox)
    d = start(tmp_path, "a", sandbox, server.url("manifests"), slack)
    daemons.append(d)
    d.wait_for(lambda s: status_of(d, "staging/web").get("sync") == "Synced", "first sync")

    code, body = command(d, slack, DANA, "deploy staging web 1.5.0")
    assert code == 200 and "working on it" in body["text"]
    wait("deploy answer", lambda: any("committed" in t for t in answers(slack, DANA)), d)
    deployed = _git("rev-parse", "main", cwd=repo.bare)
    message = _git("log", "-1", "--format=%an%n%B", deployed, cwd=repo.bare)
    assert message.startswith("ecs-reconciler\ndeploy staging/web 1.5.0")
    assert f"Requested-by: dana ({DANA}) in #deploys (C0DEPLOYS)" in message
    diff = _git("diff", "--unified=0", f"{deployed}^", deployed, cwd=repo.bare).splitlines()
    assert [x for x in diff if x[:1] in "+-" and x[:3] not in ("+++", "---")] == [
        f'-      "image": "{REGISTRY}/web:1.4.2",', f'+      "image": "{REGISTRY}/web:1.5.0",']
    d.wait_for(lambda s: status_of(d, "staging/web").get("lastAppliedCommit") == deployed
               and status_of(d, "staging/web").get("health") == "Healthy", "deploy rolled out")

    # not allowed to deploy to production: refused at once, to the requester only
    code, body = command(d, slack, DANA, "deploy production web 9.9.9")
    assert code == 200 and body["response_type"] == "ephemeral" and "production is protected" in body["text"]
    assert _git("rev-parse", "main", cwd=repo.bare) == deployed

    code, body = command(d, slack, DANA, "promote staging production web")
    assert code == 200
    wait("promote answer", lambda: sum("committed" in t for t in answers(slack, DANA)) == 2, d)
    promoted = _git("rev-parse", "main", cwd=repo.bare)
    assert promoted != deployed
    assert f"{REGISTRY}/web:1.5.0" in _git("show", f"{promoted}:environments/production/web/taskdef.json",
                                          cwd=repo.bare)
    d.wait_for(lambda s: "waiting for approval" in status_of(d, "production/web").get("reason", "")
               and (s.get("commit") or {}).get("sha") == promoted, "promote waits for approval")
    request = wait("request", lambda: [m for m in web_api(slack, "chat.postMessage") if promoted[:8] in m["text"]], d)
    assert request
    # the requester of the promote cannot approve it (allowAuthor is off)
    value = request[0]["blocks"][-1]["elements"][0]["value"]
    click(d, slack, DANA, value)
    wait("author refused", lambda: any("someone else must approve" in t for t in answers(slack, DANA)), d)

    # the CLI approves through the daemon's API (bearer token); without the right token it is refused
    def cli(*args: str, token: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "reconciler", *args, "--url", d.url],
                              env={**os.environ, "RECONCILER_API_TOKEN": token}, capture_output=True, text=True,
                              timeout=60)
    wrong = cli("approve", "production", token="not-the-token")
    assert wrong.returncode == 2 and "refused" in wrong.stderr
    ok = cli("approve", "production", promoted[:8], token=API_TOKEN)
    assert ok.returncode == 0 and f"Approved commit {promoted[:8]}" in ok.stdout, ok.stdout + ok.stderr
    d.wait_for(lambda s: status_of(d, "production/web").get("lastAppliedCommit") == promoted, "promoted rollout")
    assert production_image(sandbox) == f"{REGISTRY}/web:1.5.0"

    # rollback from chat: today's `reconciler rollback`, with its pause
    command(d, slack, DANA, "rollback staging web")
    answer = wait("rollback answer", lambda: [t for t in answers(slack, DANA) if "rollback of staging/web" in t], d)
    assert "web-staging:1" in answer[0] and "paused until git changes" in answer[0], answer
    ecs = sandbox.client("ecs")
    assert ecs.describe_services(cluster="staging", services=["web"])["services"][0]["taskDefinition"].endswith(
        "web-staging:1")

    records = history(sandbox)
    seen = {(r["action"], r["result"]) for r in records}
    assert {("deploy", "applied"), ("deploy", "refused"), ("promote", "applied"), ("approve", "refused"),
            ("approve", "approved"), ("rollback", "applied")} <= seen
    deploy = next(r for r in records if r["action"] == "deploy" and r["result"] == "applied")
    assert deploy["resulting_commit"] == deployed and deploy["actor_id"] == DANA and deploy["channel"] == "C0DEPLOYS"


def test_paused_deployment_continues_and_rolls_back_from_its_buttons(sandbox_factory, slack, daemons,
                                                                     tmp_path: Path) -> None:
    from test_daemon_native import KEY, PRODUCTION, SPEED, last_record, progress, replies

    from reconciler.sandbox.pytest_plugin import EXAMPLE_SEED

    box = sandbox_factory(seed=EXAMPLE_SEED, speed=SPEED)
    with GitDaemon(tmp_path / "srv") as server:
        repo = ManifestRepo.create(tmp_path / "srv", "manifests", tmp_path / "work")
        repo.write("environments/production/environment.yaml", (PRODUCTION / "environment.yaml").read_text())
        repo.copy_tree(PRODUCTION / "checkout", "environments/production/checkout").commit("production/checkout")
        config = tmp_path / "reconciler.yaml"
        config.write_text(json.dumps({
            "chatops": {"permissions": [{"environments": ["production"], "actions": ["continue", "abort"],
                                         "users": [DANA]}]},
            "notifications": {"destinations": {"bot": {"type": "slack-api", "tokenEnv": "E2E_BOT", "channel": "C0OPS",
                                                       "baseUrl": slack.url("/api/")}},
                              "routes": [{"environment": "*", "destinations": ["bot"]}],
                              "queue": {"batchSeconds": 0}}}))
        d = DaemonProcess(tmp_path, "a", box, server.url("manifests"), config_file=str(config),
                          slack_signing_secret=SECRET, slack_team_id=TEAM, environment="production",
                          poll_interval="0.2", drift_interval="0.5")
        d.env["E2E_BOT"] = BOT
        daemons.append(d.start())
        d.wait_for(lambda s: status_of(d, KEY).get("sync") == "Synced", "first sync", deadline=90)

        def pause_value(sha: str) -> str:
            def found() -> str | None:
                for text in replies(slack, sha):
                    message = json.loads(text)
                    if message["blocks"] and message["blocks"][-1]["type"] == "actions":
                        return str(message["blocks"][-1]["elements"][0]["value"])
                return None
            return str(wait("pause buttons", found, d, deadline=90))

        set_image(repo, "production", "checkout", "3.1.0")
        first = repo.commit("checkout 3.1.0 (CANARY with a pause)")
        d.wait_for(progress(d, "paused at POST_TEST_TRAFFIC_SHIFT"), "the pause", deadline=90)
        value = pause_value(first)
        assert click(d, slack, MALLORY, value, action="deployment_continue")[0] == 200
        wait("refusal", lambda: any("not allowed to continue" in t for t in answers(slack, MALLORY)), d)
        assert click(d, slack, DANA, value, action="deployment_continue")[0] == 200
        d.wait_for(lambda s: status_of(d, KEY).get("lastAppliedCommit") == first
                   and status_of(d, KEY).get("sync") == "Synced", "continued", deadline=90)

        set_image(repo, "production", "checkout", "3.0.0")
        second = repo.commit("checkout 3.0.0, rolled back from chat")
        d.wait_for(progress(d, "paused at POST_TEST_TRAFFIC_SHIFT"), "the second pause", deadline=90)
        assert click(d, slack, DANA, pause_value(second), action="deployment_rollback")[0] == 200
        d.wait_for(lambda s: last_record(d, s).get("commit") == second
                   and last_record(d, s).get("status") == "rolled_back", "rolled back", deadline=90)
        assert {("continue", "applied"), ("continue", "refused"), ("abort", "applied")} <= {
            (r["action"], r["result"]) for r in d.status()["recentActions"]}
