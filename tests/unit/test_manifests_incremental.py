"""Incremental loading against the full load, its reference.

A seeded random sequence of commits (edits, additions, deletions, renames, broken files,
environment changes, duplicate families, stray and hidden files, symlinks, new and deleted
environments, jumps back to older commits as after a force-push) is loaded both ways through
the real GitSource (fetch, snapshot export, `git diff` of the two trees): the incremental
model must equal the full one, and so must the plan against a fixed live state; the plan of
only the changed services must equal the full plan restricted to them.
"""
from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_plan_build import live_from

from reconciler.diff import CanonCache
from reconciler.manifests.repository import RepositoryScan, scan_repository
from reconciler.model import LiveEnvironment, LiveService
from reconciler.plan import build_plan, changed_services
from reconciler.source.git import GitSource

EXAMPLES = Path(__file__).resolve().parents[2] / "deploy-manifests" / "examples"
INSTANCE = "ecs-reconciler"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


class Work:
    """A working repository whose manifests live under `prefix` (the daemon's git path)."""

    def __init__(self, root: Path, prefix: str) -> None:
        self.root, self.prefix = root, prefix
        self.base = root / prefix if prefix else root
        root.mkdir()
        git(root, "init", "-q", "-b", "main")
        git(root, "config", "user.email", "t@example.com")
        git(root, "config", "user.name", "t")
        shutil.copytree(EXAMPLES / "environments", self.base / "environments")
        (root / "README.md").write_text("outside the manifests\n")

    def commit(self, message: str) -> str:
        git(self.root, "add", "-A")
        git(self.root, "commit", "-q", "--allow-empty", "-m", message)
        return git(self.root, "rev-parse", "HEAD")

    def service_dirs(self) -> list[Path]:
        return sorted(p.parent for p in (self.base / "environments").glob("*/*/service.yaml"))

    def env_dirs(self) -> list[Path]:
        return sorted(p for p in (self.base / "environments").iterdir() if p.is_dir())


def _taskdef(svc: Path) -> Path | None:
    return next((svc / n for n in ("taskdef.json", "taskdef.yaml") if (svc / n).is_file()), None)


def _edit_taskdef(svc: Path, change) -> bool:  # noqa: ANN001 - edits the dict in place
    path = _taskdef(svc)
    if path is None or path.suffix != ".json":
        return False
    try:
        data = json.loads(path.read_text())
    except ValueError:
        return False
    change(data)
    path.write_text(json.dumps(data, indent=2))
    return True


KINDS = ("image", "count", "add", "delete", "rename", "break", "fix-env", "env", "env-file-gone", "dup-family",
         "stray", "hidden", "outside", "new-env", "drop-env", "symlink", "unlink", "appspec")


def mutate(work: Work, rng: random.Random, step: int, kind: str) -> None:
    """One change of `kind` to the working tree, on a random service or environment."""
    services, envs = work.service_dirs(), work.env_dirs()
    svc = rng.choice(services) if services else None
    env = rng.choice(envs) if envs else None
    if kind == "image" and svc is not None:
        def bump(td: dict) -> None:
            for c in td.get("containerDefinitions", []):
                c["image"] = c["image"].rsplit(":", 1)[0] + f":{step}.0.0"
        _edit_taskdef(svc, bump)
    elif kind == "count" and svc is not None:
        text = (svc / "service.yaml").read_text()
        (svc / "service.yaml").write_text(re.sub(r"desiredCount: \d+", f"desiredCount: {step % 5}", text))
    elif kind == "add" and svc is not None:
        new = svc.parent / f"svc{step}"
        shutil.copytree(svc, new)
        _edit_taskdef(new, lambda td: td.update(family=f"svc{step}-{svc.parent.name}"))
    elif kind == "delete" and svc is not None and len(services) > 2:
        shutil.rmtree(svc)
    elif kind == "rename" and svc is not None:
        svc.rename(svc.parent / f"{svc.name}-r{step}")
    elif kind == "break" and svc is not None:
        target = rng.choice([svc / "service.yaml", _taskdef(svc) or svc / "service.yaml"])
        target.write_text("{: not yaml [\n")
    elif kind == "fix-env" and env is not None:
        (env / "environment.yaml").write_text(f"cluster: {env.name}\nregion: eu-west-1\n")
    elif kind == "env" and env is not None and (env / "environment.yaml").is_file():
        text = (env / "environment.yaml").read_text()
        text = text.replace("selfHeal: true", "selfHeal: false") if "selfHeal: true" in text else \
            text.replace("region: eu-west-1", "region: eu-west-1\nsyncPolicy:\n  selfHeal: true\n", 1)
        (env / "environment.yaml").write_text(text)
    elif kind == "env-file-gone" and env is not None and (env / "environment.yaml").is_file():
        (env / "environment.yaml").unlink()
    elif kind == "dup-family" and len(services) >= 2:
        a, b = rng.sample(services, 2)
        family = {}
        _edit_taskdef(b, lambda td: family.update(f=td.get("family")))
        if family.get("f"):
            _edit_taskdef(a, lambda td: td.update(family=family["f"]))
    elif kind == "stray" and env is not None:
        (env / f"notes-{step}.txt").write_text("not a manifest\n")
    elif kind == "hidden" and env is not None:
        (env / ".hidden").mkdir(exist_ok=True)
        (env / ".hidden" / "service.yaml").write_text(f"step: {step}\n")
    elif kind == "outside":
        (work.root / "README.md").write_text(f"step {step}\n")
    elif kind == "new-env" and env is not None:
        new = env.parent / f"env{step}"
        shutil.copytree(env, new)
        for td_svc in (p for p in new.iterdir() if p.is_dir()):
            _edit_taskdef(td_svc, lambda td: td.update(family=f"{td.get('family')}-{step}"))
    elif kind == "drop-env" and env is not None and len(envs) > 1:
        shutil.rmtree(env)
    elif kind == "symlink" and svc is not None and (svc / "service.yaml").is_file():
        link = svc / "alias.yaml"
        if not link.is_symlink():
            link.symlink_to("service.yaml")
    elif kind == "unlink":
        for link in (work.base / "environments").rglob("alias.yaml"):
            link.unlink()
    elif kind == "appspec" and svc is not None:
        (svc / "appspec.yaml").write_text(f"version: 0.0\n# {step}\n")


