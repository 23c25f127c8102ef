"""Fault matrix, bad input through the daemon: an alias bomb, a symlink out of the repository, an
oversize file and a force-pushed empty tree. Each is reported once, the healthy service still
deploys, no cycle crashes, nothing is pruned, and the daemon stays small."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from gitserver import GitDaemon, ManifestRepo  # noqa: E402
from test_daemon_helpers import EXAMPLES, set_image, synced  # noqa: E402
from test_notify_daemon_helpers import about, chat_daemon, hook, notify_config  # noqa: E402
from test_notify_delivery import receiver  # noqa: E402, F401 - fixture

pytestmark = pytest.mark.e2e
RSS_LIMIT_MB = 300


def two_services(repo: ManifestRepo) -> str:
    for name in ("web", "api"):
        repo.copy_tree(EXAMPLES / "environments" / "staging" / name, f"environments/staging/{name}")
    repo.write("environments/staging/environment.yaml",
               (EXAMPLES / "environments" / "staging" / "environment.yaml").read_text())
    return repo.commit("staging web and api")


def alias_bomb() -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    return "\n".join(lines) + "\n"


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def reports_of(rec, sha: str, title: str) -> list[dict]:
    return [m for m in hook(about(rec.requests, sha)) if title in str(m)]


def test_hostile_commits_are_reported_once_and_never_stop_the_healthy_service(sandbox, receiver, daemons,
                                                                               tmp_path: Path) -> None:
    with GitDaemon(tmp_path / "srv") as server:
        repo = ManifestRepo.create(tmp_path / "srv", "manifests", tmp_path / "work")
        two_services(repo)
        d = chat_daemon(tmp_path, "a", sandbox, server.url("manifests"), notify_config(tmp_path, receiver, api=False),
                        environment="staging", poll_interval="0.2", drift_interval="0.5")
        daemons.append(d.start())
        d.wait_for(synced("staging/web", "staging/api", commit=repo.head()), "first sync", deadline=90)

        # 1. An alias bomb in one service and a symlink out of the repository, with a release of the other.
        repo.write("environments/staging/api/service.yaml", alias_bomb())
        (repo.work / "docs").mkdir()
        (repo.work / "docs" / "hosts").symlink_to("/etc/hosts")
        (repo.work / "environments/staging/web/notes.txt").symlink_to("/etc/passwd")
        set_image(repo, "staging", "web", "1.5.0")
        bad = repo.commit("api: alias bomb; docs: link to /etc/hosts; web 1.5.0")
        doc = d.wait_for(synced("staging/web", commit=bad), "the healthy service to deploy", deadline=90)
        issues = "\n".join(doc["manifestIssues"])
        assert "environments/staging/api/service.yaml:" in issues and "aliases are expanded" in issues, issues
        assert "environments/staging/web/notes.txt: $: symlink points outside the repository" in issues, issues
        cycles = d.status()["cycles"]
        d.wait_for(lambda s: s["cycles"] >= cycles + 10, "ten more cycles at the same commit")
        assert len(reports_of(receiver, bad, "Manifest invalid")) == 1

        # 2. An oversize file: refused unparsed with file:line, once.
        repo.write("environments/staging/api/service.yaml",
                   (EXAMPLES / "environments/staging/api/service.yaml").read_text())
        repo.write("environments/staging/api/taskdef.json", '{"family": "x",\n' + " " * (2 << 20) + "}\n")
        big = repo.commit("api: a 2 MiB task definition")
        doc = d.wait_for(lambda s: s["commit"]["sha"] == big and any(
            "taskdef.json:2:" in i and "larger than" in i for i in s["manifestIssues"]), "the size refusal")

        # 3. A force-pushed empty tree: reported once as unusable, nothing pruned, unready after 5 cycles.
        repo.remove("environments").remove("docs")
        empty = repo.commit("delete everything")
        doc = d.wait_for(lambda s: s["commit"]["sha"] == empty and "manifests" in s["degraded"], "degraded")
        cycles = doc["cycles"]
        d.wait_for(lambda s: s["cycles"] >= cycles + 10, "ten more cycles")
        assert d.get("/readyz")[0] == 503
        ecs = sandbox.client("ecs")
        live = ecs.describe_services(cluster="staging", services=["web", "api"])["services"]
        assert [s["status"] for s in live] == ["ACTIVE", "ACTIVE"]  # nothing pruned
        degraded = [m for m in hook(receiver.requests) if "Reconciler degraded" in str(m)
                    and "manifest repository unreadable" in str(m)]
        assert len(degraded) == 1, degraded

        # 4. Git fixed: everything reconciles again.
        two_services(repo)
        good = repo.head()
        d.wait_for(synced("staging/web", commit=good), "recovery", deadline=90)
        d.wait_for(synced("staging/api"), "api in sync")
        d.wait_for(lambda s: not s["degraded"], "recovered")
        assert d.get("/readyz")[0] == 200

        crashed = [e for e in d.log_events() if e.get("event") in ("cycle_crashed", "manifest_load_crashed")]
        assert crashed == [], crashed[:3]
        assert d.proc is not None
        rss = peak_rss_mb(d.proc.pid)
        assert rss < RSS_LIMIT_MB, rss
