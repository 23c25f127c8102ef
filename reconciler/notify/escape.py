"""Escaping and truncation for chat text.

Anything that comes from git (commit titles, authors, manifest values, file
names) is untrusted: in Slack mrkdwn `<!channel>` or `<@U123>` would ping
people and `<url|text>` would forge links, in Teams markdown `[x](url)` would
forge links. These helpers make such text inert, and cut text to the limits the
chat platforms enforce.
"""
from __future__ import annotations

import re
import urllib.parse
from typing import Any

ELLIPSIS = "…"
# Zero-width joiner: keeps "@channel" readable but stops Slack and Teams from
# treating it as a broadcast keyword.
_ZWJ = "\u2060"
_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Teams (Adaptive Card TextBlock) markdown: CommonMark backslash escapes.
# Only what starts markup in Adaptive Card markdown (emphasis, links, code) or a
# `<at>` mention tag; escaping more (`.`, `-`) would litter every version number.
_TEAMS_SPECIAL = re.compile(r"([\\`*_\[\]~<>])")


def _clean(text: Any) -> str:
    return _CONTROL.sub("", "" if text is None else str(text))


def slack(text: Any) -> str:
    """Make `text` inert in Slack mrkdwn and plain_text.

    Slack's own rule: escape `&`, `<` and `>` as HTML entities
    (api.slack.com/reference/surfaces/formatting#escaping); that alone kills
    `<!channel>`, `<@U…>` and `<url|label>`. Bare `@here` is also defused.
    """
    out = _clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub(lambda m: "@" + _ZWJ + m.group(1), out)


def slack_code(text: Any) -> str:
    """Inline code span for values (image tags, manifest values): no backticks inside."""
    inner = slack(text).replace("`", "'").replace("\n", " ")
    return f"`{inner}`" if inner else "` `"


def safe_url(url: str | None) -> str | None:
    """An http(s) URL with every character that could end a link (`<>|()[]`, spaces) percent-encoded."""
    if not url or not url.startswith(("https://", "http://")):
        return None
    return urllib.parse.quote(_clean(url), safe="/:?#@!$&'*+,;=%~-._")


def slack_link(url: str | None, label: str) -> str:
    """`<url|label>` with the label already escaped by the caller; plain label without URL."""
    safe = safe_url(url)
    return f"<{safe.replace('&', '&amp;')}|{label}>" if safe else label


def teams(text: Any) -> str:
    """Make `text` inert in Adaptive Card markdown (backslash escapes, no broadcast keywords)."""
    out = _TEAMS_SPECIAL.sub(r"\\\1", _clean(text))
    return _BROADCAST.sub(lambda m: "@" + _ZWJ + m.group(1), out)


def one_line(text: Any) -> str:
    """Collapse whitespace (headers and fields are one line)."""
    return " ".join(_clean(text).split())


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, ending with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + ELLIPSIS


def more(n: int) -> str:
    return f"{ELLIPSIS} and {n} more"


def join_limited(lines: list[str], limit: int, sep: str = "\n") -> str:
    """Join as many whole lines as fit in `limit`, then "… and N more"."""
    out: list[str] = []
    size = 0
    for i, line in enumerate(lines):
        remaining = len(lines) - i - 1
        tail = len(sep) + len(more(remaining)) if remaining else 0
        piece = truncate(line, limit - tail) if not out else line
        cost = len(piece) + (len(sep) if out else 0)
        if size + cost + tail > limit:
            out.append(more(len(lines) - i))
            return sep.join(out)
        out.append(piece)
        size += cost
    return sep.join(out)
