"""The manifest repository as seen by the daemon: cheap head checks, immutable snapshots.

Layout of the cache directory (clone once, reuse across cycles and restarts):
  repo/            a bare-ish working repository with `origin` = the clean URL
  snapshots/<sha>/ the exported tree of exactly one commit, renamed into place
                   only once complete, so a half-written tree is never read
  askpass/         the GIT_ASKPASS helper (no secret inside)

Per cycle: `git ls-remote` the branch (one round trip, like Flux's optimized
clones), fetch only when the head moved (`--depth=1` where the server allows),
then export the commit's tree (chat-and-git-triggers.md §4).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import git

from reconciler.events import CommitInfo
from reconciler.log import get_logger, redact, register_secret
from reconciler.source.auth import GitAuth, git_environment
from reconciler.source.urls import commit_url, split_credentials

log = get_logger(__name__)


#: Our choice: past this many changed paths a full export is as cheap and keeps the argv short.
MAX_INCREMENTAL_PATHS = 2000


class GitError(Exception):
    """A git operation failed; the message is already scrubbed of secrets."""

    def __init__(self, operation: str, detail: str) -> None:
        super().__init__(redact(f"git {operation} failed: {detail}"))
        self.operation = operation


@dataclass(frozen=True)
class Snapshot:
    """One commit's tree on disk. `root` is where the manifests start (the configured sub-path)."""

    commit: CommitInfo
    root: Path

    @property
    def sha(self) -> str:
        return self.commit.sha


def _stderr(exc: Exception) -> str:
    if isinstance(exc, git.GitCommandError):
        text = exc.stderr if isinstance(exc.stderr, str) else str(exc.stderr or "")
        text = text.strip().strip("'").strip()
        return text or f"exit code {exc.status}"
    return str(exc)


