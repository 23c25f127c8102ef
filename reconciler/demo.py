"""`make demo`: the whole job on this machine, against the local AWS sandbox.

Starts the sandbox seeded with the example world, then shows what a newcomer
needs to see before pointing the reconciler at a real account: validate, plan,
sync, and a second sync that changes nothing.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "deploy-manifests" / "examples"


def banner(text: str) -> None:
    print(f"\n\033[1m==> {text}\033[0m" if sys.stdout.isatty() else f"\n==> {text}", flush=True)


def reconciler(env: dict[str, str], *args: str) -> int:
    print("$ reconciler " + " ".join(args), flush=True)
    return subprocess.call([sys.executable, "-m", "reconciler", *args], env=env)


def main() -> int:
    from reconciler.sandbox import Sandbox

    speed = float(os.environ.get("DEMO_SANDBOX_SPEED", "30"))
    with Sandbox(seed=EXAMPLES / "sandbox-seed.yaml", speed=speed) as sandbox:
        env = {**os.environ, **sandbox.env()}
        banner(f"AWS sandbox running at {sandbox.endpoint_url} (seeded from deploy-manifests/examples/sandbox-seed.yaml)")
        repo = str(EXAMPLES)
        banner("1. Validate the example manifest repository")
        if reconciler(env, "validate", repo) != 0:
            return 1
        banner("2. Plan: how git differs from what runs in the sandbox")
        reconciler(env, "plan", "--repo", repo)
        banner("3. Sync: create staging, roll production forward (rolling and CodeDeploy canary)")
        env["RECONCILER_POLL_INTERVAL"] = "0.5"
        if reconciler(env, "sync", "--repo", repo) != 0:
            return 1
        banner("4. Sync again: nothing to do, no new task definition revision")
        if reconciler(env, "sync", "--repo", repo) != 0:
            return 1
        banner("5. Plan after sync: everything in sync")
        return 0 if reconciler(env, "plan", "--repo", repo) == 0 else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
