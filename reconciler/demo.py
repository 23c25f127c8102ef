"""`make demo`: the whole job on this machine, against the local AWS sandbox.

What a newcomer needs to see before pointing the reconciler at a real account:
the example repository validated and planned; then the daemon (`reconciler run`)
watching a real git server on loopback, syncing everything, picking up a commit
that bumps an image, noticing a change made by hand in AWS (reverted in
staging, where selfHeal is on; reported in production, where it is off), and an
ECS-native canary that waits at a PAUSE hook until `reconciler continue`. Chat
reports go to the console. Nothing here touches a real AWS account.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "deploy-manifests" / "examples"
WAIT_SECONDS = float(os.environ.get("DEMO_WAIT_SECONDS", "180"))


def banner(text: str) -> None:
    print(f"\n\033[1m==> {text}\033[0m" if sys.stdout.isatty() else f"\n==> {text}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reconciler(env: dict[str, str], *args: str) -> int:
    print("$ reconciler " + " ".join(args), flush=True)
    return subprocess.call([sys.executable, "-m", "reconciler", *args], env=env)


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "Dana Demo", "GIT_AUTHOR_EMAIL": "dana@example.com",
           "GIT_COMMITTER_NAME": "Dana Demo", "GIT_COMMITTER_EMAIL": "dana@example.com"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


class Demo:
    def __init__(self, sandbox: Any, tmp: Path) -> None:
        self.sandbox = sandbox
        self.tmp = tmp
        self.env = {**os.environ, **sandbox.env()}
        self.work = tmp / "work"
        self.git_port = free_port()
        self.http_port = free_port()
        self.procs: list[subprocess.Popen[bytes]] = []

    # -- the manifest repository on a real git server -------------------------------------------
    def publish_repository(self) -> str:
        self.work.mkdir()
        shutil.copytree(EXAMPLES / "environments", self.work / "environments")
        shutil.copytree(EXAMPLES / ".schema", self.work / ".schema")
        git(self.work, "init", "-q", "-b", "main")
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", "Example services: web (rolling) and api (canary)")
        served = self.tmp / "git"
        served.mkdir()
        git(self.tmp, "clone", "-q", "--bare", str(self.work), str(served / "manifests.git"))
        self.procs.append(subprocess.Popen(
            ["git", "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack", f"--base-path={served}",
             "--listen=127.0.0.1", f"--port={self.git_port}", str(served)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        url = f"git://127.0.0.1:{self.git_port}/manifests.git"
        git(self.work, "remote", "add", "origin", url)
        deadline = time.monotonic() + 10
        while subprocess.call(["git", "ls-remote", url], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
            if time.monotonic() > deadline:
                raise RuntimeError("git daemon did not start")
            time.sleep(0.1)
        return url

    def commit_and_push(self, message: str, edit: Callable[[Path], None]) -> str:
        edit(self.work)
        git(self.work, "commit", "-q", "-am", message)
        git(self.work, "push", "-q", "origin", "main")
        return git(self.work, "rev-parse", "HEAD")

    # -- the daemon ------------------------------------------------------------------------------
    def start_daemon(self, git_url: str) -> None:
        env = {**self.env,
               "RECONCILER_GIT_URL": git_url, "RECONCILER_CACHE_DIR": str(self.tmp / "cache"),
               "RECONCILER_HTTP_HOST": "127.0.0.1", "RECONCILER_HTTP_PORT": str(self.http_port),
               "RECONCILER_POLL_INTERVAL": "2", "RECONCILER_DRIFT_INTERVAL": "4",
               "RECONCILER_APPLY_POLL_INTERVAL": "0.5", "RECONCILER_NOTIFY_CONSOLE": "true",
               "RECONCILER_LOG_LEVEL": "info"}
        log = open(self.tmp / "daemon.log", "wb")  # noqa: SIM115 - closed with the process
        self.procs.append(subprocess.Popen([sys.executable, "-m", "reconciler", "run"], env=env,
                                           stdout=None, stderr=log))
        print(f"daemon logs (JSON, one event per line): {self.tmp / 'daemon.log'} (removed after a clean run)", flush=True)

    def status(self) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/status", timeout=2) as resp:
                return dict(json.load(resp))
        except OSError:
            return {}

    def wait_for(self, what: str, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            status = self.status()
            if status and predicate(status):
                return status
            if self.procs[-1].poll() is not None:
                raise RuntimeError(f"the daemon exited while waiting for {what}; see {self.tmp / 'daemon.log'}")
            time.sleep(0.5)
        raise RuntimeError(f"timed out waiting for {what}; see {self.tmp / 'daemon.log'}")

    def show_status(self) -> None:
        reconciler(self.env, "status", "--url", f"http://127.0.0.1:{self.http_port}")

    def stop(self) -> int | None:
        daemon = self.procs[-1] if len(self.procs) > 1 else None
        code = None
        if daemon and daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            code = daemon.wait(timeout=60)
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=10)
        return code


def all_synced(status: dict[str, Any]) -> bool:
    services = status.get("services", {})
    return bool(services) and all(s["sync"] == "Synced" and s["health"] == "Healthy" for s in services.values())


def set_image(tag: str) -> Callable[[Path], None]:
    def edit(work: Path) -> None:
        path = work / "environments" / "staging" / "web" / "taskdef.json"
        text = path.read_text()
        path.write_text(text.replace("/web:1.4.2", f"/web:{tag}"))
    return edit


def set_checkout_image(tag: str) -> Callable[[Path], None]:
    def edit(work: Path) -> None:
        path = work / "environments" / "production" / "checkout" / "taskdef.json"
        path.write_text(path.read_text().replace("/checkout:3.0.0", f"/checkout:{tag}"))
    return edit


def main() -> int:
    from reconciler.sandbox import Sandbox

    speed = float(os.environ.get("DEMO_SANDBOX_SPEED", "30"))
    tmp = Path(tempfile.mkdtemp(prefix="reconciler-demo-"))
    with Sandbox(seed=EXAMPLES / "sandbox-seed.yaml", speed=speed) as sandbox:
        demo = Demo(sandbox, tmp)
        result = 1
        try:
            result = run(demo)
            return result
        finally:
            code = demo.stop()
            if code is not None:
                print(f"daemon stopped on SIGTERM with exit code {code}", flush=True)
            if result == 0 and code == 0:
                shutil.rmtree(tmp, ignore_errors=True)  # kept on failure: the daemon log is in it


def run(demo: Demo) -> int:
    banner(f"AWS sandbox at {demo.sandbox.endpoint_url}, seeded from deploy-manifests/examples/sandbox-seed.yaml")
    repo = str(EXAMPLES)
    banner("1. Validate the example manifest repository (what merge-request CI runs)")
    if reconciler(demo.env, "validate", repo) != 0:
        return 1
    banner("2. Plan: how git differs from what runs in the sandbox")
    reconciler(demo.env, "plan", "--repo", repo)

    banner("3. Start the daemon on a git server on loopback; it syncs everything (chat reports on the console)")
    url = demo.publish_repository()
    demo.start_daemon(url)
    demo.wait_for("every service Synced and Healthy", all_synced)
    demo.show_status()

    banner("4. Commit: staging web 1.4.2 -> 1.5.0; the next poll picks it up and rolls it out")
    sha = demo.commit_and_push("web: release 1.5.0 to staging", set_image("1.5.0"))
    demo.wait_for("the new commit applied", lambda s: all_synced(s) and
                  s["services"]["staging/web"].get("lastAppliedCommit") == sha)
    demo.show_status()

    banner("5. Someone scales services by hand in the console")
    ecs = demo.sandbox.client("ecs")
    ecs.update_service(cluster="staging", service="web", desiredCount=5)
    ecs.update_service(cluster="production", service="web", desiredCount=5)
    print("staging/web and production/web set to desiredCount 5 outside git", flush=True)
    demo.wait_for("drift reported in production and reverted in staging",
                  lambda s: s["services"]["production/web"]["sync"] == "OutOfSync"
                  and ecs.describe_services(cluster="staging", services=["web"])["services"][0]["desiredCount"] == 2)
    print("staging (selfHeal on): reverted to desiredCount 2; production (selfHeal off): reported only", flush=True)
    demo.show_status()

    banner("6. Commit: production/checkout 3.0.0 -> 3.0.1, an ECS-native canary that waits for a human")
    sha = demo.commit_and_push("checkout: release 3.0.1", set_checkout_image("3.0.1"))
    demo.wait_for("the canary paused at its PAUSE hook",
                  lambda s: "paused at" in (s["services"]["production/checkout"].get("progress") or ""))
    demo.show_status()
    if reconciler(demo.env, "continue", "--repo", str(demo.work), "--env", "production", "--service", "checkout") != 0:
        return 1
    demo.wait_for("the canary through its steps", lambda s: s["services"]["production/checkout"]["sync"] == "Synced"
                  and s["services"]["production/checkout"].get("lastAppliedCommit") == sha)
    demo.show_status()

    banner("7. SIGTERM: the daemon stops taking work and exits cleanly")
    return 0


if __name__ == "__main__":
    sys.exit(main())
