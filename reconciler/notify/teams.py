"""Microsoft Teams rendering: a Workflows webhook message with one Adaptive Card.

Workflows ("When a Teams webhook request is received") accept Adaptive Cards
only, in the envelope of msteams-docs `connectors-using.md` (see
tests/fixtures/payloads/teams-adaptive-card-webhook-docs.json). A Teams message
is limited to about 28 KB, so per-service sections are dropped from the end
(with "… and N more") until the payload fits.
"""
from __future__ import annotations

import json
from typing import Any

from reconciler.events import ReportEvent
from reconciler.notify import content, escape
from reconciler.notify.content import TEAMS

CARD_SIZE_LIMIT = 27_000  # bytes of JSON, under Teams' ~28 KB message limit
CARD_VERSION = "1.2"
_COLOR = {"good": "Good", "warning": "Warning", "attention": "Attention", "accent": "Accent"}


def _text(text: str, **props: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **props}


def _service_container(event: ReportEvent, index: int) -> dict[str, Any]:
    s = event.services[index]
    lines = content.service_lines(event.kind, s, TEAMS)
    items = [_text(content.service_heading(s, TEAMS), spacing="Medium")]
    if lines:
        items.append(_text("\n\n".join(lines), spacing="None"))
    return {"type": "Container", "separator": True, "items": items}


def _envelope(body: list[dict[str, Any]], actions: list[dict[str, Any]]) -> dict[str, Any]:
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
        "msteams": {"width": "Full"},
    }
    if actions:
        card["actions"] = actions
    return {"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive",
        "contentUrl": None,
        "content": card,
    }]}


def size(payload: dict[str, Any]) -> int:
    return len(json.dumps(payload, ensure_ascii=False).encode("utf-8"))


def render_teams(event: ReportEvent) -> dict[str, Any]:
    """One card per event; a many-service event lists each service in its own container."""
    color = _COLOR.get(content.SEVERITY.get(event.kind, "accent"), "Accent")
    head: list[dict[str, Any]] = [_text(escape.teams(content.subject(event)), weight="Bolder", size="Medium", color=color)]
    facts = content.context_facts(event, TEAMS)
    if facts:
        head.append({"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in facts]})
    summary = content.is_summary(event)
    if summary:
        lines = content.intro_lines(event, TEAMS) + [content.status_counts(event)]
    else:
        lines = content.body_lines(event, TEAMS)
    if lines:
        head.append(_text(escape.join_limited(lines, 8000, "\n\n")))
    actions = []
    url = escape.safe_url(event.commit.url) if event.commit else None
    if url:
        actions.append({"type": "Action.OpenUrl", "title": "View commit", "url": url})
    if not summary:
        return _envelope(head, actions)
    budget = CARD_SIZE_LIMIT - size(_envelope(head + [_text(escape.more(len(event.services)))], actions))
    services: list[dict[str, Any]] = []
    for i in range(len(event.services)):
        container = _service_container(event, i)
        budget -= size(container) + 1  # +1: the comma between list items
        if budget < 0:
            services.append(_text(escape.more(len(event.services) - i)))
            break
        services.append(container)
    return _envelope(head + services, actions)
