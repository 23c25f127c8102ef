"""Rendering of every report kind for every destination."""
from __future__ import annotations

import json
import typing
from pathlib import Path

import pytest

from reconciler.events import EventKind, ReportEvent
from reconciler.model import FieldChange
from reconciler.notify import (
    render_chatbot,
    render_console,
    render_generic,
    render_slack,
    render_slack_thread,
    render_teams,
)
from reconciler.notify.samples import COMMIT, event, many_services, service
from reconciler.notify.slack import check_slack_message

PAYLOADS = Path(__file__).resolve().parents[1] / "fixtures" / "payloads"
KINDS: tuple[EventKind, ...] = typing.get_args(EventKind)


def assert_valid_slack(message: dict) -> None:
    """Every block parses and validates against slack_sdk's Block Kit models."""
    assert message["blocks"]
    assert check_slack_message(message) == []


def slack_text(message: dict) -> str:
    return json.dumps(message, ensure_ascii=False)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_valid_block_kit(kind: EventKind) -> None:
    msg = render_slack(event(kind))
    assert_valid_slack(msg)
    assert msg["blocks"][0]["type"] == "header"


def test_sync_report_has_commit_author_images_deployment_duration() -> None:
    text = slack_text(render_slack(event("sync_succeeded")))
    assert f"<{COMMIT.url}|`3f9c2a71`>" in text  # short sha linked to the commit page
    assert COMMIT.title in text and "Jane Doe" in text
    assert "`registry.example.com/orders:1.4.1` → `registry.example.com/orders:1.4.2`" in text
    assert "`service/desiredCount`: `2` → `4`" in text  # changed field, old → new
    assert "ecs-svc/5129071298740129834" in text and "3m 04s" in text
    # the image change is not repeated as a raw field change
    assert "containerDefinitions/web/image" not in text


@pytest.mark.parametrize("kind,rolled", [("sync_failed", "no"), ("sync_rolled_back", "yes")])
def test_failure_shows_stopped_reasons_and_rollback(kind: EventKind, rolled: str) -> None:
    text = slack_text(render_slack(event(kind)))
    assert "stopped: Essential container in task exited" in text
    assert f"AWS rolled back: {rolled}" in text
    assert "circuit breaker" in text


@pytest.mark.parametrize("action,phrase", [("report-only", "report only"), ("self-heal", "will self-heal")])
def test_drift_shows_live_vs_git_and_action(action: str, phrase: str) -> None:
    ev = event("drift_detected", services=(service(images=(), action=action, changes=(
        FieldChange("service/desiredCount", 4, 7),)),))
    text = slack_text(render_slack(ev))
    assert "live `7` → git `4`" in text
    assert phrase in text


def test_manifest_invalid_lists_file_line_path_reason_and_commit() -> None:
    text = slack_text(render_slack(event("manifest_invalid")))
    assert "prod/orders/service.yaml:12: $.desiredCount: -1 is less than the minimum of 0" in text
    assert "at `3f9c2a71`" in text


def test_degraded_and_recovered_carry_reason() -> None:
    assert "git unreachable" in slack_text(render_slack(event("reconciler_degraded")))
    assert "Reconciler recovered" in render_slack(event("reconciler_recovered"))["text"]


def test_many_services_is_one_summary_plus_thread() -> None:
    ev = many_services(n=40)
    parent = render_slack(ev)
    assert_valid_slack(parent)
    assert "40 services" in parent["text"] and "40 succeeded" in slack_text(parent)
    assert "details are in the thread" in slack_text(parent)
    thread = render_slack_thread(ev)
    assert 1 < len(thread) <= 4
    for msg in thread:
        assert_valid_slack(msg)
    joined = "".join(slack_text(m) for m in thread)
    assert all(f"*svc-{i:02d}*" in joined for i in range(40))


def test_single_service_has_no_thread() -> None:
    assert render_slack_thread(event("sync_succeeded")) == []


