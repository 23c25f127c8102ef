"""Sharding with real daemon processes: 3 replicas, 8 environments (32 services). Every shard is
held by exactly one replica; a push heard by one replica reaches all; one replica killed (kill -9)
mid-rollout has its shards taken over within one lease duration plus one renewal interval, its
deployments followed to their end, and no service given a second rollout."""
from __future__ import annotations

import datetime
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from gitserver import GitDaemon, ManifestRepo  # noqa: E402
from test_daemon_helpers import EXAMPLES, LEASE_TABLE, REGISTRY, DaemonProcess, create_state_table  # noqa: E402

from reconciler.daemon.shards import ShardLayout  # noqa: E402
from reconciler.sandbox.pytest_plugin import EXAMPLE_SEED  # noqa: E402

pytestmark = pytest.mark.e2e
ENVS = [f"env{i}" for i in range(1, 9)]
SERVICES = [f"svc{j}" for j in range(1, 5)]
KEYS = [f"{e}/{s}" for e in ENVS for s in SERVICES]
SHARDS = set(ShardLayout().shards(ENVS))
LEASE, RENEW = 4.0, 1.0
TOKEN = "shards-webhook-token"
SECRETS = [TOKEN]


def seed(envs: list[str] = ENVS) -> dict[str, Any]:
    """The example world (VPC, roles, ECR tags) with one empty cluster per environment (also bench/)."""
    doc = yaml.safe_load(EXAMPLE_SEED.read_text())
    doc.pop("services", None)
    doc.pop("codedeploy", None)
    doc["clusters"] = list(envs)
    return doc


def write_repo(repo: ManifestRepo, tag: str, envs: list[str] = ENVS, names: list[str] = SERVICES) -> None:
    """Rolling services cloned from staging/web, without load balancer or hooks (fast to roll; also bench/)."""
    example = EXAMPLES / "environments" / "staging" / "web"
    service = yaml.safe_load(example.joinpath("service.yaml").read_text())
    service.pop("loadBalancers", None)
    service["gitops"].pop("hooks", None)
    taskdef = json.loads(example.joinpath("taskdef.json").read_text())
    for env in envs:
        repo.write(f"environments/{env}/environment.yaml", f"cluster: {env}\nregion: eu-west-1\n"
                   "syncPolicy:\n  automated: true\n  selfHeal: false\n")
        for name in names:
            td = json.loads(json.dumps(taskdef))
            td["family"] = f"{name}-{env}"
            td["containerDefinitions"][0]["image"] = f"{REGISTRY}/web:{tag}"
            repo.write(f"environments/{env}/{name}/service.yaml", yaml.safe_dump(service))
            repo.write(f"environments/{env}/{name}/taskdef.json", json.dumps(td, indent=2))


def held(d: DaemonProcess) -> set[str]:
    doc = d.status() or {}
    return set((doc.get("shards") or {}).get("held") or ())


