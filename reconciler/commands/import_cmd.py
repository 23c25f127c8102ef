"""`reconciler import`: write the manifests of services that already run, ready to adopt.

Reads the environment's cluster (reconciler.aws only), writes
environments/<env>/<service>/service.yaml and taskdef.json, then validates what it
wrote. Exit 0 all imported; 1 some service not imported (files exist, unsupported,
invalid result); 2 usage or AWS error. Nothing is written when any target exists
and --force is not given.
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from reconciler.commands._common import aws_reader_or_fail, fail


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="write service.yaml and taskdef.json of services already running in AWS",
                       description="Read the live services of an environment's cluster and write their manifests "
                                   "(AWS defaults and server-only fields left out, gitops.adopt: true), so that "
                                   "`plan` shows them in sync. Exit 0: imported; 1: some service not imported; "
                                   "2: usage or AWS error.")
    p.add_argument("--repo", default=".", help="manifest repository holding environments/<env>/environment.yaml "
                                               "(default: .)")
    p.add_argument("--env", required=True, help="environment to import into")
    p.add_argument("--service", nargs="+", action="extend", default=[], metavar="S",
                   help="only these services (default: every service of the cluster)")
    p.add_argument("--out", default=None, help="repository to write into (default: --repo)")
    p.add_argument("--force", action="store_true", help="overwrite existing service.yaml / taskdef files")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reconciler.aws.codedeploy import CodeDeploy
    from reconciler.aws.errors import AwsError
    from reconciler.commands._import_build import NotImportable, import_files
    from reconciler.log import configure
    from reconciler.manifests import ManifestError, load_repository
    from reconciler.manifests.repository import ENV_FILES, ENVIRONMENTS_DIR, SERVICE_FILES, TASKDEF_FILES

    configure(level="warning")
    repo = Path(args.repo)
    out = Path(args.out) if args.out else repo
    try:
        desired = load_repository(repo, env=args.env)
    except ManifestError as exc:
        fail(str(exc))
    env = desired.environments.get(args.env)
    if env is None:
        problems = "; ".join(str(i) for i in desired.errors if Path(i.file).name in ENV_FILES)
        fail(f"environment {args.env!r} is not usable: {problems or 'environment.yaml invalid'}")
    reader = aws_reader_or_fail(desired)
    try:
        names = sorted(set(args.service)) or sorted(reader.list_service_names(env))
    except AwsError as exc:
        fail(f"cannot list the services of cluster {env.cluster!r}: {exc}")
    live = reader.read_environment(env, names, list_owned=False)
    if live.error:
        fail(f"cannot read cluster {env.cluster!r}: {live.error}")
    missing = [n for n in names if n not in live.services]
    if missing:
        fail(f"no service {', '.join(map(repr, missing))} in cluster {env.cluster!r}")

    code_deploy = CodeDeploy(reader.clients)
    files, skipped = [], []
    for name in names:
        service = live.services[name]
        try:
            group = code_deploy.deployment_group_for(env, name) if service.controller == "CODE_DEPLOY" else None
            files.append(import_files(service, group))
        except (NotImportable, AwsError) as exc:
            skipped.append(f"{args.env}/{name}: not imported: {exc}")
    env_dir = out / ENVIRONMENTS_DIR / args.env
    existing = [str(env_dir / f.name / n) for f in files for n in (*SERVICE_FILES, *TASKDEF_FILES)
                if (env_dir / f.name / n).exists()]
    if existing and not args.force:
        for path in existing:
            print(f"reconciler: {path}: exists; not overwritten (use --force)")
        print(f"import: nothing written ({len(existing)} file(s) exist)")
        return 1
    if out.resolve() != repo.resolve() and env.source is not None:
        env_dir.mkdir(parents=True, exist_ok=True)
        if not any((env_dir / n).exists() for n in ENV_FILES):
            shutil.copyfile(repo / env.source.file, env_dir / Path(env.source.file).name)
    for f in files:
        target = env_dir / f.name
        target.mkdir(parents=True, exist_ok=True)
        for stale in (*SERVICE_FILES, *TASKDEF_FILES):
            (target / stale).unlink(missing_ok=True)  # --force: one service file, one taskdef file
        (target / "service.yaml").write_text(f.service_yaml)
        (target / "taskdef.json").write_text(f.taskdef_json)
        print(f"imported {args.env}/{f.name} -> {target}")
    for line in skipped:
        print(line)
    return _check_written(out, args.env, [f.name for f in files]) or (1 if skipped else 0)


def _check_written(out: Path, env: str, names: list[str]) -> int:
    """Validate what was written: an imported file that `validate` rejects is a bug worth showing."""
    from reconciler.manifests import load_repository

    state = load_repository(out, env=env)
    errors = [i for i in state.errors if any(f"/{env}/{n}/" in f"/{i.file}" for n in names)]
    for issue in errors:
        print(f"reconciler: {issue}")
    if errors:
        print(f"import: {len(errors)} error(s) in the written files")
    return 1 if errors else 0
