"""Verify that a request really comes from Slack, once, from the right workspace.

Slack signs every slash command and interaction: `X-Slack-Signature = v0=HMAC_SHA256(secret,
"v0:{X-Slack-Request-Timestamp}:{raw body}")`; requests whose timestamp is more than five
minutes away are refused (chat-and-git-triggers.md §5, Slack "Verifying requests from
Slack"). slack_sdk's SignatureVerifier does the HMAC and the window; this adds the replay
guard (a captured request replayed within the window is handled once) and the team check.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.signature import Clock, SignatureVerifier

WINDOW_SECONDS = 5 * 60


@dataclass(frozen=True)
class Verdict:
    ok: bool
    status: int = 200        # HTTP status to answer when not ok
    reason: str = ""
    form: Mapping[str, str] | None = None  # the parsed form body when ok


class _FixedClock(Clock):
    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


def parse_form(body: bytes) -> dict[str, str]:
    """Slack posts application/x-www-form-urlencoded; one value per key."""
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}


def team_of(form: Mapping[str, str]) -> str | None:
    """The workspace of a slash command (`team_id`) or an interaction (`payload.team.id`)."""
    if form.get("team_id"):
        return form["team_id"]
    try:
        payload: Any = json.loads(form.get("payload") or "{}")
    except ValueError:
        return None
    team = payload.get("team") if isinstance(payload, dict) else None
    return str(team.get("id")) if isinstance(team, dict) and team.get("id") else None


class RequestVerifier:
    """Signature, freshness, single use and workspace of one Slack request. Thread-safe."""

    def __init__(self, signing_secret: str, *, team_id: str | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._verifier = SignatureVerifier(signing_secret, clock=_FixedClock(clock))
        self._team_id = team_id
        self._clock = clock
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def precheck(self, headers: Mapping[str, str]) -> Verdict:
        """What can be refused from the headers alone: missing signature, stale timestamp."""
        lower = {k.lower(): v for k, v in headers.items()}
        timestamp = lower.get("x-slack-request-timestamp", "")
        if not timestamp.isdigit() or not lower.get("x-slack-signature", ""):
            return Verdict(False, 401, "missing or malformed Slack signature headers")
        if abs(self._clock() - int(timestamp)) > WINDOW_SECONDS:
            return Verdict(False, 401, "request timestamp is more than five minutes away")
        return Verdict(True)

    def verify(self, headers: Mapping[str, str], body: bytes) -> Verdict:
        early = self.precheck(headers)
        if not early.ok:
            return early
        lower = {k.lower(): v for k, v in headers.items()}
        timestamp = lower["x-slack-request-timestamp"]
        signature = lower["x-slack-signature"]
        if not self._verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
            return Verdict(False, 401, "bad Slack signature")
        if not self._first_use(signature):
            return Verdict(False, 409, "request already handled (replay)")
        form = parse_form(body)
        if self._team_id and team_of(form) != self._team_id:
            return Verdict(False, 403, "request from another Slack workspace")
        return Verdict(True, form=form)

    def _first_use(self, signature: str) -> bool:
        now = self._clock()
        with self._lock:
            # A signature older than the window can no longer pass the timestamp check: forget it.
            self._seen = {s: t for s, t in self._seen.items() if now - t <= 2 * WINDOW_SECONDS}
            if signature in self._seen:
                return False
            self._seen[signature] = now
            return True


def sign(secret: str, timestamp: int | str, body: bytes) -> dict[str, str]:
    """The headers Slack would send (for the local Slack stand-in and tests)."""
    sig = SignatureVerifier(secret).generate_signature(timestamp=str(timestamp), body=body)
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": str(sig),
            "Content-Type": "application/x-www-form-urlencoded"}
