"""Chat reports: rendering (pure, event in → message out) kept apart from delivery.

Public API: the `render_*` functions, `Notifier` (a ReportSink), `build_notifier`
and `load_notify_config`, and the `DedupStore` / `ThreadStore` / `Publisher`
Protocols the daemon implements over DynamoDB and SNS.
"""
from reconciler.notify.chatbot import render_chatbot
from reconciler.notify.config import DestinationConfig, NotifyConfig, NotifyConfigError, Route, load_notify_config
from reconciler.notify.console import render_console
from reconciler.notify.dedup import DedupStore, InMemoryDedupStore
from reconciler.notify.destinations import Destination, Publisher
from reconciler.notify.errors import DeliveryError
from reconciler.notify.factory import build_notifier
from reconciler.notify.generic import render_generic
from reconciler.notify.notifier import Notifier, RetryPolicy
from reconciler.notify.slack import render_slack, render_slack_thread
from reconciler.notify.teams import render_teams
from reconciler.notify.threads import InMemoryThreadStore, ThreadRef, ThreadStore, thread_key

__all__ = [
    "DedupStore", "DeliveryError", "Destination", "DestinationConfig", "InMemoryDedupStore",
    "InMemoryThreadStore", "Notifier", "NotifyConfig", "NotifyConfigError", "Publisher", "RetryPolicy",
    "Route", "ThreadRef", "ThreadStore", "build_notifier", "load_notify_config", "render_chatbot",
    "render_console", "render_generic", "render_slack", "render_slack_thread", "render_teams", "thread_key",
]
