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
# Credentials embedded in URLs (https://user:token@host, and https://token@host: for http(s)
# the user part alone is a token as often as a name) and Slack webhook paths.
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s:]+:[^/@\s]+@"
                              r"|(?P<http>https?://)[^/@\s:]+@")
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
    text = _URL_CREDENTIALS.sub(lambda m: (m.group("scheme") or m.group("http")) + REDACTED + "@", text)
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
    _route_stdlib_logging(level)


class StructlogHandler(logging.Handler):
    """Sends stdlib `logging` records (botocore, urllib3, GitPython, http.server) through structlog,
    so they get the same format and the same secret redaction as our own events."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed %-format must not lose the record
            message = str(record.msg)
        log = structlog.get_logger(record.name)
        method = getattr(log, record.levelname.lower(), log.warning)
        method("stdlib_log", logger=record.name, message=message,
               **({"exc_info": record.exc_info} if record.exc_info else {}))


def _route_stdlib_logging(level: str) -> None:
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, StructlogHandler)]:
        root.removeHandler(handler)
    root.addHandler(StructlogHandler())
    # Libraries log at INFO/DEBUG freely (botocore's credential lookups, urllib3's retries):
    # only their warnings and errors are ours to see, unless the daemon runs at debug.
    root.setLevel(logging.DEBUG if level.lower() == "debug" else logging.WARNING)
    logging.captureWarnings(False)  # re-install: something (pytest) may have restored showwarning
    logging.captureWarnings(True)


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name) if name else structlog.get_logger()
