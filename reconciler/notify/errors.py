"""Delivery failures, classified once so the notifier's retry loop stays generic."""
from __future__ import annotations

from collections.abc import Mapping


class DeliveryError(Exception):
    """A destination refused or could not be reached.

    The message never contains the URL or token: callers log it as is.
    `retry_after` is the server's `Retry-After` in seconds (HTTP 429).
    """

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


def retry_after(headers: Mapping[str, object] | None) -> float | None:
    """`Retry-After` in seconds (the delta form Slack and Teams send), case-insensitively."""
    for key, raw in (headers or {}).items():
        if key.lower() == "retry-after":
            value = raw[0] if isinstance(raw, (list, tuple)) and raw else raw
            try:
                return max(0.0, float(str(value)))
            except ValueError:
                return None
    return None


def from_status(status: int, headers: Mapping[str, object] | None, detail: str = "") -> DeliveryError | None:
    """None for success; otherwise retryable on 408/429/5xx, final on other 4xx."""
    if 200 <= status < 300:
        return None
    text = f"HTTP {status}" + (f": {detail[:200]}" if detail else "")
    if status == 429:
        return DeliveryError(text, retryable=True, retry_after=retry_after(headers))
    return DeliveryError(text, retryable=status >= 500 or status == 408)


def from_network(exc: BaseException) -> DeliveryError:
    """Connection refused, DNS, timeouts: worth retrying. Only the exception type and
    errno-level reason are kept (urllib's reason never carries the URL)."""
    reason = getattr(exc, "reason", None)
    return DeliveryError(f"{type(exc).__name__}: {reason if reason is not None else 'network error'}",
                         retryable=True)
