"""What a report says, independent of where it goes.

Every destination shows the same facts (title, commit, author, what changed,
failure reasons); only the markup differs. A `Markup` carries the few
formatting primitives, and the functions here build lines with it, so Slack,
Teams, Chatbot and the console never disagree about content.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reconciler.events import EventKind, ReportEvent, ServiceReport
from reconciler.model import FieldChange
from reconciler.notify import escape

TITLES: dict[str, str] = {
    "sync_started": "Sync started",
    "sync_succeeded": "Synced",
    "sync_failed": "Sync failed",
    "sync_rolled_back": "Rolled back",
    "window_held": "Sync held by a sync window",
    "drift_detected": "Drift detected",
    "drift_resolved": "Drift resolved",
    "manifest_invalid": "Manifest invalid",
    "approval_needed": "Approval needed",
    "reconciler_degraded": "Reconciler degraded",
    "reconciler_recovered": "Reconciler recovered",
    "service_unmanaged": "No longer managed",
}
EMOJI: dict[str, str] = {
    "sync_started": ":arrows_counterclockwise:",
    "sync_succeeded": ":white_check_mark:",
    "sync_failed": ":x:",
    "sync_rolled_back": ":rewind:",
    "window_held": ":no_entry_sign:",
    "drift_detected": ":warning:",
    "drift_resolved": ":large_green_circle:",
    "manifest_invalid": ":no_entry:",
    "approval_needed": ":raised_hand:",
    "reconciler_degraded": ":rotating_light:",
    "reconciler_recovered": ":green_heart:",
    "service_unmanaged": ":wave:",
}
#: good / warning / attention / accent: Adaptive Card colours, also used as a severity.
SEVERITY: dict[str, str] = {
    "sync_started": "accent",
    "sync_succeeded": "good",
    "sync_failed": "attention",
    "sync_rolled_back": "attention",
    "window_held": "warning",
    "drift_detected": "warning",
    "drift_resolved": "good",
    "manifest_invalid": "attention",
    "approval_needed": "warning",
    "reconciler_degraded": "attention",
    "reconciler_recovered": "good",
    "service_unmanaged": "warning",
}
VALUE_LIMIT = 200  # one manifest value shown inline
MAX_ISSUES = 50


@dataclass(frozen=True)
class Markup:
    """Formatting primitives of one chat dialect; `esc` makes untrusted text inert."""

    esc: Callable[[Any], str]
    code: Callable[[Any], str]
    bold: Callable[[str], str]
    link: Callable[[str | None, str], str]


def _md_link(url: str | None, label: str) -> str:
    safe = escape.safe_url(url)
    return f"[{label}]({safe})" if safe else label


SLACK = Markup(escape.slack, escape.slack_code, lambda s: f"*{s}*", escape.slack_link)
TEAMS = Markup(escape.teams, escape.teams, lambda s: f"**{s}**", _md_link)
#: AWS Chatbot "client-markdown": Slack-safe escaping, standard markdown links.
CHATBOT = Markup(escape.slack, escape.slack_code, lambda s: f"*{s}*", _md_link)
PLAIN = Markup(escape.one_line, escape.one_line, lambda s: s,
               lambda url, label: f"{label} ({url})" if url else label)


def title(event: ReportEvent) -> str:
    return TITLES.get(event.kind, event.kind)


def subject(event: ReportEvent) -> str:
    """One-line headline: `[prod] orders — Synced`; unescaped, for plain-text slots."""
    what = title(event)
    names = [s.service for s in event.services]
    if len(names) == 1:
        target = names[0]
    elif names:
        target = f"{len(names)} services"
    else:
        target = ""
    env = f"[{event.environment}] " if event.environment else ""
    return escape.one_line(f"{env}{target} — {what}" if target else f"{env}{what}")


#: extra key of a commit summary: ids (`env/service`) of the services new in this message;
#: the parent sums up all services of the commit, the thread details only these
NEW_SERVICES = "new_services"


def thread_services(event: ReportEvent) -> tuple[ServiceReport, ...]:
    """The services whose details belong in this event's thread."""
    new = event.extra.get(NEW_SERVICES)
    if new is None:
        return event.services
    wanted = set(new)
    return tuple(s for s in event.services if f"{s.environment}/{s.service}" in wanted)


def is_summary(event: ReportEvent) -> bool:
    """Many services: the parent message summarises, details go to the thread."""
    return len(event.services) > 1


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    total = int(round(seconds))
    minutes, secs = divmod(total, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def value(v: Any) -> str:
    """A manifest value as short text (JSON for structures)."""
    if v is None:
        return "(none)"
    text = v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str)
    return escape.truncate(escape.one_line(text), VALUE_LIMIT)


def commit_line(event: ReportEvent, m: Markup) -> str:
    """`abc12345 Fix login — by Jane` with the sha linked to the commit page."""
    c = event.commit
    if c is None:
        return ""
    parts = [m.link(c.url, m.code(c.short))]
    if c.title:
        parts.append(m.esc(escape.truncate(escape.one_line(c.title), 200)))
    if c.author:
        parts.append("by " + m.esc(escape.truncate(escape.one_line(c.author), 100)))
    return " ".join(parts[:2]) + (" — " + parts[2] if len(parts) > 2 else "")


