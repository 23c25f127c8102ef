"""Slack request verification: the documented vector, the five-minute window, replays, the workspace."""
from __future__ import annotations

import json
from pathlib import Path

from reconciler.chatops.signing import RequestVerifier, parse_form, sign, team_of

PAYLOADS = Path(__file__).parents[1] / "fixtures" / "payloads"
VECTOR = json.loads((PAYLOADS / "slack-signing-test-vector-docs.json").read_text())
TS = int(VECTOR["headers"]["X-Slack-Request-Timestamp"])
BODY = VECTOR["raw_body"].encode()


def verifier(now: float = TS, team: str | None = None) -> RequestVerifier:
    return RequestVerifier(VECTOR["signing_secret"], team_id=team, clock=lambda: now)


def test_documented_vector_is_accepted_and_parsed() -> None:
    verdict = verifier().verify(VECTOR["headers"], BODY)
    assert verdict.ok, verdict.reason
    assert verdict.form is not None and verdict.form["command"] == "/webhook-collect"
    assert verdict.form["user_id"] == "U2CERLKJA"


def test_our_signature_matches_slacks() -> None:
    assert sign(VECTOR["signing_secret"], TS, BODY)["X-Slack-Signature"] == VECTOR["headers"]["X-Slack-Signature"]


def test_stale_timestamp_is_401_even_with_a_valid_signature() -> None:
    verdict = verifier(now=TS + 301).verify(VECTOR["headers"], BODY)
    assert (verdict.ok, verdict.status) == (False, 401)
    assert "five minutes" in verdict.reason
    assert verifier(now=TS + 299).verify(VECTOR["headers"], BODY).ok


def test_bad_signature_or_tampered_body_is_401() -> None:
    assert verifier().verify({**VECTOR["headers"], "X-Slack-Signature": "v0=" + "0" * 64}, BODY).status == 401
    assert verifier().verify(VECTOR["headers"], BODY.replace(b"text=", b"text=deploy")).status == 401
    assert verifier().verify({}, BODY).status == 401
    assert verifier().verify({**VECTOR["headers"], "X-Slack-Request-Timestamp": "abc"}, BODY).status == 401


def test_a_request_is_handled_once() -> None:
    v = verifier()
    assert v.verify(VECTOR["headers"], BODY).ok
    again = v.verify(VECTOR["headers"], BODY)
    assert (again.ok, again.status) == (False, 409)


def test_workspace_checked_when_configured() -> None:
    assert verifier(team="T1DC2JH3J").verify(VECTOR["headers"], BODY).ok
    other = verifier(team="TOTHER").verify(VECTOR["headers"], BODY)
    assert (other.ok, other.status) == (False, 403)


def test_team_of_interaction_payload() -> None:
    payload = json.loads((PAYLOADS / "slack-block-actions-boltpython.json").read_text())
    from urllib.parse import urlencode

    form = parse_form(urlencode({"payload": json.dumps(payload)}).encode())
    assert team_of(form) == "T111"
    assert team_of({"payload": "not json"}) is None
