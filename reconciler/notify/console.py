"""Plain-text rendering for the console (`reconciler sync` output, daemon stdout)."""
from __future__ import annotations

from reconciler.events import ReportEvent
from reconciler.notify import content
from reconciler.notify.content import PLAIN


def render_console(event: ReportEvent) -> str:
    lines = [content.subject(event)]
    lines += [f"  {label}: {val}" for label, val in content.context_facts(event, PLAIN)]
    if content.is_summary(event):
        lines += [f"  {line}" for line in content.intro_lines(event, PLAIN)]
        lines.append(f"  {content.status_counts(event)}")
        for s in event.services:
            lines.append(f"  - {content.service_heading(s, PLAIN)}")
            lines += [f"      {line}" for line in content.service_lines(event.kind, s, PLAIN)]
    else:
        lines += [f"  {line}" for line in content.body_lines(event, PLAIN)]
    return "\n".join(lines)
