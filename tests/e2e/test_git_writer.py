"""Commits by the reconciler: one-line diff, author and trailer, a lost push race redone on the new head."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gitserver import ManifestRepo, _git

from reconciler.chatops.gitedit import apply_edit, commit_message, deploy_edit
from reconciler.manifests import load_repository
from reconciler.source.writer import GitWriter

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "deploy-manifests" / "examples"


def make_repo(tmp_path: Path) -> ManifestRepo:
    repo = ManifestRepo.create(tmp_path / "srv", "manifests", tmp_path / "work")
    repo.copy_tree(EXAMPLES / "environments", "environments").commit("initial manifests")
    return repo


def test_change_is_one_line_with_trailer_and_survives_a_lost_race(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    writer = GitWriter(str(repo.bare), tmp_path / "cache")
    raced: list[str] = []

    def edit(root: Path) -> list[str]:
        if not raced:  # someone else pushes between our fetch and our push
            repo.write("environments/staging/api/README.md", "hello\n")
            raced.append(repo.commit("docs: someone else's change"))
        plan = deploy_edit(load_repository(root), "staging", "web", "1.5.0")
        for e in plan.edits:
            apply_edit(root, e)
        return [e.path for e in plan.edits]

    result = writer.change(edit, commit_message("deploy staging/web 1.5.0", ["web → 1.5.0"],
                                                "Dana (U0DANA) in #deploys (C0DEPLOY)"))
    assert result.attempts == 2 and result.sha
    head = _git("rev-parse", "main", cwd=repo.bare)
    assert head == result.sha
    assert _git("rev-parse", f"{head}^", cwd=repo.bare) == raced[0]  # on top of theirs: nothing forced
    log = _git("log", "-1", "--format=%an <%ae>%n%B", head, cwd=repo.bare)
    assert log.startswith("ecs-reconciler <")
    assert "Requested-by: Dana (U0DANA) in #deploys (C0DEPLOY)" in log
    diff = _git("diff", "--unified=0", f"{head}^", head, cwd=repo.bare).splitlines()
    assert [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")] == [
        '-      "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1.4.2",',
        '+      "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1.5.0",']
    # the same request again changes nothing and pushes nothing
    assert writer.change(edit, "again\n").sha is None
    assert _git("rev-parse", "main", cwd=repo.bare) == head


def test_cli_promote_prints_the_diff_and_pushes(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    repo.write("environments/staging/web/taskdef.json",
               repo.read("environments/staging/web/taskdef.json").replace("web:1.4.2", "web:1.5.0"))
    repo.commit("staging web 1.5.0")
    clone = tmp_path / "checkout"
    _git("clone", "-q", str(repo.bare), str(clone))
    _git("config", "user.name", "Cli User", cwd=clone)
    _git("config", "user.email", "cli@example.com", cwd=clone)
    out = subprocess.run([sys.executable, "-m", "reconciler", "promote", "--repo", str(clone), "--from", "staging",
                          "--to", "production", "--service", "web", "--push"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "+      \"image\": \"123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1.5.0\"," in out.stdout
    assert "-      \"image\": \"123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1.4.2\"," in out.stdout
    msg = _git("log", "-1", "--format=%B", "main", cwd=repo.bare)
    assert msg.startswith("promote staging → production (web)") and "Requested-by: Cli User" in msg
    again = subprocess.run([sys.executable, "-m", "reconciler", "promote", "--repo", str(clone), "--from", "staging",
                            "--to", "production"], capture_output=True, text=True)
    assert again.returncode == 1 and "nothing to change" in again.stderr
