"""Loaded manifests per commit: a snapshot of one commit never changes, so parse it once.

Loading (line-tracking YAML, schema and rule checks for every service) was over
half of a no-op cycle's CPU; the drift scan re-ran it every time although git
had not moved. Only the newest few commits are kept (memory stays bounded).
A failed load is cached too (the same commit fails the same way, and re-parsing
a hostile file every cycle is exactly the stall it must not cause), except an
OSError: a snapshot being written or a full disk is worth another try.

With `view` and `changes`, a new commit is loaded incrementally: git names the paths
that differ from the newest commit loaded before it, and only those units are read
again (`RepositoryScan.rescan`); a full load stays the fallback (first load, no
usable previous scan, git cannot tell, or anything unexpected while rescanning).
"""
from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from pathlib import Path

from reconciler.log import get_logger
from reconciler.manifests import RepositoryScan, scan_repository
from reconciler.model import DesiredState

log = get_logger(__name__)

View = Callable[[RepositoryScan], DesiredState]
Changes = Callable[[str, str], "list[str] | None"]


class DesiredCache:
    """`load(sha, root)` returns the cached DesiredState of `sha` or loads (and keeps) it."""

    def __init__(self, loader: Callable[[Path], DesiredState], keep: int = 2, *,
                 view: View | None = None, changes: Changes | None = None) -> None:
        if keep < 1:
            raise ValueError("keep must be at least 1")
        self._loader, self._keep = loader, keep
        self._view, self._changes = view, changes
        self._entries: collections.OrderedDict[str, DesiredState | Exception] = collections.OrderedDict()
        self._scans: dict[str, RepositoryScan] = {}
        self._newest: str | None = None  # the commit loaded last (the base of the next incremental load)
        self._lock = threading.Lock()
        self.hits = self.misses = self.incremental = 0

    def get(self, sha: str) -> DesiredState | None:
        """The cached state of `sha` when it loaded fine, else None (never loads)."""
        with self._lock:
            cached = self._entries.get(sha)
        return cached if isinstance(cached, DesiredState) else None

    def load(self, sha: str, root: Path) -> DesiredState:
        with self._lock:
            cached = self._entries.get(sha)
            if cached is not None:
                self._entries.move_to_end(sha)
                self.hits += 1
                if isinstance(cached, Exception):
                    raise cached
                return cached
            base = self._newest
            base_scan = self._scans.get(base) if base is not None else None
        scan: RepositoryScan | None = None
        try:
            if self._view is None:
                desired: DesiredState | Exception = self._loader(root)
            else:
                scan = self._scan(sha, root, base, base_scan)
                desired = self._view(scan)
        except OSError:
            raise
        except Exception as exc:  # noqa: BLE001 - kept and raised again for this commit
            desired, scan = exc, None
        with self._lock:
            self.misses += 1
            self._entries[sha] = desired
            self._entries.move_to_end(sha)
            self._newest = sha
            if scan is not None:
                self._scans[sha] = scan
            while len(self._entries) > self._keep:
                old, _ = self._entries.popitem(last=False)
                self._scans.pop(old, None)
        if isinstance(desired, Exception):
            raise desired
        return desired

    def _scan(self, sha: str, root: Path, base: str | None, base_scan: RepositoryScan | None) -> RepositoryScan:
        """`sha`'s scan: from `base_scan` and the paths git says changed, else in full."""
        if base is None or base_scan is None or self._changes is None:
            return scan_repository(root)
        changed = self._changes(base, sha)
        if changed is None:
            return scan_repository(root)
        try:
            scan = base_scan.rescan(root, changed)
        except OSError:
            raise
        except Exception as exc:  # noqa: BLE001 - any doubt: the full load is the reference
            log.warning("incremental_load_failed", error=f"{exc.__class__.__name__}: {exc}")
            return scan_repository(root)
        self.incremental += 1
        log.info("manifests_loaded_incrementally", base=base[:12], changed=len(changed))
        return scan

    def __len__(self) -> int:
        return len(self._entries)
