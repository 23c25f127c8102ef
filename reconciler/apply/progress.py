"""Progress lines of a deployment: to the log, and to an optional callback (the CLI prints them)."""
from __future__ import annotations

from collections.abc import Callable

from reconciler.log import get_logger

log = get_logger(__name__)

ProgressCallback = Callable[[str, str], None]  # (service key, line)
MilestoneCallback = Callable[[str, bool], None]  # (line, awaiting an answer): a step reached, a pause, a rollback


class Progress:
    """Emits a line only when it differs from the previous one of the same kind (counts, traffic, status)."""

    def __init__(self, key: str, callback: ProgressCallback | None = None,
                 on_milestone: MilestoneCallback | None = None) -> None:
        self.key = key
        self.callback = callback
        self.on_milestone = on_milestone
        self._last: dict[str, str] = {}
        self._milestone = ""

    def __call__(self, line: str, kind: str = "") -> None:
        if self._last.get(kind) == line:
            return
        self._last[kind] = line
        log.info("deploy_progress", service=self.key, progress=line)
        if self.callback is not None:
            self.callback(self.key, line)

    def milestone(self, key: str, line: str, *, awaiting: bool = False) -> None:
        """A change worth one chat reply (a traffic step, a pause); `key` identifies it, so polls
        that see the same step report nothing."""
        if key == self._milestone:
            return
        self._milestone = key
        log.info("deploy_milestone", service=self.key, progress=line)
        if self.on_milestone is not None:
            self.on_milestone(line, awaiting)
