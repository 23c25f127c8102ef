"""Checks on strings that point somewhere: diff paths, file references, templates."""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from reconciler.manifests.yamlsource import JsonPath

DIFF_ROOTS = ("taskDefinition", "service")
_PLACEHOLDER = re.compile(r"\{\{.*?\}\}|\{\{")


def diff_path_problem(path: str, known_fields: dict[str, frozenset[str]]) -> str | None:
    """Why an ignoreDifferences path is malformed, or None.

    Paths look like `taskDefinition/containerDefinitions/web/image` or
    `service/desiredCount`: "/"-separated segments, `*` matching one segment.
    """
    segments = path.split("/")
    if segments[0] not in DIFF_ROOTS:
        return f"diff path {path!r} must start with 'taskDefinition/' or 'service/'"
    if len(segments) < 2:
        return f"diff path {path!r} names no field"
    for segment in segments:
        if not segment:
            return f"diff path {path!r} has an empty segment"
        if segment != segment.strip():
            return f"diff path {path!r} has a segment with surrounding spaces"
        if "**" in segment:
            return f"diff path {path!r}: '**' is not supported; use '*' per segment"
    field = segments[1]
    if "*" not in field and field not in known_fields[segments[0]]:
        return f"diff path {path!r}: {field!r} is not a {segments[0]} field"
    return None


def reference_problem(root: Path, base: Path, reference: str) -> str | None:
    """Why a file reference escapes the repository, or None.

    Rejects absolute paths, `..` segments and symlinks resolving outside `root`:
    manifests come from a merge request and must not read the reconciler's disk.
    """
    if not reference or os.path.isabs(reference) or reference.startswith("~"):
        return f"file reference {reference!r} must be a relative path inside the repository"
    if ".." in Path(reference).parts:
        return f"file reference {reference!r} must not contain '..'"
    target = (base / reference).resolve()
    if not target.is_relative_to(root.resolve()):
        return f"file reference {reference!r} resolves outside the repository (symlink?)"
    return None


def escapes_root(root: Path, path: Path) -> bool:
    """True when `path` (possibly a symlink) resolves outside `root`."""
    return not path.resolve().is_relative_to(root.resolve())


def placeholders(value: Any, path: JsonPath = ()) -> Iterator[tuple[JsonPath, str]]:
    """Every string holding an unresolved `{{ ... }}` template placeholder."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from placeholders(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from placeholders(item, (*path, index))
    elif isinstance(value, str):
        match = _PLACEHOLDER.search(value)
        if match:
            yield path, match.group(0)
