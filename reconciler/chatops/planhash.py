"""The identity of a plan: what an approval is bound to. Pure.

Two plans hash the same when they change the same services the same way (action, and for
every differing field its path, git's value and AWS's value). An approval given for one
hash lets only that plan through: if git or AWS moves, the hash moves and the approval
no longer applies.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

from reconciler.plan import ServicePlan

IMAGE_PATH = "taskDefinition/containerDefinitions/"


def plan_hash(services: Iterable[ServicePlan]) -> str:
    doc = sorted(([sp.key, sp.action, sorted(([c.path, c.kind, c.desired, c.live] for c in sp.drift.changes),
                                             key=lambda c: str(c[0]))] for sp in services), key=lambda s: str(s[0]))
    raw = json.dumps(doc, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class ImageChange:
    container: str
    old: str | None
    new: str | None


def image_changes(sp: ServicePlan) -> list[ImageChange]:
    """Images old → new of one planned service (a created service: every image is new)."""
    out = []
    for c in sp.drift.changes:
        if c.path.startswith(IMAGE_PATH) and c.path.endswith("/image"):
            container = c.path[len(IMAGE_PATH):-len("/image")]
            out.append(ImageChange(container, c.live if isinstance(c.live, str) else None,
                                   c.desired if isinstance(c.desired, str) else None))
    if not out and sp.action == "create" and sp.spec is not None:
        for cd in sp.spec.task_definition.get("containerDefinitions") or []:
            out.append(ImageChange(str(cd.get("name")), None, str(cd.get("image"))))
    return out


def other_fields(sp: ServicePlan) -> list[str]:
    """The changed fields that are not images."""
    return [c.path for c in sp.drift.changes if not (c.path.startswith(IMAGE_PATH) and c.path.endswith("/image"))]
