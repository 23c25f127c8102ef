"""Daemon benchmark: prints figures, asserts nothing (see bench/RESULTS.md).

For N services in the sandbox (default 1, 100, 1000): AWS calls by action and wall
time of a no-op full cycle, the daemon's resident memory, and push-event →
UpdateService latency. With --throttled N (default 200; 0 skips it): one commit
changing the image of N services under the sandbox's ECS rate limits, the time
until every deployment started next to the floor those limits allow.

Setup (not measured): a first daemon with the client-side RegisterTaskDefinition
pacing lifted creates the N services over HTTP, then is stopped; the measured
daemon is a fresh `reconciler run` with default settings that adopts them. All
measured traffic is boto3 over HTTP; the bench only reads the sandbox in-process
(so its polling spends none of the daemon's rate-limit tokens).

    .venv/bin/python bench/noop_cycle.py [--sizes 1,100,1000] [--throttled 200]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gitserver import GitDaemon, ManifestRepo  # noqa: E402
from ratefloor import calls_floor, rollout_floor  # noqa: E402
from test_daemon_helpers import DaemonProcess  # noqa: E402

from reconciler.sandbox import Sandbox  # noqa: E402

EXAMPLE = ROOT / "deploy-manifests" / "examples" / "environments" / "staging"
REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
SEED = ROOT / "deploy-manifests" / "examples" / "sandbox-seed.yaml"
TOKEN = "bench-webhook-token"
DRIFT = 5  # seconds between drift scans in the no-op measurement
FAST_SETUP = {"register_rate": "1000", "register_burst": "1000"}  # setup daemon only


def bench_seed() -> dict[str, Any]:
    """The example world (VPC, clusters, ECR tags) without its services: the cluster holds exactly N."""
    seed = yaml.safe_load(SEED.read_text())
    seed.pop("services", None)
    seed.pop("codedeploy", None)
    return seed


def write_services(repo: ManifestRepo, n: int, tag: str) -> None:
    """N rolling services cloned from staging/web (no load balancer: one target group cannot serve 1000)."""
    repo.write("environments/staging/environment.yaml",
               "cluster: staging\nregion: eu-west-1\nsyncPolicy:\n  automated: true\n  selfHeal: false\n")
    service = re.sub(r"loadBalancers:\n(  .*\n)+", "", (EXAMPLE / "web" / "service.yaml").read_text())
    taskdef = json.loads((EXAMPLE / "web" / "taskdef.json").read_text())
    for i in range(n):
        name = f"svc-{i:04d}"
        td = json.loads(json.dumps(taskdef))
        td["family"] = f"{name}-staging"
        td["containerDefinitions"][0]["image"] = f"{REGISTRY}/web:{tag}"
        repo.write(f"environments/staging/{name}/service.yaml", service)
        repo.write(f"environments/staging/{name}/taskdef.json", json.dumps(td, indent=2))


def bumped(taskdef_json: str, k: int) -> str:
    """The k-th push's task definition: image web:1.5.0 (a seeded ECR tag: verification refuses others)
    and BENCH_PUSH=k, so every push declares something never applied before (a declaration seen
    before may be taken for drift while its rollout is still in progress)."""
    td = json.loads(taskdef_json)
    container = td["containerDefinitions"][0]
    container["image"] = f"{REGISTRY}/web:1.5.0"
    env = [e for e in container.get("environment", []) if e.get("name") != "BENCH_PUSH"]
    container["environment"] = [*env, {"name": "BENCH_PUSH", "value": str(k)}]
    return json.dumps(td, indent=2)


# ----- reading the daemon ------------------------------------------------------
def metrics(d: DaemonProcess) -> dict[str, float]:
    """The daemon's Prometheus samples; empty while it is not listening yet."""
    assert d.proc is not None and d.proc.poll() is None, f"daemon exited:\n{d.log_tail()}"
    try:
        _, text = d.get("/metrics")
    except OSError:  # URLError is an OSError
        return {}
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def calls(m: dict[str, float]) -> dict[str, float]:
    """AWS calls (HTTP attempts) by action, from reconciler_aws_calls_total."""
    out: dict[str, float] = {}
    for key, value in m.items():
        if key.startswith("reconciler_aws_calls_total{"):
            action = re.search(r'action="([^"]+)"', key)
            if action:
                out[action.group(1)] = out.get(action.group(1), 0) + value
    return out


def delta(after: dict[str, float], before: dict[str, float]) -> dict[str, int]:
    return {k: int(v - before.get(k, 0)) for k, v in sorted(after.items()) if v - before.get(k, 0)}


