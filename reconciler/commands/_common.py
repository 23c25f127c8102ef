"""Helpers shared by the CLI commands: repo loading, AWS wiring, output choice."""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TextIO

from reconciler.durations import DurationError, parse_duration
from reconciler.model import DEFAULT_INSTANCE, DesiredState, Environment, ServiceSpec


def instance_name() -> str:
    return os.environ.get("RECONCILER_INSTANCE", DEFAULT_INSTANCE)


def add_repo_args(parser: argparse.ArgumentParser, *, one_service: bool = False,
                  repo_help: str = "path of the manifest repository") -> None:
    """--repo, --env, --service: filters, or (`one_service`) the one service a command acts on."""
    parser.add_argument("--repo", default=".", help=f"{repo_help} (default: .)")
    if one_service:
        parser.add_argument("--env", required=True, help="environment")
        parser.add_argument("--service", required=True, help="service")
    else:
        parser.add_argument("--env", dest="env", help="only this environment")
        parser.add_argument("--service", help="only this service")


def add_output_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", choices=("text", "json"), default="text", help="output format")


def use_color(stream: TextIO = sys.stdout) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ


class UsageError(Exception):
    """The command cannot run as asked (bad argument, unreadable repo, AWS unreachable...).

    Raised anywhere in a command; `reconciler.cli.main` prints `reconciler: <message>` on stderr
    and exits with `code` (2), so commands return only their own exit codes.
    """

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = 2) -> NoReturn:
    """Stop the command with a usage error (exit 2)."""
    raise UsageError(message, code)


def duration_arg(option: str) -> Callable[[str], float]:
    """argparse type of a duration option: reconciler.durations, its one error text as a usage error.

    Raised as UsageError (not argparse's own error) so it reads like every other one:
    `reconciler: --timeout: not a duration: ...`, exit 2.
    """
    def parse(text: str) -> float:
        try:
            return parse_duration(text)
        except DurationError as exc:
            raise UsageError(f"{option}: {exc}") from None

    parse.option = option  # type: ignore[attr-defined]  # read by the test that finds every duration option
    return parse


def load_desired(args: argparse.Namespace) -> DesiredState:
    from reconciler.manifests import load_repository

    return load_repository(Path(args.repo), env=args.env, service=args.service)


def load_desired_or_fail(args: argparse.Namespace, *, require_service: bool = True) -> DesiredState:
    """Load the repo named by --repo; raise UsageError on a usage problem.

    `require_service=False` lets `rollback` name a service that is no longer in git.
    """
    from reconciler.manifests import ManifestError

    if not Path(args.repo).is_dir():
        fail(f"no such directory: {args.repo}")
    try:
        desired = load_desired(args)
    except ManifestError as exc:
        fail(str(exc))
    if args.env and args.env not in desired.environments:
        fail(f"no environment {args.env!r} in {args.repo}")
    if require_service and args.service and not has_service(desired, args.service):
        fail(f"no service {args.service!r} in {args.repo}" + (f" (environment {args.env})" if args.env else ""))
    return desired


def start(args: argparse.Namespace, *, require_service: bool = True) -> DesiredState:
    """The start every command that reads the repository shares: quiet logging, then the repo."""
    from reconciler.log import configure

    configure(level="warning")
    return load_desired_or_fail(args, require_service=require_service)


def one_service(desired: DesiredState, args: argparse.Namespace) -> tuple[Environment, ServiceSpec | None]:
    """--env (which git must declare) and --service's spec, None when git no longer declares it."""
    env = desired.environments.get(args.env)
    if env is None:
        fail(f"environment {args.env!r} is not declared in {args.repo}")
    spec = next((s for s in desired.services if s.environment == args.env and s.name == args.service), None)
    return env, spec


def has_service(desired: DesiredState, name: str) -> bool:
    """True when git declares `name` in a loaded environment, valid or broken."""
    return any(s.name == name for s in desired.services) or any(
        key.partition("/")[2] == name for key in desired.broken_services)


def aws_reader_or_fail(desired: DesiredState) -> Any:
    """A LiveReader; UsageError (exit 2) when AWS cannot be reached or no credentials are found.

    The daemon's clients retry up to RECONCILER_AWS_MAX_ATTEMPTS times with backoff, so a
    wrong AWS_ENDPOINT_URL or a missing network would cost minutes per environment; one
    STS GetCallerIdentity with a single retry first makes a command line fail in seconds.
    """
    from dataclasses import replace

    from reconciler.aws.clients import AwsClients, AwsSettings
    from reconciler.aws.errors import AwsAccessDenied, AwsError, AwsUnreachable
    from reconciler.aws.live import LiveReader

    settings = AwsSettings.from_env()
    region = next((e.region for e in desired.environments.values()), None)
    probe = AwsClients(replace(settings, retry_mode="standard", max_attempts=2, connect_timeout=3.0))
    try:
        probe.client("sts", region=region).get_caller_identity()
    except AwsUnreachable as exc:
        endpoint = os.environ.get("AWS_ENDPOINT_URL") or f"AWS ({region or 'default region'})"
        fail(f"cannot reach {endpoint}: {exc.args[0]} (check AWS_ENDPOINT_URL and the network)")
    except AwsAccessDenied as exc:
        fail(f"AWS credentials missing or rejected: {exc.args[0]} "
                    "(set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")
    except AwsError as exc:
        fail(f"AWS check failed: {exc}")
    return LiveReader(AwsClients(settings), instance_name())
