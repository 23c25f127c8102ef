"""Commits made by the reconciler itself (chat `deploy` / `promote`): edit, commit, push, never force.

A separate working clone (`<cache>/writer/repo`) with the daemon's own git credentials
(write access needed, docs/daemon.md). Each change starts from the remote head; a push
that loses a race (someone pushed first) is redone on the new head and pushed again,
a few times, and never with --force: a human's commit always wins over ours.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import git

from reconciler.log import get_logger
from reconciler.source.auth import GitAuth
from reconciler.source.git import GitError, GitSource, _stderr

log = get_logger(__name__)

Edit = Callable[[Path], list[str]]  # writes under the manifest root; returns the changed paths (relative)


@dataclass(frozen=True)
class WriteResult:
    sha: str | None          # the pushed commit; None when the edit changed nothing
    files: tuple[str, ...] = ()
    attempts: int = 1


class GitWriter(GitSource):
    def __init__(self, url: str, cache_dir: Path, *, branch: str = "main", auth: GitAuth | None = None,
                 subdir: str = "", timeout: float = 60.0, author_name: str = "ecs-reconciler",
                 author_email: str = "ecs-reconciler@users.noreply.local", attempts: int = 4) -> None:
        super().__init__(url, Path(cache_dir) / "writer", branch=branch, auth=auth, subdir=subdir, shallow=False,
                         timeout=timeout)
        self.author_name, self.author_email, self.attempts = author_name, author_email, attempts

    @property
    def worktree(self) -> Path:
        return self.cache_dir / "repo"

    def change(self, edit: Edit, message: str | Callable[[], str]) -> WriteResult:
        """Apply `edit` on the remote head, commit it as the reconciler and push; retried on a lost race.
        `message` may be a callable, called after the edit (to describe what it changed)."""
        for attempt in range(1, self.attempts + 1):
            head = self.fetch()
            with self._lock:
                self._git("checkout", "-q", "-f", "-B", "reconciler-write", head)
                self._git("clean", "-q", "-fdx")
                root = self.worktree / self.subdir if self.subdir else self.worktree
                files = [str(Path(self.subdir, f).as_posix()) if self.subdir else f for f in edit(root)]
                if not files:
                    return WriteResult(None, (), attempt)
                self._git("add", "--", *files)
                if not self._git("diff", "--cached", "--name-only").strip():
                    return WriteResult(None, (), attempt)
                self._commit(message() if callable(message) else message)
                sha = self._git("rev-parse", "HEAD").strip()
                if self._push():
                    log.info("git_change_pushed", commit=sha[:8], files=files, attempt=attempt)
                    return WriteResult(sha, tuple(files), attempt)
            log.info("git_push_race_lost", attempt=attempt)
        raise GitError("push", f"the branch kept moving; gave up after {self.attempts} attempts (never forced)")

    def _commit(self, message: str) -> None:
        identity = {"GIT_AUTHOR_NAME": self.author_name, "GIT_AUTHOR_EMAIL": self.author_email,
                    "GIT_COMMITTER_NAME": self.author_name, "GIT_COMMITTER_EMAIL": self.author_email}
        repo = self._ensure_repo()
        msg_file = self.cache_dir / "COMMIT_MSG"
        msg_file.write_text(message, encoding="utf-8")
        try:
            repo.git.commit("-q", "--no-verify", "-F", str(msg_file), env={**self._env, **identity},
                            kill_after_timeout=self.timeout)
        except (git.GitCommandError, OSError) as exc:
            raise GitError("commit", _stderr(exc)) from None

    def _push(self) -> bool:
        """True when pushed; False when the remote moved first (rejected as not a fast-forward)."""
        repo = self._ensure_repo()
        try:
            repo.git.push("--porcelain", "origin", f"HEAD:refs/heads/{self.branch}", env=self._env,
                          kill_after_timeout=self.timeout)
            return True
        except git.GitCommandError as exc:
            out = exc.stdout if isinstance(exc.stdout, str) else str(exc.stdout or "")
            # --porcelain: one line per ref, flag "!" and "[rejected]" when the ref was not updated.
            if any(line.startswith("!") and "[rejected]" in line for line in out.replace("'", "").splitlines()
                   if line.strip()) or "[rejected]" in out:
                return False
            raise GitError("push", _stderr(exc)) from None
        except OSError as exc:
            raise GitError("push", str(exc)) from None