def full_cycles(m: dict[str, float]) -> float:
    return sum(v for k, v in m.items() if k.startswith('reconciler_cycles_total{kind="full"'))


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak) in MiB."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key = line.split(":", 1)[0]
        if key in ("VmRSS", "VmHWM"):
            out[key] = round(int(line.split()[1]) / 1024, 1)
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all threads), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def profiler(pid: int, out: Path | None) -> subprocess.Popen[bytes] | None:
    """py-spy (a dev tool, `pip install py-spy`) sampling `pid` into `out` (speedscope JSON) until stopped."""
    if out is None:
        return None
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return subprocess.Popen([spy, "record", "--pid", str(pid), "--rate", "200", "--format", "speedscope",
                             "--output", str(out), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_profiler(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None:
        proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        proc.wait(timeout=60)


def wait(pred: Callable[[], bool], deadline: float, what: str, interval: float = 0.01) -> float:
    """Poll `pred`; returns the monotonic time it first held."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if pred():
            return time.monotonic()
        time.sleep(interval)
    raise SystemExit(f"timed out: {what}")


# ----- reading the sandbox in-process -----------------------------------------
def primary_taskdefs(sandbox: Sandbox, names: list[str]) -> dict[str, str]:
    """Each service's PRIMARY deployment task definition, i.e. what the last UpdateService set."""
    state = sandbox.state
    assert state is not None
    with state.lock:
        out = {}
        for name in names:
            svc = state.ecs.find_service("staging", name)
            if svc is not None and svc.deployments:
                out[name] = svc.deployments[0].task_definition
        return out


def push(d: DaemonProcess, sha: str) -> None:
    body = json.dumps({"object_kind": "push", "ref": "refs/heads/main", "after": sha}).encode()
    d.post("/webhook", body, {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": TOKEN})


# ----- setup -------------------------------------------------------------------
def daemon(tmp: Path, name: str, sandbox: Sandbox, server: GitDaemon, command: list[str] | None = None,
           **settings: str) -> DaemonProcess:
    return DaemonProcess(tmp, name, sandbox, server.url("m"), environment="staging", apply_wait="false",
                         max_parallel="16", webhook_gitlab_token=TOKEN, log_level="warning",
                         **settings).start(command)


def populate(n: int, tmp: Path, sandbox: Sandbox, server: GitDaemon) -> tuple[ManifestRepo, float]:
    """Commit N services and let a setup daemon (no client-side register pacing) create them."""
    repo = ManifestRepo.create(tmp / "srv", "m", tmp / "work")
    write_services(repo, n, "1.4.2")
    repo.commit("initial")
    names = [f"svc-{i:04d}" for i in range(n)]
    t0 = time.monotonic()
    setup = daemon(tmp, "setup", sandbox, server, **FAST_SETUP)
    try:
        wait(lambda: len(primary_taskdefs(sandbox, names)) == n, 1800, "setup daemon created all services", 0.5)
        wait(lambda: full_cycles(metrics(setup)) >= 1, 600, "setup daemon finished its cycle", 0.5)
    finally:
        setup.stop()
    return repo, time.monotonic() - t0


def warm_daemon(tmp: Path, sandbox: Sandbox, server: GitDaemon, **settings: str) -> tuple[DaemonProcess, float]:
    """The measured daemon (default pacing) after its first, cold full cycle."""
    t0 = time.monotonic()
    d = daemon(tmp, "bench", sandbox, server, **settings)
    try:
        wait(lambda: full_cycles(metrics(d)) >= 1, 1800, "first full cycle", 0.2)
    except BaseException:
        d.stop()
        raise
    return d, time.monotonic() - t0


# ----- the two measurements ------------------------------------------------------
def bench_size(n: int, tmp: Path, pushes: int = 1, profile: Path | None = None) -> dict[str, object]:
    with Sandbox(seed=bench_seed(), speed=600.0) as sandbox, GitDaemon(tmp / "srv") as server:
        repo, setup_s = populate(n, tmp, sandbox, server)
        d, cold_s = warm_daemon(tmp, sandbox, server, drift_interval=str(DRIFT))
        assert d.proc is not None
        try:
            # Drift scans every DRIFT s; git does not move: a warm scan is a no-op cycle.
            cycles = full_cycles(metrics(d))
            wait(lambda: full_cycles(metrics(d)) > cycles, 600, "a warm full cycle", 0.05)
            spy = profiler(d.proc.pid, profile / f"noop-{n}.speedscope.json" if profile else None)
            spy_sandbox = profiler(os.getpid(), profile / f"sandbox-noop-{n}.speedscope.json" if profile else None)
            before = metrics(d)
            # CPU over the cycle: the daemon's, and this process's (the sandbox's, plus light polling).
            cpu0 = cpu_seconds(d.proc.pid), time.process_time()
            wait(lambda: full_cycles(metrics(d)) > full_cycles(before), 600, "no-op cycle", 0.2)
            cpu = cpu_seconds(d.proc.pid) - cpu0[0], time.process_time() - cpu0[1]
            after = metrics(d)
            stop_profiler(spy)
            stop_profiler(spy_sandbox)
            wall = after['reconciler_cycle_duration_seconds_sum{kind="full"}'] - \
                before['reconciler_cycle_duration_seconds_sum{kind="full"}']
            heads = after.get('reconciler_git_head_checks_total{result="ok"}', 0) - \
                before.get('reconciler_git_head_checks_total{result="ok"}', 0)
            memory = proc_status(d.proc.pid)  # type: ignore[union-attr]
            # push -> UpdateService: the sandbox shows the new task definition once UpdateService was handled.
            target = "svc-0000"
            td_path = f"environments/staging/{target}/taskdef.json"
            samples = []
            spy = profiler(d.proc.pid, profile / f"push-{n}.speedscope.json" if profile else None)
            for k in range(pushes):
                old = primary_taskdefs(sandbox, [target])[target]
                repo.write(td_path, bumped(repo.read(td_path), k))
                sha = repo.commit(f"bump one ({k + 1})")
                t_push = time.monotonic()
                push(d, sha)
                t_update = wait(lambda old=old: primary_taskdefs(sandbox, [target])[target] != old, 300,
                                "UpdateService", 0.002)
                samples.append(round(t_update - t_push, 3))
                time.sleep(0.5)
            stop_profiler(spy)
            return {"services": n, "noop_calls": delta(calls(after), calls(before)), "git_head_checks": int(heads),
                    "describe_services_budget": math.ceil(n / 10), "noop_wall_s": round(wall, 3),
                    "noop_daemon_cpu_s": round(cpu[0], 3), "noop_sandbox_cpu_s": round(cpu[1], 3),
                    "rss_mib": memory.get("VmRSS"), "peak_rss_mib": memory.get("VmHWM"),
                    "push_to_update_s": statistics.median(samples), "push_samples_s": samples,
                    "setup_s": round(setup_s, 1), "cold_first_cycle_s": round(cold_s, 1)}
        finally:
            d.stop()


def bench_throttled(n: int, tmp: Path) -> dict[str, object]:
    """One commit changes the image of N services while the sandbox enforces ECS's rate limits."""
    with Sandbox(seed=bench_seed(), speed=600.0) as sandbox, GitDaemon(tmp / "srv") as server:
        repo, _ = populate(n, tmp, sandbox, server)
        d, _ = warm_daemon(tmp, sandbox, server)
        state = sandbox.state
        assert state is not None
        try:
            names = [f"svc-{i:04d}" for i in range(n)]
            old = primary_taskdefs(sandbox, names)
            write_services(repo, n, "1.5.0")
            sha = repo.commit("bump all")
            before = calls(metrics(d))
            state.limiter.rejected.clear()
            state.throttling = True  # from here on, ECS's documented rates apply (real seconds)
            t0 = time.monotonic()
            push(d, sha)
            started = lambda k: sum(old[s] != v for s, v in primary_taskdefs(sandbox, names).items()) >= k  # noqa: E731
            t_first = wait(lambda: started(1), 600, "first deployment", 0.05)
            t_all = wait(lambda: started(n), 3600, "all deployments", 0.05)
            made = delta(calls(metrics(d)), before)
            rejected = dict(sorted(state.limiter.rejected.items()))
            accepted = {k: v - rejected.get(k, 0) for k, v in made.items()}
            floor = rollout_floor(n)
            took, first = t_all - t0, t_first - t0
            return {"throttled_services": n, "all_started_s": round(took, 1), "first_started_s": round(first, 1),
                    "rate_floor_s": floor, "ratio": round(took / floor, 3) if floor else None,
                    "ratio_after_first": round((t_all - t_first) / floor, 3) if floor else None,
                    "calls": made, "sandbox_throttled": rejected, "accepted_calls_floor_s": calls_floor(accepted)}
        finally:
            state.throttling = False
            d.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1,100,1000")
    ap.add_argument("--pushes", type=int, default=5, help="pushes measured per size (their median is reported)")
    ap.add_argument("--profile", type=Path, help="directory for py-spy profiles of the measured daemon "
                    "(no-op cycles and pushes, speedscope format; needs `pip install py-spy`)")
    ap.add_argument("--throttled", type=int, default=200, help="services in the throttled rollout (0: skip)")
    args = ap.parse_args()
    for n in [int(x) for x in args.sizes.split(",") if x]:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(bench_size(n, Path(tmp), args.pushes, args.profile)), flush=True)
    if args.throttled:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(bench_throttled(args.throttled, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
