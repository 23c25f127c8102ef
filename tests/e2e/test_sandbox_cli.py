"""`reconciler sandbox` runs in the foreground, prints exports, and stops on SIGTERM."""
from __future__ import annotations

import shlex
import signal
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_cli_prints_exports_and_serves_until_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "sandbox", "--port", "0", "--seed",
         str(ROOT / "deploy-manifests/examples/sandbox-seed.yaml")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    try:
        env: dict[str, str] = {}
        assert proc.stdout is not None
        while len(env) < 5:
            line = proc.stdout.readline()
            assert line, "sandbox exited before printing its environment"
            key, _, value = line.removeprefix("export ").strip().partition("=")
            env[key] = shlex.split(value)[0]
        assert env["AWS_ACCESS_KEY_ID"] == "testing" and env["AWS_DEFAULT_REGION"] == "eu-west-1"
        ecs = boto3.client("ecs", endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_REGION"],
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        assert sorted(a.split("/")[-1] for a in ecs.list_clusters()["clusterArns"]) == ["production", "staging"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
