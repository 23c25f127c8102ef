"""`reconciler validate PATH`: check a manifest repository, meant for merge-request CI.

Exit 0 valid (warnings allowed), 1 invalid, 2 usage error.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from reconciler.commands._common import has_service
from reconciler.manifests import ManifestError, load_repository
from reconciler.model import DesiredState

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "validate", help="check manifests (schema, AWS shapes, semantics); every error as file:line: path: reason",
        description="Validate a manifest repository without calling AWS. Exit 0 valid, 1 invalid, 2 usage error.")
    parser.add_argument("path", metavar="PATH", help="repository root (holds environments/)")
    parser.add_argument("--env", default=None, help="only this environment")
    parser.add_argument("--service", default=None, help="only services of this name")
    parser.add_argument("--output", choices=("text", "json"), default="text", help="output format (default: text)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        state = load_repository(args.path, env=args.env, service=args.service)
    except ManifestError as exc:
        print(f"reconciler validate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.service and not has_service(state, args.service):
        where = f"environment {args.env!r} of {args.path}" if args.env else args.path
        print(f"reconciler validate: no service {args.service!r} in {where}", file=sys.stderr)
        return EXIT_USAGE
    if args.output == "json":
        print(json.dumps([issue.to_json() for issue in state.issues], indent=2))
    else:
        print(render_text(state))
    return EXIT_INVALID if state.errors else EXIT_VALID


def render_text(state: DesiredState) -> str:
    # Errors exactly as `file:line: json.path: reason` so CI problem matchers can read them.
    lines = [str(issue) if issue.severity == "error" else f"{issue} (warning)" for issue in state.issues]
    warnings = len(state.issues) - len(state.errors)
    verdict = "invalid" if state.errors else "valid"
    summary = (f"{verdict}: {len(state.services)} service(s) ok, {len(state.broken_services)} broken, "
               f"{len(state.errors)} error(s), {warnings} warning(s)")
    return "\n".join([*lines, summary])
