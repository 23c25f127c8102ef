"""What a user gets wrong gets one clear line and the documented exit code, never a traceback."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = str(ROOT / "deploy-manifests" / "examples")
pytestmark = pytest.mark.e2e


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reconciler", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def assert_clean_failure(result: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    for needle in needles:
        assert needle in result.stderr, result.stderr


@pytest.mark.parametrize("command", ["plan", "sync"])
def test_unreachable_aws_endpoint_fails_fast_and_clearly(command):
    endpoint = f"http://127.0.0.1:{closed_port()}"
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "eu-west-1"}
    # timeout=60 is a hang guard, not a speed assertion: the retries of the daemon's settings take minutes.
    result = run(command, "--repo", EXAMPLES, env=env, timeout=60)
    assert_clean_failure(result, 2, "cannot reach", endpoint, "AWS_ENDPOINT_URL")


@pytest.mark.parametrize("command", ["validate", "plan", "sync"])
def test_unknown_service_is_a_usage_error(sandbox, command):
    args = [EXAMPLES] if command == "validate" else ["--repo", EXAMPLES]
    result = run(command, *args, "--service", "nope", env=sandbox.env())
    assert_clean_failure(result, 2, "no service 'nope'")


def test_unknown_environment_is_a_usage_error(sandbox):
    result = run("plan", "--repo", EXAMPLES, "--env", "qa", env=sandbox.env())
    assert_clean_failure(result, 2, "no environment 'qa'")


def test_run_without_git_url_says_what_is_missing():
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
    result = subprocess.run([sys.executable, "-m", "reconciler", "run"], capture_output=True, text=True, env=env,
                            timeout=60)
    assert result.returncode == 2
    assert "RECONCILER_GIT_URL" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr + result.stdout


def test_run_with_a_literal_webhook_url_in_the_config_refuses_to_start(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("git_url: git://127.0.0.1:1/x.git\nnotifications:\n  destinations:\n"
                      "    - name: slack\n      type: slack-webhook\n"
                      "      webhookUrl: https://hooks.slack.com/services/T000/B000/SECRETSECRET\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
    result = subprocess.run([sys.executable, "-m", "reconciler", "run", "--config", str(config)],
                            capture_output=True, text=True, env=env, timeout=60)
    output = result.stderr + result.stdout
    assert result.returncode == 2, output
    assert "config_invalid" in output
    assert "SECRETSECRET" not in output
    assert "Traceback" not in output


def test_status_without_a_daemon_points_at_the_url_setting():
    result = run("status", "--url", f"http://127.0.0.1:{closed_port()}")
    assert_clean_failure(result, 2, "--url")


def test_output_piped_into_a_closed_reader_is_not_a_traceback():
    proc = subprocess.Popen([sys.executable, "-m", "reconciler", "schema"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.read(10)
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert b"Traceback" not in err
