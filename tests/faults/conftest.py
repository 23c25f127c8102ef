"""Every case of the fault matrix also counts secrets: after each test, no configured secret may
appear in any daemon's log, `/status`, `/metrics`, cached git files or process arguments, nor in
a chat payload the test's receiver got (figure: 0).

`daemons` is the matrix's own: it depends on the sandbox, so its daemons are scanned and stopped
while the sandbox still answers (stopped after it, each daemon's shutdown waited out its AWS
timeouts: about 25 s per test)."""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from test_notify_delivery import HMAC_SECRET, HOOK_PATH, TOKEN  # noqa: E402

#: The secrets the matrix configures (chat credentials here; test modules add theirs).
SECRETS = [TOKEN, HMAC_SECRET, HOOK_PATH.rsplit("/", 1)[-1]]


def secret_findings(daemon: object, secrets: list[str]) -> set[tuple[str, str]]:
    """(where, secret prefix) for every secret found in what the daemon wrote or was given."""
    texts = {"log": daemon.log_path.read_text(errors="replace")}  # type: ignore[attr-defined]
    proc = daemon.proc  # type: ignore[attr-defined]
    if proc is not None and proc.poll() is None:
        texts["argv"] = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode(errors="replace")
        for path in ("/status", "/metrics"):
            code, body = daemon.get(path)  # type: ignore[attr-defined]
            assert code == 200, (path, code)
            texts[path] = str(body)
    cache = Path(daemon.env["RECONCILER_CACHE_DIR"])  # type: ignore[attr-defined]
    for path in cache.rglob("*"):
        if path.is_file() and "/objects/" not in str(path) and "/snapshots/" not in str(path):
            texts[str(path.relative_to(cache))] = path.read_text(errors="replace")
    return {(where, s[:6]) for where, text in texts.items() for s in secrets if s and s in text}


def chat_findings(requests: list[Any], secrets: list[str]) -> set[tuple[str, str]]:
    """(where, secret prefix) for every secret in what reached the chat receiver (bodies; the path
    too, except the webhook's own, which is the secret URL itself)."""
    text = "\n".join(r.body.decode(errors="replace") + ("" if r.path.startswith(HOOK_PATH) else r.path)
                     for r in requests)
    return {("chat", s[:6]) for s in secrets if s and s in text}


@pytest.fixture
def daemons(request: pytest.FixtureRequest, sandbox_factory: Callable[..., Any]) -> Iterator[list[Any]]:
    """Collects started DaemonProcesses; at test end: the secret scan, then each one stopped."""
    started: list[Any] = []
    yield started
    try:
        secrets = SECRETS + list(getattr(request.module, "SECRETS", ()))
        found = set().union(*(secret_findings(d, secrets) for d in started)) if started else set()
        receiver = request.node.funcargs.get("receiver")  # type: ignore[attr-defined]
        if receiver is not None:
            found |= chat_findings(receiver.requests, secrets)
    finally:
        for d in started:
            d.stop()
    assert found == set(), found
