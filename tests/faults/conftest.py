"""Every case of the fault matrix also counts secrets: after each test, no configured secret may
appear in any daemon's log, its cached git files or its process arguments (figure: 0)."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

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
    cache = Path(daemon.env["RECONCILER_CACHE_DIR"])  # type: ignore[attr-defined]
    for path in cache.rglob("*"):
        if path.is_file() and "/objects/" not in str(path) and "/snapshots/" not in str(path):
            texts[str(path.relative_to(cache))] = path.read_text(errors="replace")
    return {(where, s[:6]) for where, text in texts.items() for s in secrets if s and s in text}


@pytest.fixture(autouse=True)
def no_secret_in_daemon_outputs(request: pytest.FixtureRequest) -> Iterator[None]:
    started = request.getfixturevalue("daemons") if "daemons" in request.fixturenames else []
    yield
    secrets = SECRETS + list(getattr(request.module, "SECRETS", ()))
    found = set().union(*(secret_findings(d, secrets) for d in started)) if started else set()
    assert found == set(), found
