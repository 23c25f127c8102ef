"""Daemon benchmark: prints figures, asserts nothing (see bench/RESULTS.md).

For N services in the sandbox (default 1, 100, 1000): AWS calls and wall time of a
no-op full cycle, the daemon's resident memory, and push-event → UpdateService latency.
With --throttled N: one commit changing the image of N services under the sandbox's
ECS rate limits, time until every deployment started vs the RegisterTaskDefinition floor
(burst 20, then 1/s).

    .venv/bin/python bench/noop_cycle.py [--sizes 1,100,1000] [--throttled 200]
"""
from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from gitserver import GitDaemon, ManifestRepo  # noqa: E402
from test_daemon_helpers import DaemonProcess  # noqa: E402

from reconciler.sandbox import Sandbox  # noqa: E402

EXAMPLE = ROOT / "deploy-manifests" / "examples" / "environments" / "staging"
REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
SEED = ROOT / "deploy-manifests" / "examples" / "sandbox-seed.yaml"
TOKEN = "bench-webhook-token"
DRIFT = 5


def write_services(repo: ManifestRepo, n: int, tag: str) -> None:
    """N rolling services cloned from staging/web (no load balancer: one target group cannot serve 1000)."""
    repo.write("environments/staging/environment.yaml",
               "cluster: staging\nregion: eu-west-1\nsyncPolicy:\n  automated: true\n  selfHeal: false\n")
    service = (EXAMPLE / "web" / "service.yaml").read_text()
    service = re.sub(r"loadBalancers:\n(  .*\n)+", "", service)
    taskdef = json.loads((EXAMPLE / "web" / "taskdef.json").read_text())
    for i in range(n):
        name = f"svc-{i:04d}"
        td = json.loads(json.dumps(taskdef))
        td["family"] = f"{name}-staging"
        td["containerDefinitions"][0]["image"] = f"{REGISTRY}/web:{tag}"
        repo.write(f"environments/staging/{name}/service.yaml", service)
        repo.write(f"environments/staging/{name}/taskdef.json", json.dumps(td, indent=2))


def metrics(d: DaemonProcess) -> dict[str, float]:
    _, text = d.get("/metrics")
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def calls(m: dict[str, float]) -> dict[str, float]:
    return {k.split("{", 1)[1].rstrip("}"): v for k, v in m.items() if k.startswith("reconciler_aws_calls_total{")}


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait(pred, deadline: float, what: str) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.01)
    raise SystemExit(f"timed out: {what}")


def full_cycles(d: DaemonProcess) -> float:
    return sum(v for k, v in metrics(d).items() if k.startswith('reconciler_cycles_total{kind="full"'))


def start_daemon(n: int, tmp: Path, sandbox: Sandbox, server: GitDaemon,
                 **settings: str) -> tuple[ManifestRepo, DaemonProcess]:
    """A repository with N services and a daemon that has synced all of them."""
    repo = ManifestRepo.create(tmp / "srv", "m", tmp / "work")
    write_services(repo, n, "1.4.2")
    sha = repo.commit("initial")
    d = DaemonProcess(tmp, "bench", sandbox, server.url("m"), environment="staging", apply_wait="false",
                      max_parallel="16", webhook_gitlab_token=TOKEN, log_level="warning", **settings)
    d.start()
    try:
        d.wait_for(lambda s: len(s.get("services") or {}) == n and all(
            v["lastAppliedCommit"] == sha for v in s["services"].values()), "initial sync", deadline=1800)
    except BaseException:
        d.stop()
        raise
    return repo, d


