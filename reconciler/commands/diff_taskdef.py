"""`reconciler diff-taskdef DESIRED LIVE`: compare a task definition file with a describe output.

Users run it by hand (and we use it to prove the normalizer on real data), so
every failure names the file and the reason, never a traceback. DESIRED goes
through the same checks as `reconciler validate` (one `file:line: path: reason`
line each): an invalid field is an error, never shown as drift.
Exit codes: 0 equal, 1 different, 2 error.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler import manifests
from reconciler.diff import diff_task_definitions, render_json, render_text
from reconciler.manifests.yamlsource import ParseFailure, parse_text

_PLACEHOLDER = re.compile(r"\{\{.*?\}\}")


class InputError(Exception):
    """A file that cannot be used as a task definition; the message says why."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "diff-taskdef",
        help="compare a task definition file with a describe-task-definition output",
        description="Compare a task definition file (RegisterTaskDefinition input or a describe "
                    "output, JSON or YAML) with `aws ecs describe-task-definition` output. "
                    "Exit 0 equal, 1 different, 2 error.")
    parser.add_argument("desired", help="task definition from git (JSON or YAML)")
    parser.add_argument("live", help="describe-task-definition output (whole response or its taskDefinition)")
    parser.add_argument("--output", choices=("text", "json"), default="text", help="output format (default: text)")
    parser.add_argument("--ignore", action="append", default=[], metavar="PATTERN",
                        help="path pattern to skip, e.g. 'taskDefinition/containerDefinitions/*/image' (repeatable)")
    parser.set_defaults(func=run)


def _parse(path: str, text: str) -> Any:
    """One parser for every manifest file: the manifest loader's (safe YAML, JSON by suffix or shape)."""
    is_json = path.endswith(".json") or text.lstrip().startswith(("{", "["))
    try:
        return parse_text(text, is_json=is_json).data
    except ParseFailure as failure:
        where = f" at line {failure.line}" if failure.line else ""
        detail = failure.reason.split(": ", 1)[-1]  # drop parse_text's own "cannot parse X" prefix
        raise InputError(f"invalid {'JSON' if is_json else 'YAML'}{where}: {detail}") from None


def load_task_definition(path: str) -> Mapping[str, Any]:
    """Read a task definition file; raise InputError with a one-line reason."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read file: {getattr(exc, 'strerror', None) or exc}") from None
    for number, line in enumerate(text.splitlines(), start=1):
        match = _PLACEHOLDER.search(line)
        if match:
            raise InputError(f"unresolved template placeholder {match.group(0)} at line {number}")
    data = _parse(path, text)
    if not isinstance(data, Mapping):
        raise InputError("not a task definition: expected an object at the top level")
    body = data.get("taskDefinition", data)
    if not isinstance(body, Mapping):
        raise InputError("not a task definition: `taskDefinition` is not an object")
    containers = body.get("containerDefinitions")
    if not isinstance(containers, list) or not containers or not all(
            isinstance(c, Mapping) and c.get("name") for c in containers):
        raise InputError("not a task definition: `containerDefinitions` must be a non-empty list of named containers")
    if not isinstance(body.get("family"), str):
        raise InputError("not a task definition: `family` is missing")
    return data


def _has_tags(document: Mapping[str, Any]) -> bool:
    body = document.get("taskDefinition")
    return "tags" in document or (isinstance(body, Mapping) and "tags" in body)


def registrable_problems(path: str) -> list[str]:
    """`file:line: path: reason` for every rule `reconciler validate` applies to a task definition
    file on its own: a DESIRED file AWS would refuse to register is an error, not drift."""
    checked = manifests.load_task_definition(path, display=path)
    return [str(issue) for issue in checked.issues if issue.severity == "error"]


def run(args: argparse.Namespace) -> int:
    loaded = []
    for path in (args.desired, args.live):
        try:
            loaded.append(load_task_definition(path))
        except InputError as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            return 2
    problems = registrable_problems(args.desired)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    desired, live = loaded
    ignore = list(args.ignore)
    if not _has_tags(live):
        # Tags come back only with `--include TAGS` ([bc-ecs] DescribeTaskDefinitionRequest.include):
        # without them AWS's tags are unknown, not empty.
        print(f"{args.live}: no tags in this describe output (run it with --include TAGS); tags not compared",
              file=sys.stderr)
        ignore.append("taskDefinition/tags")
    drift = diff_task_definitions(desired, live, ignore=ignore)
    if args.output == "json":
        print(json.dumps(render_json(drift), indent=2, ensure_ascii=False, default=str))
    elif drift.in_sync:
        print("No differences.")
    else:
        print(render_text(drift, color=sys.stdout.isatty()))
    return 0 if drift.in_sync else 1
