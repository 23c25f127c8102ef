"""Whether the running apply may still act: read by the waits in its worker threads.

The apply sets `should_continue` in a context that its workers run in (each in a
copy), so a wait deep inside a controller can ask without the callback being
passed through every call. When it turns false (SIGTERM, leadership lost) the
waits stop following and leave the deployment running in AWS, so shutdown never
waits on a long deployment.
"""
from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator

_should_continue: contextvars.ContextVar[Callable[[], bool]] = contextvars.ContextVar(
    "apply_should_continue", default=lambda: True)
#: The service (`env/name`) the current worker acts for: a sharded daemon fences each write
#: against the lease of that service's shard (reconciler.daemon.leader.Fence).
_acting_for: contextvars.ContextVar[str | None] = contextvars.ContextVar("apply_acting_for", default=None)


def acting_service() -> str | None:
    return _acting_for.get()


@contextlib.contextmanager
def acting_for(key: str) -> Iterator[None]:
    """Run work (and the AWS writes it makes) on behalf of one service."""
    token = _acting_for.set(key)
    try:
        yield
    finally:
        _acting_for.reset(token)


def keep_waiting() -> bool:
    """The current apply's `should_continue()` (always true outside an apply)."""
    return _should_continue.get()()


def context_with(should_continue: Callable[[], bool]) -> contextvars.Context:
    """A copy of the caller's context in which `keep_waiting()` asks `should_continue`."""
    token = _should_continue.set(should_continue)
    try:
        return contextvars.copy_context()
    finally:
        _should_continue.reset(token)
