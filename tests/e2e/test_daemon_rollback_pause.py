"""`reconciler rollback` while the daemon runs: the daemon leaves the service on the rolled-back
revision until git moves, then applies git again."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from gitserver import GitDaemon, ManifestRepo
from test_daemon_helpers import DaemonProcess, daemons, set_image, synced  # noqa: F401 - fixtures
from test_notify_daemon_helpers import single_service_repo

pytestmark = pytest.mark.e2e


def live_image(sandbox) -> str:
    ecs = sandbox.client("ecs")
    td = ecs.describe_services(cluster="staging", services=["web"])["services"][0]["taskDefinition"]
    return ecs.describe_task_definition(taskDefinition=td)["taskDefinition"]["containerDefinitions"][0]["image"]


def test_manual_rollback_pauses_automated_sync_until_git_moves(sandbox, daemons, tmp_path: Path) -> None:
    with GitDaemon(tmp_path / "srv") as server:
        repo = ManifestRepo.create(tmp_path / "srv", "manifests", tmp_path / "work")
        single_service_repo(repo)
        d = DaemonProcess(tmp_path, "a", sandbox, server.url("manifests"), environment="staging",
                          poll_interval="0.2", drift_interval="0.3")
        daemons.append(d.start())
        d.wait_for(synced("staging/web", commit=repo.head()), "first sync")
        set_image(repo, "staging", "web", "1.5.0")
        bad = repo.commit("web: 1.5.0")
        d.wait_for(synced("staging/web", commit=bad), "1.5.0 applied")
        assert live_image(sandbox).endswith("web:1.5.0")

        env = {**os.environ, **sandbox.env(), "RECONCILER_APPLY_POLL_INTERVAL": "0.1"}
        result = subprocess.run([sys.executable, "-m", "reconciler", "rollback", "--repo", str(repo.work),
                                 "--env", "staging", "--service", "web"], env=env, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "paus" in (result.stdout + result.stderr).lower()
        assert live_image(sandbox).endswith("web:1.4.2")

        # Several drift scans later the daemon still leaves the rolled-back revision alone, and says why.
        cycles = d.status()["cycles"]
        doc = d.wait_for(lambda s: s["cycles"] >= cycles + 4, "a few drift scans")
        web = doc["services"]["staging/web"]
        assert "paused" in web["reason"], web
        assert live_image(sandbox).endswith("web:1.4.2")

        # Git moves: the pause lifts and git's declaration is applied again.
        repo.write("CHANGELOG.md", "web 1.5.0: fixed upstream, deploy again\n")
        fixed = repo.commit("web: 1.5.0 again, after the fix")
        d.wait_for(synced("staging/web", commit=fixed), "git applied again after it moved")
        assert live_image(sandbox).endswith("web:1.5.0")
