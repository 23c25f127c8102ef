"""Build a Notifier from NotifyConfig: the one place that knows every destination type."""
from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from reconciler.notify.config import DestinationConfig, NotifyConfig
from reconciler.notify.dedup import DedupStore
from reconciler.notify.destinations import (
    ConsoleDestination,
    Destination,
    GenericWebhookDestination,
    Publisher,
    SnsDestination,
    TeamsDestination,
)
from reconciler.notify.notifier import DropHook, Notifier, RetryPolicy
from reconciler.notify.slack_delivery import SlackApiDestination, SlackWebhookDestination
from reconciler.notify.threads import InMemoryThreadStore, ThreadStore

#: region -> Publisher. The daemon passes one built from its own AWS clients (so Publish honours
#: RECONCILER_AWS_* and is counted in /metrics); notify itself never talks to AWS.
PublisherFactory = Callable[[str | None], Publisher]


def _no_publisher(region: str | None) -> Publisher:
    raise ValueError("an sns destination needs an SNS publisher: pass publisher_factory to build_notifier")


def build_destination(cfg: DestinationConfig, *, threads: ThreadStore,
                      publisher_factory: PublisherFactory = _no_publisher,
                      console_stream: TextIO | None = None) -> Destination:
    timeout = cfg.timeout_seconds
    if cfg.type == "slack-webhook":
        return SlackWebhookDestination(cfg.name, str(cfg.url), timeout=timeout)
    if cfg.type == "slack-api":
        return SlackApiDestination(cfg.name, str(cfg.token), str(cfg.channel), threads,
                                   base_url=cfg.base_url, timeout=timeout)
    if cfg.type == "teams":
        return TeamsDestination(cfg.name, str(cfg.url), timeout=timeout)
    if cfg.type == "webhook":
        return GenericWebhookDestination(cfg.name, str(cfg.url), secret=cfg.secret, timeout=timeout)
    if cfg.type == "sns":
        return SnsDestination(cfg.name, str(cfg.topic_arn), publisher_factory(cfg.region))
    return ConsoleDestination(cfg.name, console_stream)


def build_notifier(
    config: NotifyConfig,
    *,
    dedup: DedupStore | None = None,
    threads: ThreadStore | None = None,
    enabled: Callable[[], bool] = lambda: True,
    on_drop: DropHook | None = None,
    publisher_factory: PublisherFactory = _no_publisher,
    console_stream: TextIO | None = None,
) -> Notifier:
    """Everything the daemon needs: pass its DynamoDB-backed dedup and thread stores and `is_leader`."""
    store = threads if threads is not None else InMemoryThreadStore()
    destinations = {
        name: build_destination(cfg, threads=store, publisher_factory=publisher_factory,
                                console_stream=console_stream)
        for name, cfg in config.destinations.items()
    }
    retry = RetryPolicy(config.max_attempts, config.backoff_seconds, config.max_backoff_seconds)
    return Notifier(destinations, config.routes, dedup=dedup, enabled=enabled,
                    queue_size=config.queue_size, retry=retry, on_drop=on_drop,
                    batch_seconds=config.batch_seconds)
