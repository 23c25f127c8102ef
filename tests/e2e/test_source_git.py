"""GitSource against real git servers on loopback: head checks, fetches, snapshots, auth, redaction."""
from __future__ import annotations

from pathlib import Path

import pytest
from gitserver import GitDaemon, GitHttpServer, ManifestRepo

from reconciler.source import GitAuth, GitError, GitSource

pytestmark = pytest.mark.e2e


@pytest.fixture
def served(tmp_path: Path):
    with GitDaemon(tmp_path / "srv") as server:
        repo = ManifestRepo.create(tmp_path / "srv", "manifests", tmp_path / "work")
        repo.write("envs/a.yaml", "one: 1\n").commit("first commit")
        yield server, repo


def test_resolve_fetches_only_when_head_moves(served, tmp_path: Path) -> None:
    server, repo = served
    src = GitSource(server.url("manifests"), tmp_path / "cache", subdir="envs")
    first = src.resolve()
    assert first.sha == repo.head()
    assert (first.root / "a.yaml").read_text() == "one: 1\n"
    assert first.commit.title == "first commit" and first.commit.author == "Test Author"
    assert first.commit.timestamp

    assert src.resolve(first) is first  # head unchanged: same snapshot, nothing fetched

    second_sha = repo.write("envs/a.yaml", "one: 2\n").commit("second")
    second = src.resolve(first)
    assert second.sha == second_sha
    assert (second.root / "a.yaml").read_text() == "one: 2\n"
    # The old snapshot is immutable: still the first commit's content.
    assert (first.root / "a.yaml").read_text() == "one: 1\n"


def test_cache_is_reused_by_a_new_source(served, tmp_path: Path) -> None:
    server, repo = served
    GitSource(server.url("manifests"), tmp_path / "cache").resolve()
    again = GitSource(server.url("manifests"), tmp_path / "cache")
    assert again.has_commit(repo.head())  # clone once: the object store survives a restart


def test_unreachable_server_raises_git_error(served, tmp_path: Path) -> None:
    server, _ = served
    src = GitSource(server.url("manifests"), tmp_path / "cache", timeout=10)
    server.stop()
    with pytest.raises(GitError) as err:
        src.remote_head()
    assert "ls-remote" in str(err.value)
    server.start()
    assert src.remote_head()


def test_missing_branch_is_an_error(served, tmp_path: Path) -> None:
    server, _ = served
    with pytest.raises(GitError, match="not found"):
        GitSource(server.url("manifests"), tmp_path / "cache", branch="nope").remote_head()


def test_https_token_goes_through_askpass_only(tmp_path: Path) -> None:
    token = "glpat-SuperSecretToken123"
    with GitHttpServer(tmp_path / "srv", username="deployer", password=token) as server:
        repo = ManifestRepo.create(tmp_path / "srv", "m.git", tmp_path / "work")
        repo.write("x.txt", "x").commit("c1")
        src = GitSource(server.url("m.git"), tmp_path / "cache", auth=GitAuth(username="deployer", token=token))
        snap = src.resolve()
        assert snap.sha == repo.head()
        assert any(h for h in server.auth_headers)  # the server did demand and get credentials
        config = (tmp_path / "cache" / "repo" / ".git" / "config").read_text()
        assert token not in config and "deployer" not in config
        src.wait_background(timeout=30)  # the spare copy of the snapshot is being built meanwhile
        for path in (tmp_path / "cache").rglob("*"):
            if path.is_file() and path.stat().st_size < 1_000_000:
                assert token.encode() not in path.read_bytes(), path


def test_token_in_url_is_moved_out_and_redacted(tmp_path: Path) -> None:
    token = "ghp_AnotherSecretValue987"
    with GitHttpServer(tmp_path / "srv", username="x", password="right-password") as server:
        ManifestRepo.create(tmp_path / "srv", "m.git", tmp_path / "work").write("a", "a").commit("c")
        url = server.url("m.git").replace("http://", f"http://x:{token}@")
        src = GitSource(url, tmp_path / "cache")
        assert token not in src.url
        with pytest.raises(GitError) as err:
            src.remote_head()  # wrong password: authentication fails
        assert token not in str(err.value)
        assert token not in (tmp_path / "cache" / "repo" / ".git" / "config").read_text()


