"""Reading one manifest file into data + line map, turning failures into Issues."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from reconciler.manifests.issues import FileIssues
from reconciler.manifests.paths import escapes_root
from reconciler.manifests.yamlsource import ParseFailure, parse_text
from reconciler.model import Issue

#: Our choice: far above any real manifest (AWS caps a task definition at 64 KiB), far below what
#: would stall the loop or exhaust a small task's memory.
MAX_FILE_BYTES = 1024 * 1024


def read_document(path: Path, display: str, root: Path | None = None) -> tuple[Any, FileIssues]:
    """Parse `path` (YAML, or JSON by suffix); data is None when unusable.

    The returned sink carries the line map, so later checks can locate paths. With `root`,
    a file that is a symlink resolving outside it is refused, never read.
    """
    sink = FileIssues(display)
    if root is not None and escapes_root(root, path):
        sink.error((), "symlink points outside the repository; not read")
        return None, sink
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            line = raw[:MAX_FILE_BYTES].count(b"\n") + 1
            sink.issues.append(_at_line(display, line, f"file is larger than {MAX_FILE_BYTES // 1024} KiB "
                                                       "(the limit for one manifest); not parsed"))
            return None, sink
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        sink.error((), f"cannot read file: {exc.__class__.__name__}: {exc}")
        return None, sink
    try:
        parsed = parse_text(text, is_json=path.suffix.lower() == ".json")
    except ParseFailure as failure:
        sink.issues.append(_at_line(display, failure.line, failure.reason))
        return None, sink
    sink.parsed = parsed
    for dup_path, _line in parsed.duplicates:
        sink.error(dup_path, "duplicate key (the later value would silently win)")
    return parsed.data, sink


def expect_mapping(data: Any, sink: FileIssues, what: str) -> dict[str, Any] | None:
    if data is None and not sink.issues:
        sink.error((), f"file is empty; expected {what}")
        return None
    if data is not None and not isinstance(data, dict):
        sink.error((), f"expected {what} (a mapping), got {type(data).__name__}")
        return None
    return data


def _at_line(file: str, line: int | None, reason: str) -> Issue:
    return Issue(file, line, "", reason)


__all__ = ["expect_mapping", "read_document"]