class GitSource:
    """Resolve the branch head of one remote into snapshots. Thread-safe (one git op at a time)."""

    def __init__(self, url: str, cache_dir: Path, *, branch: str = "main", auth: GitAuth | None = None,
                 subdir: str = "", shallow: bool = True, timeout: float = 60.0,
                 commit_url_template: str | None = None, keep_snapshots: int = 3,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        clean, user, password = split_credentials(url)
        if user and not password:
            # `https://TOKEN@host/repo.git`: the user part is the token (GitHub's documented form).
            # It is used as the password of user `x-access-token` (GitHub's convention; GitLab
            # takes any user with a token), never dropped and never logged.
            user, password = "x-access-token", user
        if password:
            # A token pasted into the URL is moved to the askpass helper, never stored.
            register_secret(password)
            auth = GitAuth(username=user or "oauth2", token=password,
                           ssh_key_file=auth.ssh_key_file if auth else None,
                           known_hosts_file=auth.known_hosts_file if auth else None)
        self.url = clean
        self.branch = branch
        self.auth = auth or GitAuth()
        self.subdir = subdir.strip("/")
        self.shallow = shallow
        self.timeout = timeout
        self.commit_url_template = commit_url_template
        self.keep_snapshots = max(2, keep_snapshots)
        self.cache_dir = Path(cache_dir)
        self._monotonic = monotonic
        self._lock = threading.Lock()
        #: Deletes pruned snapshots off the push path (a 1000-service tree takes ~0.4 s to unlink).
        self._pruner: threading.Thread | None = None
        #: Builds the hard-linked spare copy of the newest snapshot off the push path: (sha, thread).
        self._sparer: tuple[str, threading.Thread] | None = None
        self._env = git_environment(self.auth, self.cache_dir / "askpass")
        self._repo: git.Repo | None = None
        self.last_fetch_seconds: float | None = None

    # -- plumbing ------------------------------------------------------------------
    def _git(self, operation: str, *args: Any) -> str:
        repo = self._ensure_repo()
        try:
            out = getattr(repo.git, operation.replace("-", "_"))(
                *args, env=self._env, kill_after_timeout=self.timeout)
        except (git.GitCommandError, OSError) as exc:
            raise GitError(operation, _stderr(exc)) from None
        return str(out)

    def _ensure_repo(self) -> git.Repo:
        if self._repo is not None:
            return self._repo
        path = self.cache_dir / "repo"
        try:
            if (path / ".git").is_dir():
                repo = git.Repo(path)
            else:
                path.mkdir(parents=True, exist_ok=True)
                repo = git.Repo.init(path)
            urls = [r for r in repo.remotes if r.name == "origin"]
            if not urls:
                repo.git.remote("add", "origin", self.url)
            elif repo.git.remote("get-url", "origin") != self.url:
                repo.git.remote("set-url", "origin", self.url)
        except (git.GitCommandError, git.InvalidGitRepositoryError, OSError) as exc:
            raise GitError("init", _stderr(exc)) from None
        self._repo = repo
        return repo

    # -- public API --------------------------------------------------------------
    def remote_head(self) -> str:
        """The branch head on the remote (`git ls-remote`), without fetching anything."""
        with self._lock:
            ref = f"refs/heads/{self.branch}"
            out = self._git("ls-remote", "origin", ref)
        for line in out.splitlines():
            sha, _, name = line.partition("\t")
            if name.strip() == ref:
                return sha.strip()
        raise GitError("ls-remote", f"branch {self.branch!r} not found on the remote")

    def fetch(self) -> str:
        """Fetch the branch head; returns the fetched sha (which may be newer than ls-remote said)."""
        with self._lock:
            start = self._monotonic()
            refspec = f"+refs/heads/{self.branch}:refs/remotes/origin/{self.branch}"
            try:
                self._git("fetch", "--no-tags", *(["--depth=1"] if self.shallow else []), "origin", refspec)
            except GitError as exc:
                if not self.shallow:
                    raise
                # Dumb HTTP and some servers refuse shallow fetches: fall back once, for good.
                log.info("git_shallow_fetch_refused", error=str(exc))
                self.shallow = False
                self._git("fetch", "--no-tags", "origin", refspec)
            self.last_fetch_seconds = self._monotonic() - start
            return self._git("rev-parse", "--verify", f"refs/remotes/origin/{self.branch}^{{commit}}").strip()

    def has_commit(self, sha: str) -> bool:
        with self._lock:
            try:
                self._git("cat-file", "-e", f"{sha}^{{commit}}")
                return True
            except GitError:
                return False

    def commit_info(self, sha: str) -> CommitInfo:
        repo = self._ensure_repo()
        try:
            commit = repo.commit(sha)
            return CommitInfo(
                sha=commit.hexsha,
                title=str(commit.summary),
                author=str(commit.author.name or commit.author.email or ""),
                timestamp=commit.committed_datetime.isoformat(),
                url=commit_url(self.url, commit.hexsha, self.commit_url_template),
            )
        except (ValueError, git.BadName, git.GitCommandError) as exc:
            raise GitError("show", _stderr(exc)) from None

    def commit_meta(self, sha: str) -> tuple[str, str]:
        """(author email, full message) of a fetched commit: approvals tell the author by them."""
        try:
            commit = self._ensure_repo().commit(sha)
            return str(commit.author.email or ""), str(commit.message)
        except (ValueError, git.BadName, git.GitCommandError) as exc:
            raise GitError("show", _stderr(exc)) from None

    def changed_paths(self, old: str, new: str) -> list[str] | None:
        """Paths (relative to the manifests root) that differ between the trees of two fetched
        commits, a rename as its old and new path; None when git cannot tell (an object is
        missing, or the manifests root itself changed): the caller then loads in full.

        Trees are compared, not history, so the answer is exact after a force-push or across
        unrelated histories too (and works in a shallow clone, which has no parents)."""
        with self._lock:
            paths = self._tree_diff(old, new)
        if paths is None or not self.subdir:
            return paths
        prefix = self.subdir + "/"
        if any(p == self.subdir for p in paths):
            return None
        return [p[len(prefix):] for p in paths if p.startswith(prefix)]

    def snapshot(self, sha: str, base: Snapshot | None = None) -> Snapshot:
        """Export the tree of `sha` once into `snapshots/<sha>` (atomic rename) and return it.

        With `base` (a snapshot still on disk), only the paths that differ from it are
        exported, onto a hard-linked copy of it: a push costs what it changes."""
        with self._lock:
            info = self.commit_info(sha)
            target = self.cache_dir / "snapshots" / info.sha
            if not target.is_dir():
                base_dir = self.cache_dir / "snapshots" / base.sha if base is not None else None
                if base_dir is None or not base_dir.is_dir() or not self._export_from(base_dir, base.sha, info.sha,
                                                                                     target):
                    self._export(info.sha, target)
            self._prune_snapshots(keep=target)
            self._prepare_spare(info.sha, target)
        root = target / self.subdir if self.subdir else target
        return Snapshot(commit=info, root=root)

    def resolve(self, current: Snapshot | None = None) -> Snapshot:
        """The snapshot of the branch head: reuses `current` when the head did not move."""
        head = self.remote_head()
        if current is not None and current.sha == head:
            return current
        sha = head if self.has_commit(head) else self.fetch()
        return self.snapshot(sha, base=current)

    # -- helpers -----------------------------------------------------------------
    def _export(self, sha: str, target: Path) -> None:
        """Write the tree of `sha` into `target`; any failure is a GitError (the cycle reports it).

        An empty tree (a force-pushed empty branch) exports as an empty directory: the loader
        then says the manifests are missing, and nothing is pruned."""
        repo = self._ensure_repo()
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.parent / f".tmp-{sha[:12]}-{uuid.uuid4().hex[:8]}"
        empty = not self._git("ls-tree", sha).strip()  # tarfile cannot open git's archive of nothing
        try:
            staging.mkdir()
            with tempfile.TemporaryFile(dir=target.parent) as archive:
                if not empty:
                    try:
                        repo.archive(archive, sha, format="tar", kill_after_timeout=self.timeout)
                    except git.GitCommandError as exc:
                        raise GitError("archive", _stderr(exc)) from None
                    archive.seek(0)
                    _extract(archive, staging)
            try:
                os.rename(staging, target)
            except OSError:
                if not target.is_dir():
                    raise
        except OSError as exc:
            raise GitError("archive", f"cannot write the snapshot: {exc}") from None
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)

    def _tree_diff(self, old: str, new: str) -> list[str] | None:
        """Repository paths whose blob differs between two commits' trees (lock held)."""
        try:
            out = self._git("diff", "--name-only", "--no-renames", "--no-ext-diff", "--no-textconv", "-z",
                            f"{old}^{{tree}}", f"{new}^{{tree}}", "--")
        except GitError as exc:
            log.info("git_diff_unavailable", error=str(exc))
            return None
        return [p for p in out.split("\0") if p]

    def _export_from(self, base_dir: Path, base: str, sha: str, target: Path) -> bool:
        """Export `sha` as `base_dir` plus the paths that differ (False: export in full instead).

        The copy hard-links the unchanged files (snapshots are never written after their rename);
        changed paths are removed and taken from `git archive` of just those paths, through the
        same extraction filter as a full export. Any surprise falls back to the full export."""
        changed = self._tree_diff(base, sha)
        if changed is None or len(changed) > MAX_INCREMENTAL_PATHS or any(p.startswith("-") for p in changed):
            return False  # "-…" could read as an option to git archive
        staging = target.parent / f".tmp-{sha[:12]}-{uuid.uuid4().hex[:8]}"
        try:
            if not self._take_spare(base, staging):
                _link_tree(base_dir, staging)
            for path in changed:
                _remove_with_empty_parents(staging, path)
            present = [p for p in self._git("ls-tree", "-r", "-z", "--name-only", sha, "--", *changed).split("\0")
                       if p] if changed else []
            if present:
                with tempfile.TemporaryFile(dir=target.parent) as archive:
                    self._ensure_repo().archive(archive, sha, path=present, format="tar",
                                                kill_after_timeout=self.timeout)
                    archive.seek(0)
                    _extract(archive, staging)
            os.rename(staging, target)
        except (GitError, OSError, git.GitCommandError) as exc:
            log.info("snapshot_incremental_failed", error=str(exc))
            shutil.rmtree(staging, ignore_errors=True)
            return target.is_dir()
        return True

    def _prepare_spare(self, sha: str, snapshot: Path) -> None:
        """Start copying `snapshot` (hard links) to `.spare-<sha>` in the background (lock held): the
        next commit's snapshot starts from it by a rename, so a push does not wait for one mkdir per
        service directory (~0.3 s at 1000 services). A spare is never written before it is taken."""
        spare = snapshot.parent / f".spare-{sha}"
        if spare.is_dir() or (self._sparer is not None and self._sparer[0] == sha and self._sparer[1].is_alive()):
            return

        def build() -> None:
            partial = snapshot.parent / f".spare-{sha}.tmp-{uuid.uuid4().hex[:8]}"
            try:
                _link_tree(snapshot, partial)
                os.rename(partial, spare)
            except OSError as exc:  # the push then links the copy itself
                log.info("snapshot_spare_failed", error=str(exc))
                shutil.rmtree(partial, ignore_errors=True)

        thread = threading.Thread(target=build, name="snapshot-spare", daemon=True)
        self._sparer = (sha, thread)
        thread.start()

    def _take_spare(self, base: str, staging: Path) -> bool:
        """Move the spare copy of `base` (waiting for it if it is being built) to `staging` (lock held)."""
        if self._sparer is not None and self._sparer[0] == base:
            self._sparer[1].join()
        try:
            os.rename(staging.parent / f".spare-{base}", staging)
        except OSError:
            return False
        return True

    def _prune_snapshots(self, keep: Path) -> None:
        """Drop all but the newest snapshots: renamed away at once (a snapshot disappears whole),
        deleted by a background thread, so that a push does not wait for thousands of unlinks.
        Leftovers of an interrupted deletion (`.trash-*`) are swept on the next prune."""
        root = self.cache_dir / "snapshots"
        snaps = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
        os.utime(keep)
        snaps.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        for old in snaps[self.keep_snapshots:]:
            if old != keep:
                try:
                    os.rename(old, root / f".trash-{old.name[:12]}-{uuid.uuid4().hex[:8]}")
                except OSError:
                    shutil.rmtree(old, ignore_errors=True)
        building = self._sparer is not None and self._sparer[1].is_alive()
        for spare in root.glob(".spare-*"):  # spares of older commits, and copies a dead process left
            if not spare.name.startswith(f".spare-{keep.name}") and (not building or ".tmp-" not in spare.name):
                with contextlib.suppress(OSError):
                    os.rename(spare, root / f".trash-{uuid.uuid4().hex[:12]}")
        trash = [p for p in root.iterdir() if p.name.startswith(".trash-")]
        if trash and (self._pruner is None or not self._pruner.is_alive()):
            self._pruner = threading.Thread(target=_remove_all, args=(trash,), name="snapshot-prune", daemon=True)
            self._pruner.start()

    def wait_background(self, timeout: float | None = None) -> None:
        """Until pruned snapshots are deleted and the spare copy is built (tests; a process that
        exits just leaves them for later)."""
        for thread in (self._pruner, self._sparer[1] if self._sparer else None):
            if thread is not None:
                thread.join(timeout)


