"""The daemon wires notify's SNS destination to its own AWS clients (retry settings, call counter)."""
from __future__ import annotations

import types

import pytest

from reconciler.aws.clients import AwsClients, AwsSettings
from reconciler.daemon.app import _notifier
from reconciler.daemon.leader import Leadership
from reconciler.daemon.metrics import Metrics
from reconciler.events import ReportEvent


def test_sns_publishes_through_the_daemons_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    # A closed loopback port: each Publish attempt fails at once, and each attempt is counted.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    clients = AwsClients(AwsSettings(retry_mode="standard", max_attempts=2, connect_timeout=1.0))
    counted: list[tuple[str, str]] = []
    clients.counter.add_listener(lambda service, action: counted.append((service, action)))
    cfg = types.SimpleNamespace(
        instance="i", notify_console=False,
        notifications={"destinations": {"chat": {"type": "sns", "topicArn": "arn:aws:sns:eu-west-1:123456789012:t",
                                                 "region": "eu-west-1"}},
                       "routes": [{"destinations": ["chat"]}],
                       "queue": {"maxAttempts": 1, "batchSeconds": 0}})
    notifier = _notifier(cfg, Leadership(None, 60.0), Metrics(), None, clients)  # type: ignore[arg-type]
    notifier.emit(ReportEvent(kind="reconciler_degraded", environment="prod"))
    assert notifier.close(10)
    # RECONCILER_AWS_MAX_ATTEMPTS (here 2) is botocore's: both attempts went through the daemon's counter.
    assert counted == [("sns", "Publish"), ("sns", "Publish")]
    assert clients.counter.get("sns", "Publish") == 2
