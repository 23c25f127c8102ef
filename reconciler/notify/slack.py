"""Slack Block Kit rendering (pure: event in, message dict out).

Limits are Slack's (slack_sdk 3.47 `models/blocks/blocks.py` validators and
api.slack.com/reference/block-kit/blocks): 50 blocks per message, 3000
characters per section text, 10 fields of 2000, 150 per header text. Every
message carries a top-level `text` fallback for notifications and screen
readers.
"""
from __future__ import annotations

from typing import Any

from reconciler.chatops.approval import pause_actions
from reconciler.events import ReportEvent, ServiceReport
from reconciler.notify import content, escape
from reconciler.notify.content import SLACK

MAX_BLOCKS = 50
SECTION_LIMIT = 3000
HEADER_LIMIT = 150
FIELD_LIMIT = 2000
MAX_FIELDS = 10
FALLBACK_LIMIT = 3000
MAX_BODY_SECTIONS = 10  # a readable message, not a dump: the rest becomes "… and N more"
THREAD_SERVICES_PER_MESSAGE = 12  # a section + a divider each: well under 50 blocks
THREAD_CHARS = 12_000  # keep one reply readable (Slack cuts message text at 40 000)

Block = dict[str, Any]


def _header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": escape.truncate(text, HEADER_LIMIT), "emoji": True}}


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": escape.truncate(text, SECTION_LIMIT)}}


def _fields(facts: list[tuple[str, str]]) -> Block:
    return {"type": "section", "fields": [
        {"type": "mrkdwn", "text": escape.truncate(f"*{label}*\n{val}", FIELD_LIMIT)}
        for label, val in facts[:MAX_FIELDS]
    ]}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": escape.truncate(text, SECTION_LIMIT)}]}


def _sections(lines: list[str], max_blocks: int) -> list[Block]:
    """Pack lines into as few sections as possible; past `max_blocks`, end with "… and N more"."""
    blocks: list[Block] = []
    i = 0
    while i < len(lines) and len(blocks) < max_blocks:
        last = len(blocks) == max_blocks - 1
        chunk: list[str] = []
        size = 0
        while i < len(lines):
            piece = escape.truncate(lines[i], SECTION_LIMIT)
            if chunk and size + 1 + len(piece) > SECTION_LIMIT:
                break
            chunk.append(piece)
            size += len(piece) + (1 if len(chunk) > 1 else 0)
            i += 1
        if last and i < len(lines):
            blocks.append(_section(escape.join_limited(chunk + lines[i:], SECTION_LIMIT)))
            return blocks
        blocks.append(_section("\n".join(chunk)))
    return blocks


def fallback(event: ReportEvent) -> str:
    """The `text` of a message: what notifications and old clients show."""
    head = f"{content.EMOJI.get(event.kind, '')} {escape.slack(content.subject(event))}".strip()
    commit = content.commit_line(event, SLACK)
    return escape.truncate(f"{head}: {commit}" if commit else head, FALLBACK_LIMIT)


def render_slack(event: ReportEvent) -> dict[str, Any]:
    """The parent (or only) message of an event: headline, facts, what changed."""
    blocks: list[Block] = [_header(f"{content.EMOJI.get(event.kind, '')} {escape.slack(content.subject(event))}")]
    facts = content.context_facts(event, SLACK)
    if facts:
        blocks.append(_fields(facts))
    footer = "Per-service details are in the thread." if content.is_summary(event) else ""
    room = min(MAX_BODY_SECTIONS, MAX_BLOCKS - len(blocks) - (1 if footer else 0))
    blocks.extend(_sections(content.body_lines(event, SLACK), room))
    if footer:
        blocks.append(_context(footer))
    if event.extra.get("awaiting"):  # a deployment waits at a pause: answer it from chat (docs/chatops.md)
        blocks.extend(pause_actions(s.environment, s.service) for s in event.services[:MAX_BLOCKS - len(blocks)])
    return {"text": fallback(event), "blocks": blocks}


def _service_blocks(event: ReportEvent, s: ServiceReport) -> list[Block]:
    lines = content.service_lines(event.kind, s, SLACK)
    head = content.service_heading(s, SLACK)
    text = head + ("\n" + escape.join_limited(lines, SECTION_LIMIT - len(head) - 1) if lines else "")
    return [_section(text)]


def render_slack_thread(event: ReportEvent) -> list[dict[str, Any]]:
    """Per-service details for the thread under a summary, packed into few messages
    (at most THREAD_SERVICES_PER_MESSAGE services and THREAD_CHARS characters each).
    A later wave of a commit details only its new services (`content.thread_services`)."""
    if not content.is_summary(event):
        return []
    pages: list[list[Block]] = [[]]
    used = 0
    count = 0
    for s in content.thread_services(event):
        section = _service_blocks(event, s)
        cost = sum(len(b["text"]["text"]) for b in section)
        if count and (count >= THREAD_SERVICES_PER_MESSAGE or used + cost > THREAD_CHARS):
            pages.append([])
            used = count = 0
        if pages[-1]:
            pages[-1].append({"type": "divider"})
        pages[-1].extend(section)
        used += cost
        count += 1
    if not count:
        return []
    return [{"text": escape.truncate(f"{fallback(event)} — details {n + 1}/{len(pages)}", FALLBACK_LIMIT),
             "blocks": blocks} for n, blocks in enumerate(pages)]


def check_slack_message(message: dict[str, Any]) -> list[str]:
    """Problems slack_sdk's Block Kit models find in `message` (empty when valid).

    Used by the tests on every rendered message, and handy when a hand-written
    template is added.
    """
    from slack_sdk.errors import SlackObjectFormationError
    from slack_sdk.models.blocks import Block as SdkBlock

    problems: list[str] = []
    if not str(message.get("text", "")).strip():
        problems.append("missing text fallback")
    blocks = message.get("blocks") or []
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"{len(blocks)} blocks > {MAX_BLOCKS}")
    for i, raw in enumerate(blocks):
        block = SdkBlock.parse(raw)
        if block is None:
            problems.append(f"block {i}: not a block")
            continue
        try:
            block.validate_json()
            if block.to_dict() != raw:
                problems.append(f"block {i}: does not round-trip through slack_sdk")
        except SlackObjectFormationError as exc:
            problems.append(f"block {i}: {exc}")
    return problems
