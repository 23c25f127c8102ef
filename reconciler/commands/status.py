"""`reconciler status`: what a running daemon reports at GET /status, as a table or JSON."""
from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.request
from typing import Any

from reconciler.commands._common import duration_arg, fail
from reconciler.daemon.status import service_note


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="show sync status and health per service from a running daemon",
                       description="Reads GET /status of a running `reconciler run`. Exit 0: all Synced and "
                                   "Healthy; 1: something is OutOfSync, Unknown or unhealthy; 2: daemon unreachable.")
    p.add_argument("--url", default=os.environ.get("RECONCILER_STATUS_URL", "http://127.0.0.1:8080"),
                   help="daemon base URL (default: $RECONCILER_STATUS_URL or http://127.0.0.1:8080)")
    p.add_argument("--output", choices=("text", "json"), default="text", help="output format")
    p.add_argument("--timeout", type=duration_arg("--timeout"), default=5.0, help="HTTP timeout, e.g. 5 or 5s (default 5s)")
    p.set_defaults(func=run)


def fetch_status(url: str, timeout: float = 5.0) -> dict[str, Any]:
    with urllib.request.urlopen(url.rstrip("/") + "/status", timeout=timeout) as resp:  # noqa: S310 - operator URL
        return json.loads(resp.read())


def render_text(doc: dict[str, Any]) -> str:
    commit = doc.get("commit") or {}
    lines = [f"commit   {str(commit.get('sha') or '-')[:8]}  {commit.get('title') or ''}".rstrip(),
             f"role     {'leader' if doc.get('leader') else 'standby'}    cycles {doc.get('cycles', 0)}"
             f"    last success {doc.get('lastSuccessfulCycleAt') or '-'}"]
    for key, reason in sorted((doc.get("degraded") or {}).items()):
        lines.append(f"DEGRADED {key}: {reason}")
    for issue in doc.get("manifestIssues") or []:
        lines.append(f"INVALID  {issue}")
    rows = [("SERVICE", "SYNC", "HEALTH", "APPLIED", "DEPLOYING / LAST ERROR / REASON")]
    for key, svc in (doc.get("services") or {}).items():
        note = service_note(svc)
        rows.append((key, svc.get("sync", ""), svc.get("health", ""),
                     str(svc.get("lastAppliedCommit") or "-")[:8], note))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines.append("")
    lines += ["  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4] for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def run(args: argparse.Namespace) -> int:
    try:
        doc = fetch_status(args.url, args.timeout)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc  # URLError wraps the socket error
        fail(f"cannot read {args.url.rstrip('/')}/status: {reason} "
             "(is `reconciler run` serving there? set --url or RECONCILER_STATUS_URL)")
    print(json.dumps(doc, indent=2) if args.output == "json" else render_text(doc))
    services = (doc.get("services") or {}).values()
    healthy = all(s.get("sync") == "Synced" and s.get("health") == "Healthy" for s in services)
    return 0 if healthy and not doc.get("degraded") else 1
