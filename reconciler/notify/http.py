"""Plain JSON POST over urllib (Teams Workflows, generic webhooks): no extra dependency."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from reconciler.notify.errors import DeliveryError, from_network, from_status

USER_AGENT = "ecs-gitops-reconciler-notify/1"


def encode(payload: Any) -> bytes:
    """Canonical JSON bytes: what is signed is exactly what is sent."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")


def post(url: str, body: bytes, *, headers: Mapping[str, str] | None = None, timeout: float = 10.0) -> str:
    """POST `body`; return the response text, or raise a DeliveryError without the URL in it."""
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT, **(headers or {}),
    })
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - URL is configured by the operator
            return resp.read(65536).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        detail = exc.read(500).decode("utf-8", "replace") if exc.fp else ""
        error = from_status(exc.code, dict(exc.headers.items()) if exc.headers else None, detail)
        raise error or DeliveryError(f"HTTP {exc.code}", retryable=False) from None
    except (urllib.error.URLError, OSError) as exc:  # refused, DNS, timeout
        raise from_network(exc) from None
    except ValueError as exc:  # malformed URL: its text would echo the URL, so drop it
        raise DeliveryError(f"invalid URL ({type(exc).__name__})", retryable=False) from None
