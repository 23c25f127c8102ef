"""structlog setup shared by every command: key/value events, JSON in the daemon.

Secrets (git tokens, webhook URLs, signing secrets) are registered with
`register_secret` and scrubbed from every rendered log line, whatever field
they hide in.
"""
from __future__ import annotations

import logging
import re
import sys
import threading
from typing import Any

import structlog

_secrets: set[str] = set()
_lock = threading.Lock()
# Credentials embedded in URLs (https://user:token@host) and Slack webhook paths.
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s:]+:[^/@\s]+@")
_SLACK_HOOK = re.compile(r"https://hooks\.slack\.com/[A-Za-z0-9/_-]+")
REDACTED = "***"


def register_secret(value: str | None) -> None:
    """Make `value` unprintable in logs from now on (values under 4 characters are ignored)."""
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """Scrub registered secrets and URL credentials from a string."""
    if not text:
        return text
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    text = _URL_CREDENTIALS.sub(lambda m: m.group("scheme") + REDACTED + "@", text)
    return _SLACK_HOOK.sub("https://hooks.slack.com/" + REDACTED, text)


def _redact_processor(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    return {k: (redact(v) if isinstance(v, str) else _redact_nested(v)) for k, v in event_dict.items()}


def _redact_nested(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_nested(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_redact_nested(v) for v in value)
    return value


def configure(*, json: bool = False, level: str = "info", stream: Any = None) -> None:
    """Configure structlog; `json=True` gives one JSON object per line (the daemon)."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _redact_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name) if name else structlog.get_logger()
