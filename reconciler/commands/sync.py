"""`reconciler sync`: load, validate, read live, plan, apply; wait and report.

Exit 0: everything succeeded or was already in sync; 1: a service failed, was
rolled back, or is held by a sync window; 2: usage error or invalid input (broken manifests are reported
and the healthy services are still applied).
"""
from __future__ import annotations

import argparse
import json
import time
from typing import Any

from reconciler.commands._apply_cli import (
    add_deploy_args,
    make_applier,
    poll_interval_default,
    positive_int,
    prepare,
    repo_commit,
)
from reconciler.commands._common import (
    add_output_arg,
    add_repo_args,
    aws_reader_or_fail,
    instance_name,
)
from reconciler.commands._windows import gate, record_overrides

_REPORTED = ("unowned", "orphan", "invalid", "unknown")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sync", help="make AWS match git: register, deploy, wait, report",
                       description="Apply the plan: register task definitions only when no ACTIVE revision matches, roll "
                                   "out (ECS rolling or CodeDeploy), wait, roll back on failure, report. "
                                   "Sync windows of environment.yaml hold services unless --override-window (where the window "
                                   "allows manual sync). "
                                   "Exit 0: all succeeded or in sync; 1: a service failed, rolled back or is held; "
                                   "2: usage error or invalid manifests.")
    add_repo_args(p)
    add_output_arg(p)
    p.add_argument("--dry-run", action="store_true", help="show what would be done, change nothing")
    add_deploy_args(p, "deployments")
    p.add_argument("--max-parallel", type=positive_int, default=8, help="services deployed at once (default 8)")
    p.add_argument("--override-window", action="store_true",
                   help="sync services a sync window holds, where the window sets manualSync: true (recorded)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reconciler.aws.live import read_live_state, wanted_services
    from reconciler.events import CommitInfo, ListSink
    from reconciler.plan import build_plan

    desired, timeout = prepare(args)
    text = args.output == "text"
    if text:
        for issue in desired.issues:
            print(f"{issue.severity}: {issue}", flush=True)
    reader = aws_reader_or_fail(desired)
    live = read_live_state(reader, desired.environments, wanted_services(desired), list_owned=not args.service)
    windows = gate(build_plan(desired, live, instance_name()), desired, override=args.override_window,
                   now=time.time())
    plan = windows.plan
    sha = desired.commit or repo_commit(args.repo)
    sink = ListSink()
    applier = make_applier(reader, sink, max_parallel=args.max_parallel,
                           poll_interval=args.poll_interval or poll_interval_default(), quiet=not text)
    if text:
        for sp in plan.services:
            if sp.action in ("update", "create", "prune"):
                print(f"{sp.key}: {sp.action}" + (f" ({sp.reason})" if sp.reason else ""), flush=True)
    result = applier.apply(plan, commit=CommitInfo(sha=sha) if sha else None, wait=args.wait, timeout=timeout,
                           dry_run=args.dry_run, environments=desired.environments)
    if not args.dry_run:
        record_overrides(windows, sha)
    reported = [sp for sp in plan.services if sp.action in _REPORTED]
    if text:
        for key, why in windows.held:
            print(f"{key}: held - {why}")
        for key, why in windows.overridden:
            print(f"{key}: window overridden - {why}")
        _print_text(plan, result, reported, dry_run=args.dry_run)
    else:
        doc = _as_json(plan, result, reported, sink)
        doc["held"] = [{"service": k, "reason": why} for k, why in windows.held]
        doc["windowOverrides"] = [{"service": k, "reason": why} for k, why in windows.overridden]
        print(json.dumps(doc, indent=2, default=str))
    if not result.ok or windows.held:
        return 1
    return 2 if plan.has_errors else 0


def _print_text(plan: Any, result: Any, reported: list[Any], *, dry_run: bool) -> None:
    for sp in reported:
        print(f"{sp.key}: {sp.action} ({sp.reason})")
    for r in result.services:
        detail = [r.message.rstrip(".")] if r.message else []
        if r.deployment_id and r.deployment_id not in (r.message or ""):
            detail.append(f"deployment {r.deployment_id}")
        if r.task_definition_arn and not (dry_run and r.registered):  # a dry run registers nothing
            detail.append(("registered " if r.registered else "revision ") + r.task_definition_arn.rsplit("/", 1)[-1])
        print(f"{r.key}: {r.action} {r.status}" + (f" - {'; '.join(detail)}" if detail else ""))
        for reason in r.stopped_reasons:
            print(f"    stopped: {reason}")
    in_sync = len(plan.by_action("in-sync")) - sum(1 for r in result.services if r.action == "follow")
    counts: dict[str, int] = {}
    for r in result.services:
        counts[r.status] = counts.get(r.status, 0) + 1
    parts = [f"{n} {s}" for s, n in sorted(counts.items())] + ([f"{in_sync} in sync"] if in_sync else [])
    prefix = "dry run" if dry_run else "sync"
    line = f"{prefix}: {', '.join(parts) or 'nothing to do'}"
    if result.failed:
        line += f"; FAILED: {', '.join(result.failed)}"
    print(line)


def _as_json(plan: Any, result: Any, reported: list[Any], sink: Any) -> dict[str, Any]:
    return {
        "commit": plan.commit,
        **result.to_json(),
        "issues": [i.to_json() for i in plan.issues],
        "reported": [{"environment": sp.environment, "service": sp.name, "action": sp.action, "reason": sp.reason}
                     for sp in reported],
        "inSync": [sp.key for sp in plan.by_action("in-sync")],
        "events": [{"kind": e.kind, "services": [s.service for s in e.services]} for e in sink.events],
    }
