"""`reconciler promote` and `reconciler deploy`: the chat write commands for people without Slack.

Both work on a local checkout of the manifest repository: they change only the image
strings in the task definition files, print the diff, and with `--push` commit it (with a
`Requested-by:` trailer naming the git user) and push it, rebasing on a moved branch,
never forcing. The daemon then applies the commit like any other.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reconciler.commands._common import add_repo_args, fail

LOCAL_CHECKOUT = "local checkout of the manifest repository"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("promote", help="copy one environment's images into another's task definitions (a git change)",
                       description="Copies the image references (tag or digest) of FROM's services into TO's task "
                                   "definitions, container by container, in the local checkout, and prints the diff. "
                                   "Exit 0: changed (or pushed); 1: nothing to promote; 2: error.")
    p.add_argument("--repo", default=".", help=f"{LOCAL_CHECKOUT} (default: .)")
    p.add_argument("--from", dest="source", required=True, help="environment to copy images from")
    p.add_argument("--to", dest="target", required=True, help="environment to write")
    p.add_argument("--service", action="append", default=[], help="only this service (repeatable)")
    _common_write_args(p)
    p.set_defaults(func=run_promote)
    d = sub.add_parser("deploy", help="point a service at another image tag (a git change)",
                       description="Changes the image tag (or sha256 digest) of one container in the local checkout "
                                   "and prints the diff. Exit 0: changed (or pushed); 1: already there; 2: error.")
    add_repo_args(d, one_service=True, repo_help=LOCAL_CHECKOUT)
    d.add_argument("--tag", required=True, help="image tag, or sha256:<digest>")
    d.add_argument("--container", help="container to change (default: the one named like the service, or the only one)")
    _common_write_args(d)
    d.set_defaults(func=run_deploy)


def _common_write_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dry-run", action="store_true", help="print the diff, write nothing")
    p.add_argument("--push", action="store_true", help="commit the change and push it to the checkout's upstream")


def run_promote(args: argparse.Namespace) -> int:
    from reconciler.chatops.gitedit import promote_edits

    return _run(args, lambda desired: promote_edits(desired, args.source, args.target, args.service),
                f"promote {args.source} → {args.target}" + (f" ({', '.join(args.service)})" if args.service else ""))


def run_deploy(args: argparse.Namespace) -> int:
    from reconciler.chatops.gitedit import deploy_edit

    return _run(args, lambda desired: deploy_edit(desired, args.env, args.service, args.tag, args.container),
                f"deploy {args.env}/{args.service} {args.tag}")


def _run(args: argparse.Namespace, plan_edits, title: str) -> int:  # type: ignore[no-untyped-def]
    from reconciler.chatops.gitedit import apply_edit, unified_diff
    from reconciler.chatops.imageedit import EditError
    from reconciler.manifests import ManifestError, load_repository

    root = Path(args.repo)
    if not root.is_dir():
        fail(f"no such directory: {args.repo}")
    try:
        plan = plan_edits(load_repository(root))
    except (EditError, ManifestError) as exc:
        fail(str(exc))
    for note in plan.skipped:
        print(f"skipped {note}", file=sys.stderr)
    if not plan.edits:
        print("nothing to change", file=sys.stderr)
        return 1
    changed = []
    for edit in plan.edits:
        text = (root / edit.path).read_text(encoding="utf-8")
        if args.dry_run:
            from reconciler.chatops.imageedit import set_images

            after = set_images(text, edit.images, edit.path)
        else:
            text, after = apply_edit(root, edit)
        sys.stdout.write(unified_diff(edit.path, text, after))
        changed.append(edit.path)
    if not args.push or args.dry_run:
        return 0
    return _push(root, changed, title, plan.summary())


def _push(root: Path, files: list[str], title: str, lines: list[str]) -> int:
    import git

    from reconciler.chatops.gitedit import commit_message

    try:
        repo = git.Repo(root, search_parent_directories=True)
        user = repo.config_reader().get_value("user", "name", "") or "unknown"
        top = Path(repo.working_tree_dir or root)
        paths = [str((root / f).resolve().relative_to(top.resolve())) for f in files]
        repo.index.add(paths)
        commit = repo.index.commit(commit_message(title, lines, f"{user} (reconciler CLI)"))
        branch = repo.active_branch
        for _ in range(3):
            try:
                repo.git.push("origin", f"HEAD:refs/heads/{branch.name}")
                print(f"pushed {commit.hexsha[:8]} to origin/{branch.name}", file=sys.stderr)
                return 0
            except git.GitCommandError as exc:
                if "[rejected]" not in str(exc.stderr):
                    raise
                repo.git.pull("--rebase", "origin", branch.name)  # someone pushed first: go on top, never force
        fail("the branch kept moving; pull and try again")
    except (git.GitCommandError, git.InvalidGitRepositoryError, TypeError, ValueError) as exc:
        fail(f"git: {getattr(exc, 'stderr', None) or exc}".strip())