def assert_same(incremental: RepositoryScan, full: RepositoryScan, live: dict[str, LiveEnvironment]) -> None:
    inc_state, full_state = incremental.desired(), full.desired()
    assert inc_state == full_state
    for env in full.environments:
        assert incremental.desired(env=env) == full.desired(env=env)
    assert build_plan(inc_state, live, INSTANCE) == build_plan(full_state, live, INSTANCE)
    canon = CanonCache()
    cached = build_plan(inc_state, live, INSTANCE, canon=lambda s: canon.get("sha", s))
    assert cached == build_plan(full_state, live, INSTANCE)
    assert build_plan(inc_state, live, INSTANCE, canon=lambda s: canon.get("sha", s)) == cached
    assert canon.hits == canon.misses  # the second plan normalised nothing again


def tree(root: Path) -> dict[str, object]:
    """Every path under `root` with its content (files), target (links) or None (directories)."""
    out: dict[str, object] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        out[rel] = ("link", str(path.readlink())) if path.is_symlink() else None if path.is_dir() else path.read_bytes()
    return out


def inodes(root: Path) -> set[int]:
    return {p.stat().st_ino for p in root.rglob("*") if p.is_file() and not p.is_symlink()} if root.is_dir() else set()


def fixed_live(work: Work) -> dict[str, LiveEnvironment]:
    """AWS as the first commit declared it, plus an owned service git never declared."""
    state = scan_repository(work.base).desired()
    live: dict[str, dict[str, LiveService]] = {env: {} for env in state.environments}
    for spec in state.services:
        live[spec.environment][spec.name] = live_from(spec)
    for env, services in live.items():
        if services:
            orphan = next(iter(services.values()))
            services["gone"] = LiveService(env, "gone", orphan.arn + "-gone", {**orphan.service, "serviceName": "gone"},
                                           orphan.task_definition)
    return {env: LiveEnvironment(env, services) for env, services in live.items()}


@pytest.mark.parametrize(("seed", "prefix"), [(1, ""), (2, "deploy/manifests")])
def test_random_commits_load_the_same_both_ways(tmp_path: Path, seed: int, prefix: str) -> None:
    rng = random.Random(seed)
    work = Work(tmp_path / "work", prefix)
    source = GitSource(str(work.root), tmp_path / "cache", subdir=prefix, keep_snapshots=3)
    live = fixed_live(work)
    first = work.commit("initial")
    scans = {first: scan_repository(source.snapshot(source.fetch()).root)}
    shas = [first]
    exporter = GitSource(str(work.root), tmp_path / "cache-inc", subdir=prefix, keep_snapshots=3)
    exporter.fetch()
    snaps = {first: exporter.snapshot(first)}
    linked = 0
    kinds = rng.sample(KINDS, len(KINDS)) + [rng.choice(KINDS) for _ in range(12)]  # every kind at least once
    for step, kind in enumerate(kinds):
        mutate(work, rng, step, kind)
        sha = work.commit(f"step {step}: {kind}")
        assert source.fetch() == sha
        root = source.snapshot(sha).root
        # Mostly from the commit before; sometimes from an older one (a force-push back and forth).
        base = shas[-1] if rng.random() < 0.8 else rng.choice(shas)
        changed = source.changed_paths(base, sha)
        assert changed is not None
        assert all(not p.startswith(("deploy/", "/")) for p in changed)
        # The snapshot exported from the base's (hard links + the changed paths) is the full export.
        assert exporter.fetch() == sha
        snaps[sha] = exporter.snapshot(sha, base=snaps[base])
        assert tree(exporter.cache_dir / "snapshots" / sha) == tree(source.cache_dir / "snapshots" / sha)
        linked += bool(inodes(exporter.cache_dir / "snapshots" / sha) & inodes(exporter.cache_dir / "snapshots" / base))
        full = scan_repository(root)
        incremental = scans[base].rescan(root, changed)
        assert_same(incremental, full, live)
        # The plan of only the services whose declaration changed is the full plan, restricted.
        scope = changed_services(scans[base].desired(), full.desired())
        whole = build_plan(full.desired(), live, INSTANCE)
        assert build_plan(full.desired(), live, INSTANCE, only=scope).services == \
            tuple(sp for sp in whole.services if sp.key in scope)
        scans[sha] = incremental
        shas.append(sha)
    assert linked >= len(kinds) // 2  # most snapshots were built from their base's, not exported in full


