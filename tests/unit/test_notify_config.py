"""Config parsing (secrets from env vars) and the SNS publisher/destination."""
from __future__ import annotations

import io
import json

import boto3
import pytest
from botocore.stub import Stubber

from reconciler.aws.errors import AwsError
from reconciler.aws.sns import SnsPublisher
from reconciler.log import configure, get_logger
from reconciler.notify import DeliveryError, NotifyConfigError, build_notifier, load_notify_config
from reconciler.notify.destinations import SnsDestination
from reconciler.notify.samples import event, service

ENV = {"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T000/B000/sekrit-webhook-path",
       "SLACK_BOT_TOKEN": "xoxb-test-token-value", "HOOK_URL": "https://hooks.example/x?sig=abc123def",
       "HOOK_SECRET": "hmac-secret-value"}
CONFIG = {
    "destinations": {
        "hook": {"type": "slack-webhook", "webhookUrlEnv": "SLACK_WEBHOOK_URL"},
        "bot": {"type": "slack-api", "tokenEnv": "SLACK_BOT_TOKEN", "channel": "C0123", "baseUrl": "http://127.0.0.1:1/api/"},
        "generic": {"type": "webhook", "urlEnv": "HOOK_URL", "secretEnv": "HOOK_SECRET"},
        "chatbot": {"type": "sns", "topicArn": "arn:aws:sns:eu-west-1:123456789012:deploys", "region": "eu-west-1"},
        "stdout": {"type": "console"},
    },
    "routes": [{"environment": "prod", "services": "orders-*", "destinations": ["bot", "chatbot"]},
               {"environment": "*", "kinds": ["sync_failed"], "destinations": ["hook", "generic", "stdout"]}],
    "queue": {"size": 50, "maxAttempts": 2},
}


def test_load_resolves_secrets_and_routes() -> None:
    cfg = load_notify_config(CONFIG, env=ENV)
    assert cfg.destinations["hook"].url == ENV["SLACK_WEBHOOK_URL"]
    assert cfg.destinations["bot"].token == ENV["SLACK_BOT_TOKEN"]
    assert cfg.destinations["generic"].secret == ENV["HOOK_SECRET"]
    assert cfg.routes[0].services == "orders-*" and cfg.routes[1].kinds == frozenset({"sync_failed"})
    assert cfg.queue_size == 50 and cfg.max_attempts == 2
    assert "sekrit" not in repr(cfg) and "xoxb" not in repr(cfg)  # reprs never show secrets


def test_secrets_are_registered_for_redaction() -> None:
    load_notify_config(CONFIG, env=ENV)
    out = io.StringIO()
    configure(stream=out)
    get_logger("t").info("oops", url=ENV["HOOK_URL"], token=ENV["SLACK_BOT_TOKEN"], s=ENV["HOOK_SECRET"])
    assert not any(v in out.getvalue() for v in ENV.values())


@pytest.mark.parametrize("mutate,message", [
    (lambda c: c["destinations"]["hook"].update(webhookUrlEnv="NOPE"), "NOPE"),
    (lambda c: c["destinations"]["hook"].update(webhookUrl="https://x"), "webhookUrlEnv"),
    (lambda c: c["destinations"]["bot"].pop("channel"), "missing channel"),
    (lambda c: c["destinations"]["stdout"].update(type="pager"), "destinations.stdout.type: must be one of"),
    (lambda c: c["routes"][0].update(destinations=["nobody"]), "unknown destination"),
    (lambda c: c["routes"][1].update(kinds=["sync_exploded"]), "unknown kind"),
    (lambda c: c["routes"][1].update(kinds="sync_failed"), r"routes\[1\].kinds: expected a list"),
    (lambda c: c["routes"][0].update(destinations="hook"), r"routes\[0\].destinations: expected a list"),
    (lambda c: c["destinations"]["hook"].update(timeoutSeconds="abc"), "destinations.hook.timeoutSeconds"),
    (lambda c: c.update(queue={"batchSeconds": "soon"}), "queue.batchSeconds: expected a number"),
    (lambda c: c.update(queue=["size", 3]), "queue: expected a mapping"),
])
def test_bad_config_is_rejected_with_a_clear_message(mutate, message: str) -> None:
    cfg = json.loads(json.dumps(CONFIG))
    mutate(cfg)
    with pytest.raises(NotifyConfigError, match=message):
        load_notify_config(cfg, env=ENV)


def test_build_notifier_wires_every_destination_type() -> None:
    published: list[str] = []

    class FakePublisher:
        def publish(self, topic_arn: str, message: str, subject: str | None = None) -> str:
            published.append(message)
            return "id"

    config = {"destinations": {k: CONFIG["destinations"][k] for k in ("chatbot", "stdout")},
              "routes": [{"environment": "prod", "services": "orders-*", "destinations": ["chatbot"]},
                         {"environment": "*", "kinds": ["sync_failed"], "destinations": ["stdout"]}]}
    out = io.StringIO()
    n = build_notifier(load_notify_config(config, env={}), publisher_factory=lambda region: FakePublisher(),
                       console_stream=out)
    n.emit(event("sync_succeeded", services=(service("billing"),)))  # no route matches
    n.emit(event("sync_started", services=(service("orders-api"),)))  # prod orders-*: chatbot
    n.emit(event("sync_failed", environment="staging"))  # any env, failures: console
    assert n.close(5)
    assert [json.loads(m)["metadata"]["summary"] for m in published] == ["[prod] orders-api — Sync started"]
    assert out.getvalue().startswith("[staging] orders — Sync failed")


def _sns_client():
    return boto3.client("sns", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y")


def test_sns_destination_publishes_chatbot_json() -> None:
    client = _sns_client()
    topic = "arn:aws:sns:eu-west-1:123456789012:deploys"
    with Stubber(client) as stub:
        captured: dict = {}

        class Any_:  # Stubber compares parameters with ==: capture the message instead
            def __eq__(self, other: object) -> bool:
                captured["message"] = other
                return True

        stub.add_response("publish", {"MessageId": "m-1"}, {"TopicArn": topic, "Message": Any_()})
        SnsDestination("chatbot", topic, SnsPublisher(client)).send(event("sync_failed"))
        stub.assert_no_pending_responses()
    body = json.loads(captured["message"])
    assert body["version"] == "1.0" and body["source"] == "custom"
    assert body["metadata"]["eventType"] == "sync_failed"


@pytest.mark.parametrize("code,retryable", [("Throttling", True), ("AuthorizationError", False)])
def test_sns_errors_are_classified(code: str, retryable: bool) -> None:
    client = _sns_client()
    with Stubber(client) as stub:
        stub.add_client_error("publish", service_error_code=code, http_status_code=400)
        with pytest.raises(AwsError) as info:
            SnsPublisher(client).publish("arn:aws:sns:eu-west-1:1:t", "{}")
    assert info.value.retryable is retryable
    with Stubber(client) as stub:
        stub.add_client_error("publish", service_error_code=code, http_status_code=400)
        with pytest.raises(DeliveryError) as dinfo:
            SnsDestination("c", "arn:aws:sns:eu-west-1:1:t", SnsPublisher(client)).send(event("sync_started"))
    assert dinfo.value.retryable is retryable