def bench_size(n: int, tmp: Path) -> dict[str, object]:
    with Sandbox(seed=SEED, speed=600.0) as sandbox, GitDaemon(tmp / "srv") as server:
        repo, d = start_daemon(n, tmp, sandbox, server, drift_interval=str(DRIFT))
        try:
            # Drift scans run every DRIFT s: measure between two consecutive full cycles (git did not move).
            wait(lambda: full_cycles(d) >= 2, 600, "a warm full cycle")
            cycles = full_cycles(d)
            wait(lambda: full_cycles(d) > cycles, 600, "next cycle")
            before, cycles = metrics(d), full_cycles(d)
            wait(lambda: full_cycles(d) > cycles, 600, "no-op cycle")
            after = metrics(d)
            wall = after['reconciler_cycle_duration_seconds_sum{kind="full"}'] - \
                before['reconciler_cycle_duration_seconds_sum{kind="full"}']
            delta = {k: v - calls(before).get(k, 0) for k, v in calls(after).items() if v - calls(before).get(k, 0)}
            heads = after.get('reconciler_git_head_checks_total{result="ok"}', 0) - \
                before.get('reconciler_git_head_checks_total{result="ok"}', 0)
            rss = rss_mib(d.proc.pid)  # type: ignore[union-attr]
            # push -> UpdateService
            ecs = sandbox.client("ecs")
            target = "svc-0000"
            old_td = ecs.describe_services(cluster="staging", services=[target])["services"][0]["taskDefinition"]
            td_path = f"environments/staging/{target}/taskdef.json"
            repo.write(td_path, repo.read(td_path).replace("web:1.4.2", "web:1.5.0"))
            new = repo.commit("bump one")
            body = json.dumps({"object_kind": "push", "ref": "refs/heads/main", "after": new}).encode()
            t_push = time.monotonic()
            d.post("/webhook", body, {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": TOKEN})
            wait(lambda: ecs.describe_services(cluster="staging", services=[target])["services"][0]["taskDefinition"]
                 != old_td, 120, "UpdateService")
            latency = time.monotonic() - t_push
            return {"services": n, "noop_calls": delta, "git_head_checks": heads, "noop_wall_s": round(wall, 3),
                    "describe_services_budget": math.ceil(n / 10), "rss_mib": round(rss, 1),
                    "push_to_update_s": round(latency, 3)}
        finally:
            d.stop()


def primary_tds(ecs, names: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for i in range(0, len(names), 10):
        for svc in ecs.describe_services(cluster="staging", services=names[i:i + 10])["services"]:
            out[svc["serviceName"]] = [x for x in svc["deployments"] if x["status"] == "PRIMARY"][0]["taskDefinition"]
    return out


def bench_throttled(n: int, tmp: Path) -> dict[str, object]:
    """One commit changes the image of N services while the sandbox enforces ECS's rate limits."""
    with Sandbox(seed=SEED, speed=600.0) as sandbox, GitDaemon(tmp / "srv") as server:
        repo, d = start_daemon(n, tmp, sandbox, server)
        try:
            ecs = sandbox.client("ecs", retries={"mode": "adaptive", "max_attempts": 20})
            names = [f"svc-{i:04d}" for i in range(n)]
            old = primary_tds(ecs, names)
            write_services(repo, n, "1.5.0")
            new = repo.commit("bump all")
            assert sandbox.state is not None
            sandbox.state.throttling = True  # from here on, ECS's documented rates apply
            body = json.dumps({"object_kind": "push", "ref": "refs/heads/main", "after": new}).encode()
            t0 = time.monotonic()
            d.post("/webhook", body, {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": TOKEN})
            wait(lambda: all(old[k] != v for k, v in primary_tds(ecs, names).items()), 3600, "all deployments")
            took = time.monotonic() - t0
            floor = max(0, n - 20) / 1.0
            return {"throttled_services": n, "all_started_s": round(took, 1), "register_floor_s": floor,
                    "ratio": round(took / floor, 2) if floor else None}
        finally:
            d.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1,100,1000")
    ap.add_argument("--throttled", type=int, default=0)
    args = ap.parse_args()
    for n in [int(x) for x in args.sizes.split(",") if x]:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(bench_size(n, Path(tmp))), flush=True)
    if args.throttled:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(bench_throttled(args.throttled, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
