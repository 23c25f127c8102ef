"""`make demo` is README's first command: it must keep working end to end."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def test_demo_runs_the_whole_job():
    env = {**os.environ, "DEMO_SANDBOX_SPEED": "120", "DEMO_WAIT_SECONDS": "120"}
    result = subprocess.run([sys.executable, "-m", "reconciler.demo"], env=env, capture_output=True, text=True,
                            timeout=300)
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    assert "valid: 5 service(s) ok" in out
    assert "production/web: update" in out
    assert "web:1.4.2 → 123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1.5.0" in out
    assert "Drift detected" in out and "Drift resolved" in out
    assert re.search(r"production/checkout .*CANARY: paused at POST_TEST_TRAFFIC_SHIFT, expires \d\d:\d\d, "
                     r"hook ecs-pause-", out)
    assert "production/checkout: continued: hook ecs-pause-" in out
    # At this speed the canary's steps fall into one notifier batch window (steps are replies in
    # test_daemon_native); the final report is there.
    assert "[production] checkout — Synced" in out
    assert "daemon stopped on SIGTERM with exit code 0" in out
    [log_line] = [line for line in out.splitlines() if line.startswith("daemon logs")]
    workdir = Path(log_line.split(": ", 1)[1].split(" (", 1)[0]).parent
    assert not workdir.exists(), "a clean run leaves no temporary directory behind"
