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

from reconciler.commands._common import add_output_arg, add_repo_args, aws_reader_or_fail, fail, one_service, start


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("continue", help="continue (or roll back) a deployment paused at a PAUSE hook or CodeDeploy wait",
                       description="Answer the deployment of one service that waits for a human: an ECS PAUSE "
                                   "lifecycle hook (ContinueServiceDeployment) or a CodeDeploy deployment waiting "
                                   "for traffic reroute (ContinueDeployment). Exit 0: answered; 1: nothing was "
                                   "waiting; 2: usage error.")
    add_repo_args(p, one_service=True)
    p.add_argument("--rollback", action="store_true", help="roll the deployment back instead of continuing it")
    add_output_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reconciler.apply.answer import Answerer
    from reconciler.aws.codedeploy import CodeDeploy
    from reconciler.aws.errors import AwsError
    from reconciler.aws.service_deployments import ServiceDeployments

    desired = start(args, require_service=False)
    env, spec = one_service(desired, args)
    reader = aws_reader_or_fail(desired)
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
