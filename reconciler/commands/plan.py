"""`reconciler plan`: what a sync would do, per service. Read-only."""
from __future__ import annotations

import argparse
import json
import time

from reconciler.commands._common import (
    add_output_arg,
    add_repo_args,
    aws_reader_or_fail,
    instance_name,
    start,
    use_color,
)
from reconciler.commands._windows import windows_json, windows_text


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help="compare git with AWS and show what a sync would change",
                       description="Compare git with AWS, per service: in sync, update (with the field diff), create, owned "
                                   "but gone from git (prune candidate), or same-named but not ours. Read-only. "
                                   "Exit 0: in sync; 1: changes pending; 2: error (invalid manifest, AWS "
                                   "unreadable, usage).")
    add_repo_args(p)
    add_output_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reconciler.aws.live import read_live_state, wanted_services
    from reconciler.plan import build_plan, render_plan_json, render_plan_text

    desired = start(args)
    reader = aws_reader_or_fail(desired)
    live = read_live_state(reader, desired.environments, wanted_services(desired),
                           list_owned=not args.service)
    plan = build_plan(desired, live, instance_name())
    now = time.time()
    if args.output == "json":
        print(json.dumps({**render_plan_json(plan), "syncWindows": windows_json(desired, now)}, indent=2, default=str))
    else:
        print(render_plan_text(plan, color=use_color()))
        for line in windows_text(desired, now):
            print(line)
    if plan.has_errors:
        return 2
    return 1 if plan.changes_pending else 0