def test_user_only_token_in_url_is_used_for_authentication(tmp_path: Path) -> None:
    token = "ghp_UserOnlyTokenValue4242"
    with GitHttpServer(tmp_path / "srv", username="x-access-token", password=token) as server:
        repo = ManifestRepo.create(tmp_path / "srv", "m.git", tmp_path / "work").write("a", "a")
        sha = repo.commit("c")
        src = GitSource(server.url("m.git").replace("http://", f"http://{token}@"), tmp_path / "cache")
        assert token not in src.url
        assert src.resolve().sha == sha  # authenticated with the token, not silently anonymous
        assert token not in (tmp_path / "cache" / "repo" / ".git" / "config").read_text()


def test_force_pushed_empty_tree_exports_an_empty_snapshot(served, tmp_path: Path) -> None:
    server, repo = served
    src = GitSource(server.url("manifests"), tmp_path / "cache", subdir="envs")
    src.resolve()
    repo.remove("envs")
    empty = repo.commit("delete everything")
    snap = src.resolve()
    assert snap.sha == empty and not snap.root.exists()  # no crash; the loader reports the missing path


def test_symlinks_leaving_the_tree_are_kept_as_links_never_followed(served, tmp_path: Path) -> None:
    server, repo = served
    (repo.work / "envs" / "hosts").symlink_to("/etc/hosts")
    (repo.work / "envs" / "up").symlink_to("../../..")
    (repo.work / "envs" / "inside").symlink_to("a.yaml")
    repo.write("envs/b.yaml", "two: 2\n")
    sha = repo.commit("links out of the repository")
    snap = GitSource(server.url("manifests"), tmp_path / "cache", subdir="envs").resolve()
    assert snap.sha == sha
    assert (snap.root / "b.yaml").read_text() == "two: 2\n"  # the rest of the tree is there
    assert (snap.root / "inside").read_text() == "one: 1\n"
    assert (snap.root / "hosts").is_symlink()  # refused by the loader, not by a crash


def test_old_snapshots_leave_at_once_and_are_deleted_off_the_push_path(served, tmp_path: Path) -> None:
    """Pruned snapshots are renamed away whole under the lock and deleted by a background thread;
    a leftover of an interrupted deletion is swept by the next prune."""
    server, repo = served
    src = GitSource(server.url("manifests"), tmp_path / "cache", subdir="envs", keep_snapshots=2)
    snapshots = tmp_path / "cache" / "snapshots"
    leftover = snapshots / ".trash-deadbeef-0000"
    (leftover / "envs").mkdir(parents=True)
    (leftover / "envs" / "a.yaml").write_text("old\n")
    current = src.resolve()
    shas = [current.sha]
    for k in range(3):
        repo.write("envs/a.yaml", f"one: {k}\n").commit(f"c{k}")
        current = src.resolve(current)
        shas.append(current.sha)
        live = sorted(p.name for p in snapshots.iterdir() if not p.name.startswith("."))
        assert live == sorted(shas[-2:])  # the pruned one is gone from its name at once
        assert (current.root / "a.yaml").read_text() == f"one: {k}\n"
    src.wait_background(timeout=30)
    # Trash and leftover deleted; the newest snapshot has its spare copy, for the next commit's.
    assert sorted(p.name for p in snapshots.iterdir()) == sorted([*shas[-2:], f".spare-{shas[-1]}"])


def test_next_snapshot_starts_from_a_spare_copy_built_in_the_background(served, tmp_path: Path) -> None:
    server, repo = served
    repo.write("envs/b/keep.yaml", "kept: 1\n").commit("more")
    src = GitSource(server.url("manifests"), tmp_path / "cache", subdir="envs")
    snapshots = tmp_path / "cache" / "snapshots"
    first = src.resolve()
    src.wait_background(timeout=30)
    spare = snapshots / f".spare-{first.sha}"
    assert (spare / "envs" / "b" / "keep.yaml").read_text() == "kept: 1\n"
    assert (spare / "envs" / "a.yaml").stat().st_ino == (first.root / "a.yaml").stat().st_ino  # hard links
    repo.write("envs/a.yaml", "one: 2\n").commit("second")
    second = src.resolve(first)
    assert not spare.exists()  # taken: renamed into the new snapshot
    assert (second.root / "a.yaml").read_text() == "one: 2\n" and (first.root / "a.yaml").read_text() == "one: 1\n"
    assert (second.root / "b" / "keep.yaml").stat().st_ino == (first.root / "b" / "keep.yaml").stat().st_ino
    src.wait_background(timeout=30)
    assert sorted(p.name for p in snapshots.iterdir() if p.name.startswith(".")) == [f".spare-{second.sha}"]