def context_facts(event: ReportEvent, m: Markup) -> list[tuple[str, str]]:
    """(label, value) pairs shown under the headline."""
    facts: list[tuple[str, str]] = []
    if event.environment:
        facts.append(("Environment", m.esc(event.environment)))
    if event.commit:
        facts.append(("Commit", commit_line(event, m)))
    if len(event.services) == 1:
        s = event.services[0]
        facts.append(("Service", m.esc(s.service)))
        if s.deployment_id:
            facts.append(("Deployment", m.code(s.deployment_id)))
        if s.duration_seconds is not None:
            facts.append(("Duration", duration(s.duration_seconds)))
    if event.reason:
        facts.append(("Reason", m.esc(escape.truncate(escape.one_line(event.reason), 500))))
    return facts


def _change_line(c: FieldChange, m: Markup, drift: bool) -> str:
    path = m.code(c.path)
    if c.kind == "added":
        return f"{path}: {'missing in AWS, git has' if drift else 'added'} {m.code(value(c.desired))}"
    if c.kind == "removed":
        return f"{path}: {'only in AWS' if drift else 'removed'} {m.code(value(c.live))}"
    if drift:
        return f"{path}: live {m.code(value(c.live))} → git {m.code(value(c.desired))}"
    return f"{path}: {m.code(value(c.live))} → {m.code(value(c.desired))}"


def service_lines(kind: EventKind, s: ServiceReport, m: Markup) -> list[str]:
    """Bullet lines telling what happened to one service."""
    drift = kind in ("drift_detected", "drift_resolved")
    lines: list[str] = []
    for img in s.images:
        old = m.code(img.old) if img.old else "(new)"
        lines.append(f"image {m.esc(img.container)}: {old} → {m.code(img.new)}")
    for image, digest in s.digests:
        lines.append(f"digest {m.code(image.rsplit('/', 1)[-1])}: {m.code(digest)}")
    image_paths = {f"/{img.container}/image" for img in s.images}
    for c in s.changes:
        if any(c.path.endswith(p) for p in image_paths):
            continue  # already shown as an image change
        lines.append(_change_line(c, m, drift))
    if kind == "drift_detected" and s.action:
        will = "will self-heal (revert AWS to git)" if s.action == "self-heal" else "report only (no change made)"
        lines.append(f"{m.bold('Action')}: {will}")
    if s.stopped_reasons:
        lines.extend(f"stopped: {m.esc(escape.truncate(escape.one_line(r), 300))}" for r in s.stopped_reasons)
    if kind in ("sync_failed", "sync_rolled_back"):
        lines.append("AWS rolled back: " + ("yes" if s.rolled_back else "no"))
    if s.message:
        lines.append(m.esc(escape.truncate(escape.one_line(s.message), 500)))
    return lines


def service_heading(s: ServiceReport, m: Markup) -> str:
    bits = [m.bold(m.esc(s.service))]
    if s.status:
        bits.append(m.esc(s.status.replace("_", " ")))
    if s.deployment_id:
        bits.append(m.code(s.deployment_id))
    if s.duration_seconds is not None:
        bits.append(duration(s.duration_seconds))
    return " · ".join(bits)


def service_summary_line(s: ServiceReport, m: Markup) -> str:
    """One line per service in a summary: name, status, image tags."""
    head = service_heading(s, m)
    imgs = ", ".join(f"{m.code(i.old) if i.old else '(new)'} → {m.code(i.new)}" for i in s.images[:2])
    extra = f" ({len(s.changes)} fields)" if s.changes and not s.images else ""
    return f"• {head}" + (f" — {imgs}" if imgs else "") + extra


def status_counts(event: ReportEvent) -> str:
    counts: dict[str, int] = {}
    for s in event.services:
        key = (s.status or "pending").replace("_", " ")
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))


def issue_lines(event: ReportEvent, m: Markup) -> list[str]:
    lines = [m.code(escape.truncate(i, 500)) for i in event.issues[:MAX_ISSUES]]
    if len(event.issues) > MAX_ISSUES:
        lines.append(escape.more(len(event.issues) - MAX_ISSUES))
    return lines


def intro_lines(event: ReportEvent, m: Markup) -> list[str]:
    """Text that belongs to the event, not to a service (manifest issues, approval)."""
    lines: list[str] = []
    if event.kind == "manifest_invalid":
        at = f" at {m.code(event.commit.short)}" if event.commit else ""
        lines.append(f"The manifests{at} do not validate; the affected services stay at their last good state:")
        lines.extend(issue_lines(event, m))
    elif event.kind == "approval_needed":
        lines.append("A change is waiting for approval before it is applied.")
    return lines


def body_lines(event: ReportEvent, m: Markup) -> list[str]:
    """The main text below the facts, for one message that holds everything."""
    lines = intro_lines(event, m)
    if len(event.services) == 1:
        lines.extend(service_lines(event.kind, event.services[0], m))
    elif event.services:
        lines.append(status_counts(event))
        lines.extend(service_summary_line(s, m) for s in event.services)
    return lines
