"""A bad commit through the daemon: rolled back by ECS, explained in chat, not retried in a tight
loop, and superseded by the next good commit."""
from __future__ import annotations

from pathlib import Path

import pytest
from gitserver import GitDaemon, ManifestRepo
from test_daemon_helpers import daemons, set_image, synced  # noqa: F401 - fixtures
from test_notify_daemon_helpers import about, chat_daemon, hook, notify_config, single_service_repo
from test_notify_delivery import receiver  # noqa: F401 - fixture

pytestmark = pytest.mark.e2e


def rolled_back(key: str, commit: str):
    def check(doc: dict) -> bool:
        svc = (doc.get("services") or {}).get(key) or {}
        history = svc.get("history") or []
        return any(h["commit"] == commit and h["status"] in ("rolled_back", "failed") for h in history)
    return check


def test_bad_image_is_rolled_back_reported_backed_off_and_superseded(sandbox, receiver, daemons, tmp_path: Path):
    with GitDaemon(tmp_path / "srv") as server:
        repo = ManifestRepo.create(tmp_path / "srv", "manifests", tmp_path / "work")
        single_service_repo(repo)
        d = chat_daemon(tmp_path, "a", sandbox, server.url("manifests"), notify_config(tmp_path, receiver, api=False),
                        environment="staging", poll_interval="0.2", drift_interval="0.5",
                        backoff_base="3600", backoff_max="3600")
        daemons.append(d.start())
        d.wait_for(synced("staging/web", commit=repo.head()), "first sync")

        # In ECR (so verification lets it through) but its tasks cannot pull it: ECS must roll back.
        sandbox.fail_image("123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1.4.1")
        set_image(repo, "staging", "web", "1.4.1")
        bad = repo.commit("web: release a tag whose image cannot be pulled")
        doc = d.wait_for(rolled_back("staging/web", bad), "the bad commit to fail and roll back", deadline=90)
        web = doc["services"]["staging/web"]
        assert web["lastError"] and "CannotPullContainerError" in web["lastError"], web
        assert web["lastAppliedCommit"] != bad

        # The chat report names the commit, the failing task's reason and that AWS rolled back.
        reports = hook(about(receiver.wait_for(1), bad))
        final = [m for m in reports if "Sync started" not in m["text"]]
        while not final:
            reports = hook(about(receiver.wait_for(len(receiver.requests) + 1), bad))
            final = [m for m in reports if "Sync started" not in m["text"]]
        text = str(final[-1])
        assert "CannotPullContainerError" in text and bad[:8] in text, text
        assert "rolled back" in text.lower(), text

        # With a one-hour backoff, several drift scans later the bad commit was not deployed again.
        cycles = d.status()["cycles"]
        d.wait_for(lambda s: s["cycles"] >= cycles + 4, "a few more cycles")
        history = d.status()["services"]["staging/web"]["history"]
        assert sum(1 for h in history if h["commit"] == bad) == 1, history

        # A newer commit supersedes the failed one at once, despite the backoff.
        set_image(repo, "staging", "web", "1.5.0")
        good = repo.commit("web: release 1.5.0 instead")
        d.wait_for(synced("staging/web", commit=good), "the fixing commit to apply", deadline=90)
