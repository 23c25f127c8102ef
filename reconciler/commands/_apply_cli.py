"""Helpers shared by `sync` and `rollback`: --timeout, the repo's commit, wiring the Applier."""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from typing import Any

from reconciler.commands._common import duration_arg


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1 (a revision, a parallelism)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def repo_commit(path: str) -> str | None:
    """HEAD of the manifest checkout, when it is a git repository (read-only)."""
    try:
        out = subprocess.run(["git", "-C", path, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", sha) else None


def add_deploy_args(p: argparse.ArgumentParser, what: str) -> None:
    """--wait/--no-wait, --timeout and the hidden --poll-interval, shared by `sync` and `rollback`."""
    p.add_argument("--wait", action=argparse.BooleanOptionalAction, default=True,
                   help=f"wait for {what} to finish (default: wait)")
    p.add_argument("--timeout", type=duration_arg("--timeout"), default="30m",
                   help="deadline per service, e.g. 90s, 30m, 1h30m (default 30m)")
    p.add_argument("--poll-interval", type=duration_arg("--poll-interval"), default=None, help=argparse.SUPPRESS)


def poll_interval_default() -> float:
    """RECONCILER_APPLY_POLL_INTERVAL, the daemon's setting of the same meaning (deployment status checks).

    RECONCILER_POLL_INTERVAL is the daemon's git poll; before it meant this here too, so say it is ignored.
    """
    from reconciler.daemon.config import setting_value

    if "RECONCILER_POLL_INTERVAL" in os.environ and "RECONCILER_APPLY_POLL_INTERVAL" not in os.environ:
        warn("reconciler: RECONCILER_POLL_INTERVAL is the daemon's git poll and is ignored here; "
             "set RECONCILER_APPLY_POLL_INTERVAL for deployment status checks")
    return float(setting_value("apply_poll_interval"))


def print_progress(key: str, line: str) -> None:
    print(f"  {key}: {line}", flush=True)


def make_applier(reader: Any, sink: Any, *, max_parallel: int, poll_interval: float, quiet: bool) -> Any:
    from reconciler.apply import build_applier
    from reconciler.aws.references import make_verifier
    from reconciler.commands._common import instance_name

    return build_applier(reader.clients, reader, instance_name(), sink, max_parallel=max_parallel,
                         poll_interval=poll_interval, on_progress=None if quiet else print_progress,
                         verifier=make_verifier(reader.clients, cached=False))


def warn(message: str) -> None:
    print(message, file=sys.stderr)


def prepare(args: Any, *, require_service: bool = True) -> tuple[Any, float]:
    """Shared start of `sync` and `rollback`: logging, --timeout, loading the repo.

    Returns (desired state, timeout seconds); raises UsageError when the input is unusable.
    """
    from reconciler.commands._common import fail, start
    from reconciler.daemon.config import ConfigError, setting_value

    timeout = float(args.timeout)  # parsed by argparse (duration_arg)
    try:
        setting_value("apply_poll_interval")  # checked before anything runs; read again by the applier's wiring
    except ConfigError as exc:
        fail(str(exc))
    return start(args, require_service=require_service), timeout