def test_unchanged_units_are_reused_and_outside_paths_cost_nothing(tmp_path: Path) -> None:
    work = Work(tmp_path / "work", "")
    first = scan_repository(work.base)
    web = work.base / "environments" / "staging" / "web"
    _edit_taskdef(web, lambda td: td["containerDefinitions"][0].update(image="registry/web:9"))
    second = first.rescan(work.base, ["environments/staging/web/taskdef.json", "README.md"])
    assert second.environments["production"] is first.environments["production"]
    assert second.environments["staging"].entries["api"] is first.environments["staging"].entries["api"]
    assert second.environments["staging"].entries["web"] is not first.environments["staging"].entries["web"]
    assert second.desired() == scan_repository(work.base).desired()
    # A path outside environments/ re-reads nothing.
    third = second.rescan(work.base, ["README.md", "docs/x.md"])
    assert third.environments == second.environments


def test_environment_file_change_rereads_its_environment(tmp_path: Path) -> None:
    work = Work(tmp_path / "work", "")
    first = scan_repository(work.base)
    env_file = work.base / "environments" / "staging" / "environment.yaml"
    env_file.write_text(env_file.read_text().replace("cluster: staging", "cluster: staging-2"))
    second = first.rescan(work.base, ["environments/staging/environment.yaml"])
    assert second.environments["production"] is first.environments["production"]
    assert second.desired().environments["staging"].cluster == "staging-2"
    assert second.desired() == scan_repository(work.base).desired()


def test_symlinks_and_a_missing_layout_fall_back_to_a_full_load(tmp_path: Path) -> None:
    work = Work(tmp_path / "work", "")
    first = scan_repository(work.base)
    web = work.base / "environments" / "staging" / "web"
    (web / "extra.yaml").symlink_to("/etc/passwd")
    second = first.rescan(work.base, ["environments/staging/web/extra.yaml"])
    assert second.symlinks and second.outside == ("environments/staging/web/extra.yaml",)
    assert second.desired() == scan_repository(work.base).desired()
    assert any("symlink points outside" in i.reason for i in second.desired().issues)
    (web / "extra.yaml").unlink()
    third = second.rescan(work.base, ["environments/staging/web/extra.yaml"])  # had links: full again
    assert not third.symlinks and third.desired() == scan_repository(work.base).desired()
    shutil.rmtree(work.base / "environments")
    with pytest.raises(Exception, match="no environments/ directory"):
        third.rescan(work.base, ["environments/staging/web/service.yaml"])


def test_changed_paths_unknown_commit_is_none(tmp_path: Path) -> None:
    work = Work(tmp_path / "work", "")
    sha = work.commit("initial")
    source = GitSource(str(work.root), tmp_path / "cache")
    assert source.fetch() == sha
    assert source.changed_paths("0" * 40, sha) is None
    assert source.changed_paths(sha, sha) == []


def test_incremental_export_never_acts_through_a_symlink(tmp_path: Path) -> None:
    from reconciler.source.git import _remove_with_empty_parents

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not ours")
    root = tmp_path / "snap"
    (root / "environments" / "staging" / "web").mkdir(parents=True)
    (root / "environments" / "staging" / "web" / "service.yaml").write_text("x")
    (root / "environments" / "link").symlink_to(outside)
    with pytest.raises(OSError, match="beyond a symlink"):
        _remove_with_empty_parents(root, "environments/link/keep.txt")
    assert (outside / "keep.txt").read_text() == "not ours"
    _remove_with_empty_parents(root, "environments/staging/web/service.yaml")
    assert not (root / "environments" / "staging").exists()  # no empty service directory left behind
    assert (root / "environments").is_dir()
