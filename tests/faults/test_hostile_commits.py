"""Fault matrix, bad input through the daemon: an alias bomb, a symlink out of the repository, a
50 MB manifest and a force-pushed empty tree. Each is reported once, the healthy service still
deploys in the same commit, no cycle crashes, cycles per minute stay at the configured rate
(measured on the running daemon), nothing is pruned, and the daemon stays under 300 MB."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from gitserver import GitDaemon, ManifestRepo  # noqa: E402
from test_daemon_helpers import EXAMPLES, set_image, synced  # noqa: E402
from test_notify_daemon_helpers import about, chat_daemon, hook, notify_config  # noqa: E402
from test_notify_delivery import receiver  # noqa: E402, F401 - fixture

pytestmark = pytest.mark.e2e
RSS_LIMIT_MB = 300
POLL, DRIFT = 0.5, 1.0  # seconds: at most 1/POLL + 1/DRIFT = 3 cycles a second (the old crash loop: ~18)
MAX_RATE, MIN_RATE = 1 / POLL + 1 / DRIFT, 0.25 / POLL
BIG_MB = 50


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


def big_manifest(megabytes: int) -> str:
    """A task definition of `megabytes` MB: valid JSON, one padding field per line."""
    line = '  "pad{:07d}": "' + "x" * 80 + '",\n'
    count = megabytes * 1_000_000 // len(line.format(0))
    return '{"family": "api-staging",\n' + "".join(line.format(i) for i in range(count)) + '  "end": 0\n}\n'


def cycles_per_second(d, n: int = 10) -> float:
    """The running daemon's cycle rate over its next `n` cycles (/status counts completed cycles)."""
    first = d.status()["cycles"]
    start = time.monotonic()
    doc = d.wait_for(lambda s: s["cycles"] >= first + n, f"{n} more cycles")
    rate = (doc["cycles"] - first) / (time.monotonic() - start)
    assert MIN_RATE <= rate <= MAX_RATE, f"{rate * 60:.0f} cycles a minute (configured: at most {MAX_RATE * 60:.0f})"
    return rate


def test_hostile_commits_are_reported_once_and_never_stop_the_healthy_service(sandbox, receiver, daemons,
                                                                               tmp_path: Path) -> None:
    with GitDaemon(tmp_path / "srv") as server:
        repo = ManifestRepo.create(tmp_path / "srv", "manifests", tmp_path / "work")
        two_services(repo)
        d = chat_daemon(tmp_path, "a", sandbox, server.url("manifests"), notify_config(tmp_path, receiver, api=False),
                        environment="staging", poll_interval=str(POLL), drift_interval=str(DRIFT))
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
        cycles_per_second(d)  # ten more cycles at the same commit, at the configured rate
        assert len(reports_of(receiver, bad, "Manifest invalid")) == 1

        # 2. A 50 MB task definition in one service, a release of the other in the same commit: refused
        # with file:line before it is parsed, reported once; the healthy release still deploys.
        repo.write("environments/staging/api/service.yaml",
                   (EXAMPLES / "environments/staging/api/service.yaml").read_text())
        repo.write("environments/staging/api/taskdef.json", big_manifest(BIG_MB))
        set_image(repo, "staging", "web", "1.4.1")
        big = repo.commit(f"api: a {BIG_MB} MB task definition; web 1.4.1")
        doc = d.wait_for(synced("staging/web", commit=big), "the healthy service to deploy", deadline=90)
        issues = [i for i in doc["manifestIssues"] if "environments/staging/api/taskdef.json:" in i]
        assert len(issues) == 1 and "larger than 1024 KiB" in issues[0], doc["manifestIssues"]
        cycles_per_second(d)
        assert len(reports_of(receiver, big, "Manifest invalid")) == 1

        # 3. A force-pushed empty tree: reported once as unusable, nothing pruned, unready after 5 cycles.
        repo.remove("environments").remove("docs")
        empty = repo.commit("delete everything")
        doc = d.wait_for(lambda s: s["commit"]["sha"] == empty and "manifests" in s["degraded"], "degraded")
        cycles_per_second(d)  # not a crash loop: degraded cycles run at the configured rate
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
