"""Whether the running apply may still act: read by the waits in its worker threads.

The apply sets `should_continue` in a context that its workers run in (each in a
copy), so a wait deep inside a controller can ask without the callback being
passed through every call. When it turns false (SIGTERM, leadership lost) the
waits stop following and leave the deployment running in AWS, so shutdown never
waits on a long deployment.
"""
from __future__ import annotations

import contextvars
from collections.abc import Callable

_should_continue: contextvars.ContextVar[Callable[[], bool]] = contextvars.ContextVar(
    "apply_should_continue", default=lambda: True)


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
