"""Webhook validation and push parsing with real GitLab/GitHub/CodeCommit payloads."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from reconciler.daemon.wakeup import DeliveryLog, Wakeup
from reconciler.daemon.webhook import WebhookReceiver
from reconciler.signing import sign
from reconciler.source.hooks import (
    parse_codecommit_message,
    verify_github_signature,
    verify_gitlab_token,
)

PAYLOADS = Path(__file__).resolve().parents[1] / "fixtures" / "payloads"


def load(name: str) -> dict:
    return json.loads((PAYLOADS / name).read_text())


def gitlab_headers(token: str = "s3cret-token", **extra: str) -> dict[str, str]:
    headers = {k: v for k, v in load("gitlab-webhook-request-headers-docs.json").items() if not k.startswith("_")}
    headers["X-Gitlab-Token"] = token
    headers.update(extra)
    return headers


def test_github_known_answer_vector() -> None:
    vec = load("github-hmac-test-vector-docs.json")
    body = vec["payload"].encode()
    assert sign(vec["secret"], body) == vec["x_hub_signature_256"]
    assert verify_github_signature({"X-Hub-Signature-256": vec["x_hub_signature_256"]}, body, vec["secret"])
    assert not verify_github_signature({"X-Hub-Signature-256": vec["x_hub_signature_256"]}, body + b" ", vec["secret"])
    assert not verify_github_signature({}, body, vec["secret"])


def test_gitlab_token_compare() -> None:
    assert verify_gitlab_token({"x-gitlab-token": "abc"}, "abc")
    assert not verify_gitlab_token({"X-Gitlab-Token": "abd"}, "abc")
    assert not verify_gitlab_token({}, "abc")


@pytest.fixture
def receiver() -> tuple[WebhookReceiver, Wakeup]:
    wakeup = Wakeup()
    return WebhookReceiver(wakeup, "master", gitlab_token="s3cret-token", github_secret="gh-secret-value"), wakeup


def test_gitlab_push_wakes_loop_once_per_delivery(receiver) -> None:
    rx, wakeup = receiver
    body = (PAYLOADS / "gitlab-push-hook-docs.json").read_bytes()
    first = rx.handle(gitlab_headers(), body)
    assert first.status == 202
    reasons, hints = wakeup.wait(0)
    assert reasons == ["webhook"]
    assert hints[0].after == "da1560886d4f094c3e6c9ef40349f7d38b5d27d7" and hints[0].branch == "master"
    assert hints[0].delivery_id == "f5e5f430-f57b-4e6e-9fac-d9128cd7232f"  # Idempotency-Key wins
    retry = rx.handle(gitlab_headers(), body)  # GitLab retries with the same Idempotency-Key
    assert retry.status == 200 and retry.body["status"] == "duplicate"
    assert wakeup.wait(0) == ([], [])


def test_gitlab_wrong_token_is_401_and_does_not_wake(receiver) -> None:
    rx, wakeup = receiver
    resp = rx.handle(gitlab_headers(token="guess"), (PAYLOADS / "gitlab-push-hook-docs.json").read_bytes())
    assert resp.status == 401
    assert wakeup.wait(0) == ([], [])
    # A rejected delivery must not poison dedup: the genuine one still gets through.
    assert rx.handle(gitlab_headers(), (PAYLOADS / "gitlab-push-hook-docs.json").read_bytes()).status == 202


def test_gitlab_tag_push_is_ignored_with_200(receiver) -> None:
    rx, wakeup = receiver
    headers = gitlab_headers(**{"X-Gitlab-Event": "Tag Push Hook", "Idempotency-Key": "other"})
    resp = rx.handle(headers, (PAYLOADS / "gitlab-tag-push-hook-docs.json").read_bytes())
    assert resp.status == 200 and resp.body["status"] == "ignored"
    assert wakeup.wait(0) == ([], [])


def test_other_branch_is_ignored() -> None:
    wakeup = Wakeup()
    rx = WebhookReceiver(wakeup, "main", gitlab_token="s3cret-token")
    resp = rx.handle(gitlab_headers(), (PAYLOADS / "gitlab-push-argocd-testdata.json").read_bytes())
    assert resp.status == 200 and "main" in resp.body["reason"]
    assert wakeup.wait(0) == ([], [])


def test_github_push_signed(receiver) -> None:
    rx, wakeup = receiver
    body = (PAYLOADS / "github-push-argocd-testdata.json").read_bytes()
    headers = {"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-1",
               "X-Hub-Signature-256": sign("gh-secret-value", body)}
    assert rx.handle(headers, body).status == 202
    assert wakeup.wait(0)[1][0].after == "63738bb582c8b540af7bcfc18f87c575c3ed66e0"
    assert rx.handle({**headers, "X-Hub-Signature-256": "sha256=00"}, body).status == 401
    assert rx.handle({"X-GitHub-Event": "ping", "X-GitHub-Delivery": "d-2",
                      "X-Hub-Signature-256": sign("gh-secret-value", b"{}")}, b"{}").status == 200


def test_unconfigured_provider_is_refused() -> None:
    rx = WebhookReceiver(Wakeup(), "main", gitlab_token="t0ken-only")
    assert rx.handle({"X-GitHub-Event": "push"}, b"{}").status == 404
    assert rx.handle({}, b"{}").status == 404


def test_codecommit_eventbridge_direct_and_in_sns_envelope() -> None:
    event = (PAYLOADS / "codecommit-eventbridge-referenceUpdated-awsdocs.json").read_text()
    (hint,) = parse_codecommit_message(event)
    assert (hint.source, hint.branch, hint.repository) == ("codecommit", "myBranch", "MyDemoRepo")
    assert hint.after == json.loads(event)["detail"]["commitId"]
    envelope = {**load("sns-to-sqs-envelope-awsdocs.json"), "Message": event}
    assert parse_codecommit_message(json.dumps(envelope)) == [hint]


def test_codecommit_deleted_branch_and_legacy_trigger() -> None:
    (deleted,) = parse_codecommit_message((PAYLOADS / "codecommit-eventbridge-referenceDeleted-awsdocs.json").read_text())
    assert deleted.deleted and deleted.after is None
    (legacy,) = parse_codecommit_message((PAYLOADS / "codecommit-trigger-sns-envelope-harness.json").read_text())
    assert (legacy.branch, legacy.repository) == ("main", "test")
    assert legacy.after == "f3c8a35a6e83e9ab85c05845c6731c7990de8672"
    with pytest.raises(ValueError):
        parse_codecommit_message(json.dumps(load("sns-to-sqs-envelope-awsdocs.json")))  # "Hello world!"


def test_delivery_log_expires_and_is_bounded() -> None:
    now = [0.0]
    log = DeliveryLog(ttl=10, max_entries=2, clock=lambda: now[0])
    assert log.first_time("a") and not log.first_time("a")
    now[0] = 11
    assert log.first_time("a")
    assert log.first_time("b") and log.first_time("c")  # evicts the oldest
    assert log.first_time("a")


def test_wakeup_unblocks_a_waiting_loop() -> None:
    wakeup = Wakeup()
    got: list = []
    waiter = threading.Thread(target=lambda: got.append(wakeup.wait(30)))
    waiter.start()
    wakeup.notify("sqs")
    waiter.join(10)
    assert got and got[0][0] == ["sqs"]


def test_authenticated_push_of_an_unexpected_shape_is_a_400(receiver) -> None:
    rx, wakeup = receiver
    body = json.dumps({"object_kind": "push", "project": "x", "ref": ["not", "a", "string"]}).encode()
    resp = rx.handle(gitlab_headers(**{"Idempotency-Key": "odd"}), body)
    assert resp.status == 400
    assert wakeup.wait(0) == ([], [])
