"""Sharded benchmark: prints figures, asserts nothing (see bench/RESULTS.md, "Sharded rollout").

3 replicas (`RECONCILER_SHARDS=true`) share 8 environments of N/8 services each. One commit
changes the image of all N services; a GitLab push webhook reaches one replica only (the
others learn of it through the state table's signal item); the sandbox enforces ECS's rate
limits. Measured: the time until every deployment started, next to the floor those limits
allow for N services (bench/ratefloor.py) whichever replica registers; the sandbox's
ThrottlingExceptions; services left failed (a throttle that exhausted botocore's retries).

Setup (not measured): a first, single `reconciler run` with the client-side pacing lifted
creates the services, then is stopped; the replicas start with default pacing and settle (every
shard held by exactly one, a full cycle done) before the push.

    .venv/bin/python bench/shards_rollout.py [--services 200] [--replicas 3] [--pacing table|share]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "tests" / "faults"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gitserver import GitDaemon, ManifestRepo  # noqa: E402
from noop_cycle import FAST_SETUP, TOKEN, calls, delta, full_cycles, metrics, wait  # noqa: E402
from ratefloor import calls_floor, rollout_floor  # noqa: E402
from test_daemon_helpers import LEASE_TABLE, DaemonProcess, create_state_table  # noqa: E402
from test_shards import seed, write_repo  # noqa: E402

from reconciler.daemon.shards import ShardLayout  # noqa: E402
from reconciler.sandbox import Sandbox  # noqa: E402

ENVS = [f"env{i}" for i in range(1, 9)]


def updates(sandbox: Sandbox, keys: list[str]) -> dict[str, int]:
    """UpdateService requests the sandbox accepted per service (counted in-process: no API call)."""
    accepted = sandbox.accepted("UpdateService")
    return {k: accepted.get(k, 0) for k in keys}


def created(sandbox: Sandbox, keys: list[str]) -> int:
    accepted = sandbox.accepted("CreateService")
    return sum(1 for k in keys if accepted.get(k))


def held(d: DaemonProcess) -> list[str]:
    doc = d.status() or {}
    return list((doc.get("shards") or {}).get("held") or ())


def run(n: int, replicas: int, pacing: str, tmp: Path) -> dict[str, object]:
    names = [f"svc-{j:03d}" for j in range(n // len(ENVS))]
    keys = [f"{e}/{s}" for e in ENVS for s in names]
    with Sandbox(seed=seed(ENVS), speed=600.0) as sandbox, GitDaemon(tmp / "srv") as server:
        create_state_table(sandbox)
        repo = ManifestRepo.create(tmp / "srv", "m", tmp / "work")
        write_repo(repo, "1.4.2", ENVS, names)
        repo.commit("initial")
        common = {"poll_interval": "3600", "drift_interval": "3600", "apply_wait": "false", "max_parallel": "16",
                  "webhook_gitlab_token": TOKEN, "log_level": "warning"}
        setup = DaemonProcess(tmp, "setup", sandbox, server.url("m"), **common, **FAST_SETUP).start()
        try:
            wait(lambda: created(sandbox, keys) == len(keys), 1800, "setup created all", 0.5)
            wait(lambda: full_cycles(metrics(setup)) >= 1, 600, "setup cycle", 0.5)
        finally:
            setup.stop()
        shards = set(ShardLayout().shards(ENVS))
        ds = [DaemonProcess(tmp, f"r{i}", sandbox, server.url("m"), state_table=LEASE_TABLE, shards="true",
                            shard_register_pacing=pacing, lease_duration="10", lease_renew_interval="2", **common)
              for i in range(replicas)]
        for d in ds:
            d.start()
        try:
            def settled() -> bool:
                parts = [held(d) for d in ds]
                return sorted(s for p in parts for s in p) == sorted(shards) and all(
                    (d.status() or {}).get("ready") for d in ds)

            wait(settled, 600, "every shard held once, every replica ready", 0.5)
            time.sleep(3)  # the follow-up cycles of the takeovers at start
            share = {d.log_path.stem: sum(1 for k in keys if ShardLayout().shard_of(k) in held(d)) for d in ds}
            old = updates(sandbox, keys)
            write_repo(repo, "1.5.0", ENVS, names)
            sha = repo.commit("bump all")
            before = [calls(metrics(d)) for d in ds]
            state = sandbox.state
            assert state is not None
            state.limiter.rejected.clear()
            state.throttling = True  # from here on, ECS's documented rates apply (real seconds)
            t0 = time.monotonic()
            ds[0].post("/webhook", json.dumps({"object_kind": "push", "ref": "refs/heads/main", "after": sha}).encode(),
                       {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": TOKEN})
            started = lambda k: sum(old[s] != v for s, v in updates(sandbox, keys).items()) >= k  # noqa: E731
            t_first = wait(lambda: started(1), 600, "first deployment", 0.05)
            t_all = wait(lambda: started(len(keys)), 3600, "all deployments", 0.05)
            made: dict[str, int] = {}
            for d, b in zip(ds, before, strict=True):
                for action, count in delta(calls(metrics(d)), b).items():
                    made[action] = made.get(action, 0) + count
            rejected = dict(sorted(state.limiter.rejected.items()))
            accepted = {k: v - rejected.get(k, 0) for k, v in made.items()}
            failed = sum(1 for d in ds for svc in ((d.status() or {}).get("services") or {}).values()
                         if svc.get("lastError"))
            floor = rollout_floor(len(keys))
            took = t_all - t0
            return {"services": len(keys), "replicas": replicas, "pacing": pacing, "services_per_replica": share,
                    "all_started_s": round(took, 1), "first_started_s": round(t_first - t0, 1),
                    "rate_floor_s": floor, "ratio": round(took / floor, 3) if floor else None,
                    "ratio_after_first": round((t_all - t_first) / floor, 3) if floor else None,
                    "calls": made, "sandbox_throttled": rejected, "accepted_calls_floor_s": calls_floor(accepted),
                    "services_with_errors": failed}
        finally:
            if sandbox.state is not None:
                sandbox.state.throttling = False
            for d in ds:
                d.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--services", type=int, default=200)
    ap.add_argument("--replicas", type=int, default=3)
    ap.add_argument("--pacing", default="table", choices=["table", "share"])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(run(args.services, args.replicas, args.pacing, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
