"""The running picture of a commit: every service seen so far, across batches.

A big commit does not arrive as one batch: ECS paces RegisterTaskDefinition
(a burst of 20, then 1 per second; docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html,
shared reference aws-behaviour.md §5), so 200 services reach the notifier in
waves over minutes and each wave ends its own quiet window. Slack's parent
message is edited by every wave (`chat.update`), so the event of a wave must
describe the WHOLE commit so far (worst state wins, counts by status), while the
thread gets only the wave's new details (`content.NEW_SERVICES`). Memory is
bounded: only the most recently touched commits of each environment are kept.
Pure, used by the notifier's worker thread only.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import replace

from reconciler.events import SYNC_KIND_OF_STATUS, EventKind, ReportEvent, ServiceReport
from reconciler.notify.batching import Batch
from reconciler.notify.content import NEW_SERVICES

#: the summary's kind: the first state any of its services is in, in this order
_PRECEDENCE: tuple[tuple[str, EventKind], ...] = tuple(
    (status, SYNC_KIND_OF_STATUS[status]) for status in ("failed", "rolled_back", "in_progress"))
_BAD = ("failed", "rolled_back")
DEFAULT_COMMITS_PER_ENVIRONMENT = 10
_Family = tuple[str, bool]  # (commit sha, self-heal?)


def summary_event(first: ReportEvent, services: dict[str, ServiceReport], keys: list[str],
                  new: list[str]) -> ReportEvent:
    """One event for `services` (all of the commit), the details of `new` for the thread."""
    ordered = tuple(services[k] for k in sorted(services))
    statuses = {s.status for s in ordered}
    kind = next((k for status, k in _PRECEDENCE if status in statuses), SYNC_KIND_OF_STATUS["succeeded"])
    bad = sum(1 for s in ordered if s.status in _BAD)
    reason = f"{bad} of {len(ordered)} services failed" if bad else ""
    # unique per batch: a retried send resumes (slack_delivery), a later wave is a new message
    digest = hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:16]
    sha = first.commit.sha if first.commit else ""
    extra = {k: v for k, v in first.extra.items() if k not in ("dedup_key", NEW_SERVICES)}
    extra["dedup_key"] = f"{kind}:{first.environment or ''}:batch:{sha}:{digest}"
    extra[NEW_SERVICES] = tuple(sorted(new))
    return replace(first, kind=kind, services=ordered, reason=reason, extra=extra)


class CommitAggregates:
    """Per environment, the latest report of every service of its last few commits."""

    def __init__(self, per_environment: int = DEFAULT_COMMITS_PER_ENVIRONMENT) -> None:
        self.per_environment = max(1, per_environment)
        self._envs: dict[str, OrderedDict[_Family, dict[str, ServiceReport]]] = {}

    def merge(self, batch: Batch) -> ReportEvent:
        """Fold `batch` into its commit and return the event to send for it."""
        env, sha, self_heal = batch.group
        commits = self._envs.setdefault(env, OrderedDict())
        services = commits.pop((sha, self_heal), {})
        services.update(batch.services)
        commits[(sha, self_heal)] = services  # most recently touched last
        while len(commits) > self.per_environment:
            commits.popitem(last=False)
        if batch.count == 1 and services.keys() == batch.services.keys():
            return batch.first  # a lone event of a new commit goes out as it came
        return summary_event(batch.first, services, batch.keys, list(batch.services))

    def services(self, env: str, sha: str, self_heal: bool = False) -> dict[str, ServiceReport]:
        """What is known of one commit (empty once evicted)."""
        return dict(self._envs.get(env, {}).get((sha, self_heal), {}))

    def __len__(self) -> int:
        return sum(len(c) for c in self._envs.values())
