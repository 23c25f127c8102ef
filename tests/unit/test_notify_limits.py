"""Slack and Teams limits: nothing is rejected, what is cut says "… and N more"."""
from __future__ import annotations

import json

from reconciler.events import CommitInfo, ReportEvent
from reconciler.model import FieldChange
from reconciler.notify import render_chatbot, render_slack, render_slack_thread, render_teams
from reconciler.notify.samples import event, many_services, service
from reconciler.notify.slack import check_slack_message
from reconciler.notify.teams import CARD_SIZE_LIMIT, size


def assert_valid_slack(message: dict) -> None:
    assert check_slack_message(message) == []


def test_sixty_services_fit_slack_parent_and_thread() -> None:
    ev = many_services(n=60)
    assert_valid_slack(render_slack(ev))
    thread = render_slack_thread(ev)
    for msg in thread:
        assert_valid_slack(msg)
    text = "".join(json.dumps(m) for m in thread)
    assert all(f"*svc-{i:02d}*" in text for i in range(60))  # nobody lost in the thread


def test_huge_summary_is_cut_with_and_n_more() -> None:
    ev = many_services(n=1500)  # far beyond 50 blocks × 3000 characters
    msg = render_slack(ev)
    assert_valid_slack(msg)
    assert len(msg["blocks"]) <= 50
    assert "more" in msg["blocks"][-2]["text"]["text"]  # last section, before the footer
    assert "… and " in msg["blocks"][-2]["text"]["text"]


def test_very_long_fields_are_truncated_not_rejected() -> None:
    long = "x" * 20_000
    ev = ReportEvent(
        kind="sync_failed", environment="p" * 300,
        commit=CommitInfo(sha="a" * 40, title=long, author=long, url="https://g.example/" + "c" * 2000),
        services=(service(name="s" * 300, changes=tuple(FieldChange(f"service/f{i}", long, long) for i in range(200)),
                          stopped_reasons=(long,) * 50, message=long),),
        reason=long)
    msg = render_slack(ev)
    assert_valid_slack(msg)
    assert len(msg["blocks"][0]["text"]["text"]) <= 150
    assert len(msg["text"]) <= 3000
    body = msg["blocks"][-1]["text"]["text"]
    assert "… and " in body and body.endswith("more")
    assert size(render_teams(ev)) < 60_000  # bounded even for one giant service
    assert len(render_chatbot(ev)["content"]["description"]) <= 8000


def test_many_issues_are_capped() -> None:
    ev = event("manifest_invalid", issues=tuple(f"f.yaml:{i}: $.x: bad value {i}" for i in range(500)))
    msg = render_slack(ev)
    assert_valid_slack(msg)
    assert "… and 450 more" in json.dumps(msg, ensure_ascii=False)


def test_teams_card_stays_under_size_limit() -> None:
    ev = many_services(n=150)
    card = render_teams(ev)
    assert size(card) <= CARD_SIZE_LIMIT
    body = card["attachments"][0]["content"]["body"]
    containers = [b for b in body if b["type"] == "Container"]
    tail = body[-1]
    assert tail["type"] == "TextBlock" and tail["text"] == f"… and {150 - len(containers)} more"
    assert 10 < len(containers) < 150


def test_teams_small_summary_keeps_every_service() -> None:
    body = render_teams(many_services(n=5))["attachments"][0]["content"]["body"]
    assert sum(b["type"] == "Container" for b in body) == 5


def test_thread_replies_are_bounded_by_size_too() -> None:
    long_reason = "r" * 290
    ev = ReportEvent(kind="sync_failed", environment="prod", services=tuple(
        service(f"svc-{i:02d}", status="failed", stopped_reasons=(long_reason,) * 9) for i in range(24)))
    thread = render_slack_thread(ev)
    assert len(thread) > 2  # 24 services would fit 2 replies by count; size forces more
    for msg in thread:
        assert_valid_slack(msg)
        assert sum(len(b["text"]["text"]) for b in msg["blocks"] if b["type"] == "section") <= 12_000
    assert sum(b["type"] == "section" for m in thread for b in m["blocks"]) == 24
