"""Collects `Issue`s for one file, turning json paths into `file:line` positions."""
from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.manifests.yamlsource import JsonPath, Parsed, render_path
from reconciler.model import Issue


@dataclass
class FileIssues:
    """Issue sink for one manifest file; `prefix` roots paths of an embedded document."""

    file: str
    parsed: Parsed | None = None
    prefix: JsonPath = ()
    issues: list[Issue] = field(default_factory=list)

    def error(self, path: JsonPath, reason: str) -> None:
        self._add(path, reason, "error")

    def warning(self, path: JsonPath, reason: str) -> None:
        self._add(path, reason, "warning")

    def has_error_at(self, path: JsonPath) -> bool:
        rendered = render_path((*self.prefix, *path))
        return any(i.file == self.file and i.path == rendered and i.severity == "error" for i in self.issues)

    @property
    def has_errors(self) -> bool:
        return any(i.severity == "error" for i in self.issues)

    def _add(self, path: JsonPath, reason: str, severity: str) -> None:
        full = (*self.prefix, *path)
        rendered = render_path(full)
        line = self.parsed.line_of(full) if self.parsed else None
        self.issues.append(Issue(self.file, line, rendered, reason, severity))  # type: ignore[arg-type]

    def child(self, prefix: JsonPath) -> FileIssues:
        """A sink for a sub-document (e.g. the taskDefinition inside a describe output)
        that shares this one's list."""
        return FileIssues(self.file, self.parsed, (*self.prefix, *prefix), self.issues)
