"""`reconciler rollback`: put a service back on an earlier task definition revision.

Git still declares the newer revision afterwards, so the service is tagged
`ecs-reconciler:paused-at-commit=<sha>`: the daemon pauses automated sync for it
until git changes (a manual `reconciler sync` deploys git's revision again and
clears the tag).
"""
from __future__ import annotations

import argparse
import json

from reconciler.commands._apply_cli import (
    add_deploy_args,
    make_applier,
    poll_interval_default,
    positive_int,
    prepare,
    repo_commit,
)
from reconciler.commands._common import add_output_arg, add_repo_args, aws_reader_or_fail, one_service


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rollback", help="roll a service back to the previous (or a named) task definition revision",
                       description="Point the service back at the previous (or --to) ACTIVE revision. Git still declares "
                                   "the newer one, so the daemon pauses automated sync of this service until "
                                   "git changes. Exit 0: rolled back (or already there); 1: the rollback "
                                   "failed; 2: usage error.")
    add_repo_args(p, one_service=True)
    p.add_argument("--to", dest="to_revision", type=positive_int, metavar="REVISION",
                   help="revision number of the service's family (default: the previous ACTIVE one)")
    p.add_argument("--deregister", action="store_true", help="deregister the revision rolled back from")
    add_deploy_args(p, "the deployment")
    add_output_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reconciler.apply import PAUSED_TAG
    from reconciler.events import ListSink

    desired, timeout = prepare(args, require_service=False)
    env, spec = one_service(desired, args)
    sha = desired.commit or repo_commit(args.repo)
    reader = aws_reader_or_fail(desired)
    applier = make_applier(reader, ListSink(), max_parallel=1,
                           poll_interval=args.poll_interval or poll_interval_default(), quiet=args.output == "json")
    result = applier.rollback(env, args.service, to_revision=args.to_revision, deregister=args.deregister,
                              spec=spec, commit=sha, wait=args.wait, timeout=timeout)
    paused = result.status in ("succeeded", "in_progress")
    if args.output == "json":
        print(json.dumps({**result.to_json(), "pausedAtCommit": (sha or "unknown") if paused else None}, indent=2))
    else:
        target = (result.task_definition_arn or "").rsplit("/", 1)[-1]
        print(f"{result.key}: rollback {result.status}" + (f" to {target}" if target else "")
              + (f" - {result.message}" if result.message else ""))
        for reason in result.stopped_reasons:
            print(f"    stopped: {reason}")
        if paused:
            declared = f" ({spec.family}, images {', '.join(c.get('image', '?') for c in spec.task_definition.get('containerDefinitions', []))})" if spec else ""
            print(f"note: git still declares the newer revision{declared}.")
            print(f"note: the daemon pauses automated sync of {result.key} until git changes "
                  f"(tag {PAUSED_TAG}={sha or 'unknown'}); revert or fix the commit in git, "
                  f"or run `reconciler sync` to deploy git's revision again.")
    return 0 if result.status in ("succeeded", "in_progress", "noop") else 1
