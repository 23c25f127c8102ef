"""`reconciler continue`: answer a deployment waiting for a human.

ECS-native deployments wait at a PAUSE lifecycle hook until ContinueServiceDeployment
(CONTINUE, or ROLLBACK with --rollback); CodeDeploy deployments with a
deploymentReadyOption wait sit at Ready until ContinueDeployment(READY_WAIT)
(--rollback stops them with rollback). The daemon offers the same action as the chat
commands `continue ENV SERVICE` / `abort ENV SERVICE` (Slack, and POST /api/v1/commands).
"""
from __future__ import annotations

import argparse
import json

from reconciler.commands._common import add_output_arg, aws_reader_or_fail, fail, load_desired_or_fail


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("continue", help="continue (or roll back) a deployment paused at a PAUSE hook or CodeDeploy wait",
                       description="Answer the deployment of one service that waits for a human: an ECS PAUSE "
                                   "lifecycle hook (ContinueServiceDeployment) or a CodeDeploy deployment waiting "
                                   "for traffic reroute (ContinueDeployment). Exit 0: answered; 1: nothing was "
                                   "waiting; 2: usage error.")
    p.add_argument("--repo", default=".", help="path of the manifest repository (default: .)")
    p.add_argument("--env", required=True, help="environment")
    p.add_argument("--service", required=True, help="service")
    p.add_argument("--rollback", action="store_true", help="roll the deployment back instead of continuing it")
    add_output_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reconciler.apply.answer import Answerer
    from reconciler.aws.codedeploy import CodeDeploy
    from reconciler.aws.errors import AwsError
    from reconciler.aws.service_deployments import ServiceDeployments
    from reconciler.log import configure

    configure(level="warning")
    desired = load_desired_or_fail(args, require_service=False)
    if isinstance(desired, int):
        return desired
    env = desired.environments.get(args.env)
    if env is None:
        return fail(f"environment {args.env!r} is not declared in {args.repo}")
    spec = next((s for s in desired.services if s.environment == args.env and s.name == args.service), None)
    reader = aws_reader_or_fail(desired)
    if isinstance(reader, int):
        return reader
    answerer = Answerer(ServiceDeployments(reader.clients), CodeDeploy(reader.clients))
    try:
        answer = answerer.answer(env, args.service, spec, rollback=args.rollback)
    except AwsError as exc:
        return fail(f"{args.env}/{args.service}: {exc}", 1)
    if args.output == "json":
        print(json.dumps(answer.to_json(), indent=2))
    else:
        print(f"{args.env}/{args.service}: {answer.message}")
    return 0 if answer.ok else 1