def _remove_all(paths: list[Path]) -> None:
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def _link_tree(src: Path, dst: Path) -> None:
    """Copy a snapshot tree as hard links (symlinks as symlinks, never followed); a plain copy
    where the file system refuses links. Twice as fast as shutil.copytree, which stats more."""
    os.mkdir(dst)
    with os.scandir(src) as entries:
        for entry in entries:
            target = dst / entry.name
            if entry.is_symlink():
                os.symlink(os.readlink(entry.path), target)
            elif entry.is_dir():
                _link_tree(Path(entry.path), target)
            else:
                try:
                    os.link(entry.path, target)
                except OSError:
                    shutil.copy2(entry.path, target)


def _remove_with_empty_parents(root: Path, path: str) -> None:
    """Remove `path` under `root` (file, link or directory) and the directories it leaves empty:
    git has no empty directories, and an empty service directory would read as a broken service."""
    target = root / path
    parts = Path(path).parts
    if ".." in parts or any(root.joinpath(*parts[:end]).is_symlink() for end in range(1, len(parts))):
        raise OSError(f"{path!r} lies beyond a symlink")  # never act through a link: export in full
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.is_dir():
        shutil.rmtree(target)
    parent = target.parent
    while parent != root and parent.is_dir() and not parent.is_symlink() and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent


def _extract(archive: Any, staging: Path) -> None:
    """Extract a `git archive` tar into `staging` with tarfile's `data` filter (Python >= 3.11.4).

    A symlink pointing outside the tree is kept as a link, not followed: the manifest loader
    refuses such links with `file: reason` (the same rule `validate` applies to a checkout), so
    one bad link breaks only what reads it. Writing through it stays impossible: the filter
    resolves every later member's real path and refuses any that lands outside `staging`.
    """
    def keep_outside_links(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
        try:
            return tarfile.data_filter(member, dest)
        except (tarfile.AbsoluteLinkError, tarfile.LinkOutsideDestinationError):
            if not member.issym():
                log.warning("snapshot_link_refused", path=member.name)
                return None  # a hard link to an outside file is never materialised
            log.warning("snapshot_symlink_outside", path=member.name)
            return member

    try:
        with tarfile.open(fileobj=archive, mode="r:") as tar:
            tar.extractall(staging, filter=keep_outside_links)
    except (tarfile.TarError, ValueError) as exc:
        raise GitError("archive", f"unreadable export: {exc.__class__.__name__}: {exc}") from None

