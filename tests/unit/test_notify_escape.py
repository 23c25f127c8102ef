"""Text from git cannot ping people, forge links or break formatting."""
from __future__ import annotations

import json

import pytest

from reconciler.events import CommitInfo, ImageChange, ReportEvent
from reconciler.model import FieldChange
from reconciler.notify import escape, render_chatbot, render_slack, render_slack_thread, render_teams
from reconciler.notify.samples import event, service

EVIL = "<!channel> <@U123> <!here> @here <https://evil.example|click> a & b > c `tick`"


def evil_event():
    commit = CommitInfo(sha="deadbeefcafe", title=EVIL, author="<@U999> Mallory & co",
                        url="https://git.example/commit/1|<!channel>")
    svc = service(name="orders", changes=(FieldChange("service/tags/owner", EVIL, "x"),),
                  images=(ImageChange("web<@U1>", "img:<!here>", "img:&new"),),
                  stopped_reasons=(EVIL,), message=EVIL)
    return event("sync_failed", commit=commit, services=(svc,), reason=EVIL)


@pytest.mark.parametrize("text", ["<!channel>", "<@U123>", "<!here>", "<https://evil"])
def test_slack_output_has_no_live_mention_or_link(text: str) -> None:
    ev = evil_event()
    two = ReportEvent(kind="sync_failed", environment="prod", commit=ev.commit, services=ev.services * 2)
    for msg in [render_slack(ev), render_slack(two), *render_slack_thread(two)]:
        assert text not in json.dumps(msg, ensure_ascii=False)


def test_slack_escapes_entities_and_broadcast_words() -> None:
    out = escape.slack("a & b <!channel> > @here @Channel")
    assert out == "a &amp; b &lt;!channel&gt; &gt; @\u2060here @\u2060Channel"


def test_slack_link_label_and_url_cannot_break_out() -> None:
    link = escape.slack_link("https://x.example/a|b>c&d", escape.slack("<@U1>"))
    assert link == "<https://x.example/a%7Cb%3Ec&amp;d|&lt;@U1&gt;>"
    assert escape.slack_link("javascript:alert(1)", "label") == "label"


def test_slack_code_span_cannot_be_closed_by_value() -> None:
    assert escape.slack_code("a`b<c") == "`a'b&lt;c`"


def test_teams_escapes_markdown_links_emphasis_and_at_tags() -> None:
    out = escape.teams("[click](https://evil) **bold** <at>User</at> @everyone")
    assert "[click](" not in out and "**" not in out and "<at>" not in out
    assert "@\u2060everyone" in out


def test_teams_card_has_no_injected_markup() -> None:
    text = json.dumps(render_teams(evil_event()), ensure_ascii=False)
    assert "<@U123>" not in text and "<!channel>" not in text and "[click](" not in text


def test_chatbot_description_is_escaped() -> None:
    desc = render_chatbot(evil_event())["content"]["description"]
    assert "<!channel>" not in desc and "<@U123>" not in desc and "a &amp; b" in desc


def test_newlines_in_titles_cannot_add_lines() -> None:
    ev = event("sync_succeeded", commit=CommitInfo(sha="abc", title="line1\n*fake header*\nline3"))
    fields = render_slack(ev)["blocks"][1]["fields"]
    commit_field = next(f["text"] for f in fields if f["text"].startswith("*Commit*"))
    assert commit_field.count("\n") == 1  # only the label/value break


def test_truncate_and_join_limited() -> None:
    assert escape.truncate("abcdef", 4) == "abc…"
    assert escape.truncate("abc", 4) == "abc"
    lines = [f"line {i}" for i in range(100)]
    out = escape.join_limited(lines, 60)
    assert len(out) <= 60 and out.endswith("more") and out.startswith("line 0\nline 1")
    n = int(out.rsplit("and ", 1)[1].split()[0])
    assert out.count("\n") + n == 100  # shown lines + "N more" account for every line
