"""Helpers shared by the CLI commands: repo loading, AWS wiring, output choice."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from reconciler.model import DEFAULT_INSTANCE, DesiredState


def instance_name() -> str:
    return os.environ.get("RECONCILER_INSTANCE", DEFAULT_INSTANCE)


def add_repo_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo", default=".", help="path of the manifest repository (default: .)")
    parser.add_argument("--env", dest="env", help="only this environment")
    parser.add_argument("--service", help="only this service")


def add_output_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", choices=("text", "json"), default="text", help="output format")


def use_color(stream: TextIO = sys.stdout) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ


def fail(message: str, code: int = 2) -> int:
    print(f"reconciler: {message}", file=sys.stderr)
    return code


def load_desired(args: argparse.Namespace) -> DesiredState:
    from reconciler.manifests import load_repository

    return load_repository(Path(args.repo), env=args.env, service=args.service)


def load_desired_or_fail(args: argparse.Namespace) -> DesiredState | int:
    """Load the repo named by --repo; on a usage problem print it and return exit code 2."""
    from reconciler.manifests import ManifestError

    if not Path(args.repo).is_dir():
        return fail(f"no such directory: {args.repo}")
    try:
        desired = load_desired(args)
    except ManifestError as exc:
        return fail(str(exc))
    if args.env and args.env not in desired.environments:
        return fail(f"no environment {args.env!r} in {args.repo}")
    return desired


def wanted_services(desired: DesiredState) -> dict[str, list[str]]:
    wanted: dict[str, list[str]] = {name: [] for name in desired.environments}
    for spec in desired.services:
        wanted.setdefault(spec.environment, []).append(spec.name)
    for key in desired.broken_services:
        env, _, name = key.partition("/")
        wanted.setdefault(env, []).append(name)
    return wanted


def aws_reader() -> Any:
    from reconciler.aws.clients import AwsClients, AwsSettings
    from reconciler.aws.live import LiveReader

    return LiveReader(AwsClients(AwsSettings.from_env()), instance_name())
