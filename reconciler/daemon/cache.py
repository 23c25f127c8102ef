"""Loaded manifests per commit: a snapshot of one commit never changes, so parse it once.

Loading (line-tracking YAML, schema and rule checks for every service) was over
half of a no-op cycle's CPU; the drift scan re-ran it every time although git
had not moved. Only the newest few commits are kept (memory stays bounded).
A failed load is cached too (the same commit fails the same way, and re-parsing
a hostile file every cycle is exactly the stall it must not cause), except an
OSError: a snapshot being written or a full disk is worth another try.
"""
from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from pathlib import Path

from reconciler.model import DesiredState


class DesiredCache:
    """`load(sha, root)` returns the cached DesiredState of `sha` or loads (and keeps) it."""

    def __init__(self, loader: Callable[[Path], DesiredState], keep: int = 2) -> None:
        if keep < 1:
            raise ValueError("keep must be at least 1")
        self._loader, self._keep = loader, keep
        self._entries: collections.OrderedDict[str, DesiredState | Exception] = collections.OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def load(self, sha: str, root: Path) -> DesiredState:
        with self._lock:
            cached = self._entries.get(sha)
            if cached is not None:
                self._entries.move_to_end(sha)
                self.hits += 1
                if isinstance(cached, Exception):
                    raise cached
                return cached
        try:
            desired: DesiredState | Exception = self._loader(root)
        except OSError:
            raise
        except Exception as exc:  # noqa: BLE001 - kept and raised again for this commit
            desired = exc
        with self._lock:
            self.misses += 1
            self._entries[sha] = desired
            self._entries.move_to_end(sha)
            while len(self._entries) > self._keep:
                self._entries.popitem(last=False)
        if isinstance(desired, Exception):
            raise desired
        return desired

    def __len__(self) -> int:
        return len(self._entries)
