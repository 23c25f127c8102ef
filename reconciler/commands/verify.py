"""`reconciler verify`: do the images, parameters, secrets, files and roles each service names exist?"""
from __future__ import annotations

import argparse
import json

from reconciler.commands._common import add_output_arg, add_repo_args, aws_reader_or_fail, fail, start
from reconciler.verify import Verification


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="check that what each service references exists in AWS",
                       description="For each service: its ECR images (and the digest each tag resolves to), "
                                   "SSM parameters and Secrets Manager secrets (secrets, repositoryCredentials), "
                                   "S3 environment files, and task/execution roles (existence and the "
                                   "ecs-tasks.amazonaws.com trust), with the environment's role. Exit 0: everything found; 1: something "
                                   "missing; 2: error (invalid manifest, AWS unreachable, usage).")
    add_repo_args(p)
    add_output_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reconciler.aws.references import AwsReferenceReader
    from reconciler.verify import Verifier

    desired = start(args)
    reader = aws_reader_or_fail(desired)
    verifier = Verifier(AwsReferenceReader(reader.clients))
    results = []
    for name, env in sorted(desired.environments.items()):
        specs = [s for s in desired.services if s.environment == name]
        results.extend(v for _, v in sorted(verifier.verify(env, specs).items()))
    invalid = sorted(desired.broken_services)
    if args.output == "json":
        print(json.dumps({"ok": all(v.ok for v in results) and not invalid,
                          "services": [v.to_json() for v in results], "invalid": invalid}, indent=2))
    else:
        for v in results:
            _print_text(v)
        for key in invalid:
            print(f"? {key}: not verified: its manifest is invalid (see `reconciler validate`)")
        failed = sum(1 for v in results if not v.ok)
        print(f"verify: {len(results) - failed} ok, {failed} failed" + (f", {len(invalid)} invalid" if invalid else ""))
    if invalid or any(v.error for v in results):
        if args.output != "json" and any(v.error for v in results):
            fail("some checks could not run")
        return 2
    return 0 if all(v.ok for v in results) else 1


def _print_text(v: Verification) -> None:
    if v.error is not None:
        print(f"? {v.key}: checks could not run: {v.error}")
    elif v.ok:
        print(f"✓ {v.key}: ok")
    else:
        print(f"✗ {v.key}:")
        for finding in v.findings:
            print(f"    {finding.where}: {finding}")
    for image, digest in sorted(v.digests.items()):
        print(f"    {image} -> {digest}")
    for note in v.notes:
        print(f"    note: {note}")
