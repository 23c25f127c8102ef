"""What a `deploy` or `promote` changes in the manifest repository. Pure (reads and renders text).

`deploy ENV SERVICE TAG` points the service's container at TAG; `promote FROM TO` copies
the image references (tag or digest) of FROM's services into TO's task definitions,
container by container (same service name, same container name). Both return edits;
the caller writes them and commits (reconciler.source.writer, or the local CLI).
"""
from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.chatops.imageedit import EditError, images, set_images, with_tag
from reconciler.model import DesiredState, ServiceSpec


@dataclass(frozen=True)
class FileEdit:
    """New images for the containers of one task definition file (relative to the manifest root)."""

    path: str
    service: str                      # "env/service"
    images: Mapping[str, str]         # container -> new image
    old: Mapping[str, str] = field(default_factory=dict)  # container -> image before


@dataclass(frozen=True)
class EditPlan:
    edits: tuple[FileEdit, ...]
    skipped: tuple[str, ...] = ()     # "env/service: why" for services left alone

    def summary(self) -> list[str]:
        return [f"{e.service} {c}: {e.old.get(c, '?')} → {img}" for e in self.edits for c, img in e.images.items()]


def _spec(desired: DesiredState, env: str, service: str) -> ServiceSpec:
    for spec in desired.services:
        if spec.environment == env and spec.name == service:
            return spec
    if f"{env}/{service}" in desired.broken_services:
        raise EditError(f"{env}/{service}: its manifests are invalid at the current commit; fix them first")
    if env not in desired.environments:
        raise EditError(f"no environment {env!r} in git")
    raise EditError(f"no service {service!r} in environment {env}")


def _containers(spec: ServiceSpec) -> dict[str, str]:
    return {str(c.get("name")): str(c.get("image")) for c in spec.task_definition.get("containerDefinitions") or []}


def deploy_edit(desired: DesiredState, env: str, service: str, tag: str, container: str | None = None) -> EditPlan:
    """Point one container of env/service at `tag`: the named one, the one named like the service,
    or the only one (our choice: a multi-container service needs the container named)."""
    spec = _spec(desired, env, service)
    containers = _containers(spec)
    if container is None:
        if service in containers:
            container = service
        elif len(containers) == 1:
            container = next(iter(containers))
        else:
            raise EditError(f"{env}/{service} has containers {', '.join(sorted(containers))}; "
                            "none is named like the service, so say which one to deploy")
    if container not in containers:
        raise EditError(f"{env}/{service} has no container {container!r}")
    new = with_tag(containers[container], tag)
    if new == containers[container]:
        return EditPlan((), (f"{env}/{service}: {container} already runs {new} in git",))
    return EditPlan((FileEdit(spec.taskdef_file, spec.key, {container: new}, {container: containers[container]}),))


def promote_edits(desired: DesiredState, source: str, target: str, services: Iterable[str] = (),
                  eligible: Callable[[str], str | None] = lambda key: None) -> EditPlan:
    """Copy `source`'s images into `target`. `eligible(key)` returns why a source service may not be
    promoted (e.g. not Synced and Healthy), or None."""
    for env in (source, target):
        if env not in desired.environments:
            raise EditError(f"no environment {env!r} in git")
    wanted = set(services)
    targets = [s for s in desired.services if s.environment == target and (not wanted or s.name in wanted)]
    unknown = sorted(wanted - {s.name for s in targets})
    if unknown:
        raise EditError(f"no service {', '.join(unknown)} in environment {target}")
    by_name = {s.name: s for s in desired.services if s.environment == source}
    edits, skipped = [], []
    for spec in sorted(targets, key=lambda s: s.name):
        src = by_name.get(spec.name)
        if src is None:
            skipped.append(f"{spec.key}: not in {source}")
            continue
        why = eligible(src.key)
        if why:
            skipped.append(f"{spec.key}: {src.key} {why}")
            continue
        have, give = _containers(spec), _containers(src)
        new = {c: give[c] for c in have if c in give and give[c] != have[c]}
        if new:
            edits.append(FileEdit(spec.taskdef_file, spec.key, new, {c: have[c] for c in new}))
    return EditPlan(tuple(edits), tuple(skipped))


def apply_edit(root: Path, edit: FileEdit) -> tuple[str, str]:
    """Write one edit under `root`; returns (before, after) text."""
    path = root / edit.path
    before = path.read_text(encoding="utf-8")
    current = {r.container: r.image for r in images(before, edit.path)}
    changed = {c: img for c, img in edit.images.items() if current.get(c) != img}
    after = set_images(before, changed, edit.path) if changed else before
    if after != before:
        path.write_text(after, encoding="utf-8")
    return before, after


def unified_diff(path: str, before: str, after: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        f"a/{path}", f"b/{path}"))


def commit_message(title: str, lines: Iterable[str], requested_by: str | None) -> str:
    """One commit message format for chat and CLI: title, what changed, `Requested-by:` trailer."""
    body = "\n".join(f"- {line}" for line in lines)
    msg = title + ("\n\n" + body if body else "")
    if requested_by:
        msg += f"\n\nRequested-by: {requested_by}"
    return msg + "\n"