def services(replicas: list[DaemonProcess]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for d in replicas:
        out.update((d.status() or {}).get("services") or {})
    return out


def wait(predicate, what: str, replicas: list[DaemonProcess], deadline: float = 90.0) -> None:
    end = time.monotonic() + deadline
    while not predicate():
        for d in replicas:
            assert d.proc is not None and d.proc.poll() is None, f"{d.log_path.name} exited:\n{d.log_tail()}"
        assert time.monotonic() < end, f"timed out waiting for {what}\n" + "\n".join(
            f"--- {d.log_path.name}\n{d.log_tail(15)}" for d in replicas)
        time.sleep(0.2)


def exactly_once(replicas: list[DaemonProcess]) -> bool:
    parts = [held(d) for d in replicas]
    return sum(len(p) for p in parts) == len(SHARDS) and set().union(*parts) == SHARDS


def synced_at(replicas: list[DaemonProcess], commit: str) -> bool:
    found = services(replicas)
    return all(found.get(k, {}).get("sync") == "Synced" and found[k].get("lastAppliedCommit") == commit
               for k in KEYS)


def stamp(event: dict[str, Any]) -> float:
    return datetime.datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()


def primaries(ecs) -> dict[str, dict[str, Any]]:
    """Each service's PRIMARY deployment (one DescribeServices per environment)."""
    out = {}
    for env in ENVS:
        for svc in ecs.describe_services(cluster=env, services=SERVICES)["services"]:
            out[f"{env}/{svc['serviceName']}"] = next(d for d in svc["deployments"] if d["status"] == "PRIMARY")
    return out


def test_three_replicas_share_eight_environments_and_take_over_a_killed_one(sandbox_factory, daemons,
                                                                           tmp_path: Path) -> None:
    sandbox = sandbox_factory(seed=seed())
    create_state_table(sandbox)
    with GitDaemon(tmp_path / "srv") as server:
        repo = ManifestRepo.create(tmp_path / "srv", "manifests", tmp_path / "work")
        write_repo(repo, "1.4.1")
        first = repo.commit("8 environments, 32 services")
        common = dict(state_table=LEASE_TABLE, shards="true", lease_duration=str(LEASE),
                      lease_renew_interval=str(RENEW), shard_signal_interval="0.5", poll_interval="3600",
                      drift_interval="3600", max_parallel="16", webhook_gitlab_token=TOKEN,
                      register_rate="100", register_burst="60")
        replicas = [DaemonProcess(tmp_path, name, sandbox, server.url("manifests"), **common) for name in "abc"]
        for d in replicas:
            daemons.append(d.start())
        wait(lambda: exactly_once(replicas) and synced_at(replicas, first), "every shard held once, all synced",
             replicas)
        assert all(held(d) for d in replicas)  # each replica has a share
        for d in replicas:  # each paces RegisterTaskDefinition at its third of the rate
            shared = [e for e in d.log_events() if e.get("event") == "register_rate_shared"]
            assert shared[-1]["replicas"] == 3 and shared[-1]["rate"] == pytest.approx(100 / 3, abs=0.01)
            mine = set((d.status() or {}).get("services") or {})
            assert mine and all(ShardLayout().shard_of(k) in held(d) for k in mine)  # only its own shards
            _, text = d.get("/metrics")
            exported = set(re.findall(r'^reconciler_shard_held\{shard="([^"]+)"\} 1\.0$', text, re.M))
            assert exported == held(d) and "reconciler_replicas 3.0" in text

        # A push announced to one replica only: all three roll out their part (deployments frozen).
        sandbox.set_speed(0)
        write_repo(repo, "1.5.0")
        change = repo.commit("web 1.5.0 everywhere")
        body = json.dumps({"object_kind": "push", "ref": "refs/heads/main", "after": change,
                           "checkout_sha": change}).encode()
        assert replicas[0].post("/webhook", body, {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": TOKEN,
                                                   "Content-Type": "application/json"}) == 202
        ecs = sandbox.client("ecs")

        def rolling() -> bool:
            deps = primaries(ecs)
            return all(deps[k]["rolloutState"] == "IN_PROGRESS" and deps[k]["taskDefinition"].endswith(":2")
                       for k in KEYS)

        wait(rolling, "every service's rollout to start", replicas)
        started = {k: dep["id"] for k, dep in primaries(ecs).items()}

        # kill -9 the replica holding the most environments, mid-rollout.
        victim = max(replicas, key=lambda d: len(held(d) - {"_global"}))
        lost = held(victim)
        victim.kill()
        killed_at = time.time()
        survivors = [d for d in replicas if d is not victim]
        wait(lambda: exactly_once(survivors), "the survivors to hold every shard", survivors, deadline=30)
        taken = [stamp(e) for d in survivors for e in d.log_events()
                 if e.get("event") == "shards_acquired" and set(e.get("shards") or ()) & lost and stamp(e) >= killed_at]
        assert taken
        # Within one lease duration plus one renewal interval (+0.5 s for the tick's own calls under load).
        assert max(taken) - killed_at < LEASE + RENEW + 0.5, (max(taken) - killed_at)

        sandbox.set_speed(600)  # the rollouts end; the new holders follow the victim's to their end
        wait(lambda: synced_at(survivors, change), "every service synced at the change", survivors)
        found, deps = services(survivors), primaries(ecs)
        for key in KEYS:
            assert found[key]["history"][0]["deploymentId"] == started[key], key  # followed, not restarted
            assert found[key]["history"][0]["status"] == "succeeded", key
            assert deps[key]["id"] == started[key] and deps[key]["rolloutState"] == "COMPLETED", key
        assert sandbox.accepted("UpdateService") == {k: 1 for k in KEYS}  # one rollout per service, none twice
        assert sum(sandbox.accepted("RegisterTaskDefinition").values()) == 2 * len(KEYS)  # no revision twice

        # SIGTERM gives the shards back at once (no holder left on their leases), and the last replica takes them.
        name = survivors[0].env["RECONCILER_HOLDER_ID"]
        assert survivors[0].terminate()[0] == 0
        leases = sandbox.client("dynamodb").query(TableName=LEASE_TABLE, KeyConditionExpression="pk = :pk",
                                                  ExpressionAttributeValues={":pk": {"S": "lease"}})["Items"]
        assert len(leases) == len(SHARDS) and all(i.get("holder", {}).get("S") != name for i in leases)
        wait(lambda: exactly_once(survivors[1:]), "the last replica to hold every shard", survivors[1:])
        assert survivors[1].terminate()[0] == 0