def _shape(value: object) -> object:
    """Key structure of a JSON value (types of leaves ignored)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return None


@pytest.mark.parametrize("kind", KINDS)
def test_teams_matches_the_workflows_sample_envelope(kind: EventKind) -> None:
    sample = json.loads((PAYLOADS / "teams-adaptive-card-webhook-docs.json").read_text())
    card = render_teams(event(kind))
    att, want = card["attachments"][0], sample["attachments"][0]
    assert card["type"] == sample["type"] == "message"
    assert att["contentType"] == want["contentType"] and att["contentUrl"] is None
    for key in ("$schema", "type", "version"):
        assert att["content"][key] == want["content"][key]
    body = att["content"]["body"]
    assert body[0]["type"] == "TextBlock" and body[0]["weight"] == "Bolder"
    assert {b["type"] for b in body} <= {"TextBlock", "FactSet", "Container"}
    json.dumps(card)  # serialisable


def test_teams_sync_report_content_and_commit_action() -> None:
    card = render_teams(event("sync_failed"))["attachments"][0]["content"]
    text = json.dumps(card, ensure_ascii=False)
    assert "registry.example.com/orders:1.4.1 → registry.example.com/orders:1.4.2" in text
    assert "Jane Doe" in text and "AWS rolled back: no" in text
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "View commit", "url": COMMIT.url}]


@pytest.mark.parametrize("kind", KINDS)
def test_chatbot_follows_the_custom_notification_schema(kind: EventKind) -> None:
    schema = json.loads((PAYLOADS / "aws-chatbot-custom-notification-schema-docs.json").read_text())
    msg = render_chatbot(event(kind))
    assert msg["version"] == "1.0" and msg["source"] == "custom"
    assert set(msg) <= set(schema) - {"_note"}
    assert set(msg["content"]) <= set(schema["content"])
    assert set(msg["metadata"]) <= set(schema["metadata"])
    assert msg["content"]["textType"] == "client-markdown"
    assert msg["content"]["description"].strip()
    assert all(isinstance(v, str) for v in msg["metadata"]["additionalContext"].values())
    assert all(isinstance(v, str) for v in msg["content"]["keywords"] + msg["metadata"]["relatedResources"])


def test_chatbot_threads_one_deployment_together() -> None:
    started = render_chatbot(event("sync_started"))
    done = render_chatbot(event("sync_succeeded"))
    other = render_chatbot(event("sync_succeeded", environment="staging"))
    assert started["metadata"]["threadId"] == done["metadata"]["threadId"] != other["metadata"]["threadId"]


def test_generic_json_is_stable_and_raw() -> None:
    ev = event("sync_failed", commit=COMMIT.__class__(sha="abc", title="<!channel> & co"))
    out = render_generic(ev)
    assert out == render_generic(ev)
    assert out["commit"]["title"] == "<!channel> & co"  # raw: the receiver escapes for its own UI
    assert out["services"][0]["stoppedReasons"][0] == "Essential container in task exited"
    assert out["dedupKey"] == ev.dedup_key and out["schemaVersion"] == 1
    assert json.loads(json.dumps(out)) == out


def test_console_is_readable_text() -> None:
    text = render_console(many_services(n=3))
    assert text.splitlines()[0] == "[prod] 3 services — Synced"
    assert "  - svc-02 · succeeded" in text
    assert "image web: registry.example.com/svc-00:1.4.1 → registry.example.com/svc-00:1.4.2" in text


def test_console_strips_terminal_escapes() -> None:
    ev = event("sync_succeeded", commit=COMMIT.__class__(sha="abc", title="evil \x1b[31mred"))
    assert "\x1b" not in render_console(ev)


@pytest.mark.parametrize("render", [render_slack, render_teams, render_chatbot, render_generic, render_console])
def test_event_without_anything_optional_renders(render: typing.Callable[[ReportEvent], object]) -> None:
    assert render(ReportEvent(kind="reconciler_degraded"))


def test_check_slack_message_catches_limit_violations() -> None:
    bad = {"text": "", "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}] * 51}
    problems = check_slack_message(bad)
    assert "missing text fallback" in problems and "51 blocks > 50" in problems
    assert any("150" in p for p in problems)
