"""`reconciler approve|reject|request`: chat commands for people without Slack, through the daemon's API.

POST /api/v1/commands with `Authorization: Bearer <token>` (RECONCILER_API_TOKEN, or the file in
RECONCILER_API_TOKEN_FILE); the daemon runs the command exactly as it runs `/reconciler …` from
Slack, records it in the audit trail as `api:<user>`, and answers with what happened.
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import urllib.error
import urllib.request
from pathlib import Path

from reconciler.commands._common import duration_arg, fail


def register(sub: argparse._SubParsersAction) -> None:
    for verb, what in (("approve", "approve the pending change of an environment (the daemon's approval gate)"),
                       ("reject", "reject the pending change of an environment")):
        p = sub.add_parser(verb, help=what, description=f"{what[0].upper()}{what[1:]}, through the daemon's HTTP "
                           "API. Exit 0: done; 1: refused or nothing to do; 2: daemon unreachable or no token.")
        p.add_argument("env", help="environment")
        p.add_argument("commit", nargs="?", help="commit sha (prefix) the request must be for")
        _api_args(p)
        p.set_defaults(func=run, text=lambda a, verb=verb: " ".join(x for x in (verb, a.env, a.commit) if x))
    r = sub.add_parser("request", help="send any chat command to the daemon (`reconciler request sync staging`)",
                       description="Runs one `/reconciler` command (status, sync, deploy, promote, rollback, "
                                   "pause, resume, history …) on the daemon through its HTTP API.")
    r.add_argument("words", nargs="+", help="the command, e.g. `deploy staging web 1.5.0`")
    _api_args(r)
    r.set_defaults(func=run, text=lambda a: " ".join(a.words))


def _api_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", default=os.environ.get("RECONCILER_STATUS_URL", "http://127.0.0.1:8080"),
                   help="daemon base URL (default: $RECONCILER_STATUS_URL or http://127.0.0.1:8080)")
    p.add_argument("--timeout", type=duration_arg("--timeout"), default=120.0,
                   help="HTTP timeout, e.g. 120 or 2m (deploys push to git)")


def _token() -> str | None:
    if os.environ.get("RECONCILER_API_TOKEN"):
        return os.environ["RECONCILER_API_TOKEN"].strip()
    path = os.environ.get("RECONCILER_API_TOKEN_FILE")
    return Path(path).read_text(encoding="utf-8").strip() if path else None


def run(args: argparse.Namespace) -> int:
    token = _token()
    if not token:
        fail("set RECONCILER_API_TOKEN (or RECONCILER_API_TOKEN_FILE) to the daemon's API token")
    body = json.dumps({"text": args.text(args), "user": getpass.getuser()}).encode()
    req = urllib.request.Request(args.url.rstrip("/") + "/api/v1/commands", data=body, method="POST",
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=args.timeout) as resp:  # noqa: S310 - operator URL
            doc = json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            doc = json.loads(exc.read() or b"{}")
        except ValueError:
            doc = {}
        if exc.code in (401, 404):
            fail(f"{args.url} refused: {doc.get('error') or exc.reason} "
                 "(is RECONCILER_API_TOKEN set on the daemon too?)")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        fail(f"cannot reach {args.url}: {getattr(exc, 'reason', None) or exc}")
    print(doc.get("text") or doc.get("error") or json.dumps(doc))
    return 0 if doc.get("ok") else 1
