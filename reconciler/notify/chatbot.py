"""AWS Chatbot (Amazon Q Developer in chat applications) custom notifications.

Schema: docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html
(tests/fixtures/payloads/aws-chatbot-custom-notification-schema-docs.json):
`version` "1.0", `source` "custom", `content.description` required,
`metadata.threadId` groups updates into one thread. Free-form SNS messages
are dropped by Chatbot, so nothing else is ever published to its topics.
"""
from __future__ import annotations

import hashlib
from typing import Any

from reconciler.events import ReportEvent
from reconciler.notify import content, escape
from reconciler.notify.content import CHATBOT
from reconciler.notify.threads import thread_key

DESCRIPTION_LIMIT = 8000
NEXT_STEPS: dict[str, str] = {
    "sync_failed": "Read the stopped reasons above, fix the manifest or image in git and push.",
    "sync_rolled_back": "AWS rolled the service back; fix the cause in git and push a new commit.",
    "window_held": "It is applied when the window closes; `reconciler sync --override-window` applies it now if the window allows.",
    "drift_detected": "Revert the manual change in AWS, or commit it to git so git matches.",
    "manifest_invalid": "Fix the listed lines and push; other services keep syncing.",
    "approval_needed": "Approve or reject the change.",
    "reconciler_degraded": "Check the reconciler's access to git and AWS; it keeps retrying.",
}


def render_chatbot(event: ReportEvent) -> dict[str, Any]:
    """The custom-notification JSON to publish (as a string) to a Chatbot SNS topic."""
    lines = [f"*{label}*: {val}" for label, val in content.context_facts(event, CHATBOT)]
    lines += content.body_lines(event, CHATBOT)
    keywords = [k for k in (event.environment, event.kind) if k]
    keywords += [s.service for s in event.services[:5]]
    url = escape.safe_url(event.commit.url) if event.commit else None
    related = [url] if url else []
    related += [s.deployment_id for s in event.services if s.deployment_id][:10]
    context: dict[str, str] = {"kind": event.kind, "environment": event.environment or ""}
    if event.commit:
        context["commit"] = event.commit.sha
    message: dict[str, Any] = {
        "version": "1.0",
        "source": "custom",
        "id": hashlib.sha256(event.dedup_key.encode()).hexdigest()[:32],
        "content": {
            "textType": "client-markdown",
            "title": f"{content.EMOJI.get(event.kind, '')} {escape.slack(content.subject(event))}".strip(),
            "description": escape.join_limited(lines, DESCRIPTION_LIMIT) or content.title(event),
            "keywords": keywords,
        },
        "metadata": {
            "summary": escape.truncate(content.subject(event), 200),
            "eventType": event.kind,
            "relatedResources": related,
            "additionalContext": context,
        },
    }
    if event.kind in NEXT_STEPS:
        message["content"]["nextSteps"] = [NEXT_STEPS[event.kind]]
    key = thread_key(event)
    if key:
        message["metadata"]["threadId"] = hashlib.sha256(key.encode()).hexdigest()[:32]
    return message
