"""Secrets never reach the log, whoever logs: our events, stdlib `logging` (botocore, urllib3,
GitPython), warnings, and URLs with a token as their user part."""
from __future__ import annotations

import io
import json
import logging
import warnings

import pytest

from reconciler.log import configure, get_logger, redact, register_secret

SECRET = "ghp_StdlibLeakCheck0042"


@pytest.fixture()
def stream():
    buf = io.StringIO()
    configure(json=True, stream=buf)
    yield buf
    configure()


def lines(buf: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buf.getvalue().splitlines() if line.strip()]


def test_user_only_token_in_a_url_is_redacted() -> None:
    assert redact("cloning https://ghp_abcDEF123@github.com/o/r.git") == "cloning https://***@github.com/o/r.git"
    assert redact("https://oauth2:glpat-x1y2z3@gitlab.example/r.git") == "https://***@gitlab.example/r.git"
    assert redact("ssh://git@github.com/o/r.git") == "ssh://git@github.com/o/r.git"  # a user name, not a token


def test_stdlib_logging_goes_through_json_and_the_redactor(stream: io.StringIO) -> None:
    register_secret(SECRET)
    logging.getLogger("botocore.credentials").warning("refreshing with %s", SECRET)
    logging.getLogger("urllib3.connectionpool").info("noise below warning is dropped")
    try:
        raise ValueError(f"git said {SECRET}")
    except ValueError:
        logging.getLogger("git.cmd").exception("command failed")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn(f"deprecated, token={SECRET}", DeprecationWarning, stacklevel=1)
    events = lines(stream)
    assert SECRET not in stream.getvalue()
    assert [e["logger"] for e in events] == ["botocore.credentials", "git.cmd", "py.warnings"]
    assert events[0]["message"] == "refreshing with ***" and events[0]["level"] == "warning"
    assert "ValueError: git said ***" in events[1]["exception"]


def test_http_server_errors_are_one_redacted_line(stream: io.StringIO) -> None:
    from reconciler.daemon.http import _Server

    register_secret(SECRET)
    try:
        raise BrokenPipeError(f"peer {SECRET} went away")
    except BrokenPipeError:
        _Server.handle_error(None, None, ("127.0.0.1", 1))  # type: ignore[arg-type]
    events = lines(stream)
    assert events[-1]["event"] == "http_request_failed" and "***" in events[-1]["error"]
    assert SECRET not in stream.getvalue()
    get_logger("x").info("still json")
    assert lines(stream)[-1]["event"] == "still json"
