"""`reconciler` command line: one sub-command per module in reconciler.commands.

Each command module exposes `register(subparsers)` which adds its parser and sets
`func=run`, with `run(args) -> int` returning the exit code; a command that cannot
run as asked raises `UsageError`, which becomes `reconciler: <message>` on stderr
and exit 2 here, in one place. Keeping commands in
their own modules lets each layer own its CLI without touching this file.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

COMMANDS = (
    "validate",
    "schema",
    "diff_taskdef",
    "plan",
    "verify",
    "sync",
    "rollback",
    "resume",
    "import_cmd",
    "run",
    "status",
    "sandbox",
    "promote",
    "history",
    "approve",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reconciler",
        description="GitOps reconciler for AWS ECS: make ECS match what git declares.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"reconciler.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"reconciler.commands.{name}":
                continue  # command not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from reconciler.commands._common import UsageError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)  # option types may raise UsageError too (durations)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"reconciler: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Output piped into `head` and the reader left: not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
