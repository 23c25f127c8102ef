"""`reconciler history`: the audit trail (chat and API requests, approvals, their outcomes)."""
from __future__ import annotations

import argparse
import json
import os

from reconciler.commands._common import add_output_arg, fail, instance_name


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("history", help="who asked for what, where and when, and what came of it",
                       description="Reads the audit trail from the daemon's DynamoDB state table "
                                   "(newest first). Exit 0; 2: no table or AWS unreachable.")
    p.add_argument("--env", help="only this environment")
    p.add_argument("--service", help="only this service")
    p.add_argument("--limit", type=int, default=50, help="at most this many records (default 50)")
    p.add_argument("--table", default=os.environ.get("RECONCILER_STATE_TABLE"),
                   help="state table (default: $RECONCILER_STATE_TABLE)")
    p.add_argument("--region", default=os.environ.get("RECONCILER_STATE_REGION"),
                   help="its region (default: $RECONCILER_STATE_REGION or the SDK's)")
    add_output_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reconciler.aws.audit import DynamoAuditLog
    from reconciler.aws.clients import AwsClients, AwsSettings
    from reconciler.aws.errors import AwsError
    from reconciler.aws.state_table import StateTable
    from reconciler.chatops.audit import render_text

    if not args.table:
        fail("no state table: pass --table or set RECONCILER_STATE_TABLE")
    table = StateTable(AwsClients(AwsSettings.from_env()), args.table, region=args.region)
    try:
        records = DynamoAuditLog(table, instance_name()).history(args.env, args.service, args.limit)
    except AwsError as exc:
        fail(f"cannot read the audit trail from {args.table}: {exc}")
    if args.output == "json":
        print(json.dumps([r.to_json() for r in records], indent=2))
    else:
        print(render_text(records) if records else "no records")
    return 0
