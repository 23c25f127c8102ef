"""Which planned changes the daemon may apply on its own. Pure.

Argo CD's rules (gitops-reconcilers.md §1), per service:
- a commit not yet synced (git moved) is applied when `automated` is on, unless
  the service's declaration at that commit was already applied (the applied-spec
  tag, reconciler.apply.marker): then git brought nothing new for it;
- once a commit is synced, a difference is drift: reverted only with `selfHeal`,
  otherwise reported (also right after a restart);
- a failed commit is retried after an exponential backoff with a cap; a newer
  commit is applied at once (it supersedes the failed one);
- a manual rollback tag (`ecs-reconciler:paused-at-commit`) equal to the current
  commit pauses automated sync of that service until git moves;
- a sync window that holds the service (reconciler.windows) turns an apply or a self-heal
  into a wait ("window"); what was held is kept so drift is still reported;
- a declaration whose deployment AWS failed or rolled back (the failed-spec tag, written by
  whoever observed it, reconciler.apply.recovery) is not re-applied until git declares
  something else ("failed"); `reconciler sync` still applies it when a person asks.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from reconciler.apply.marker import already_applied, failed_before
from reconciler.model import PAUSED_TAG
from reconciler.plan import ServicePlan
from reconciler.windows import Verdict

Kind = Literal["apply", "self-heal", "report", "backoff", "paused", "approval", "window", "failed"]  # approval: held by a gate; window: by a sync window


@dataclass
class ServiceMemory:
    """What the daemon remembers about one service between cycles. Lost on restart: what survives
    is the applied-spec tag on the service (reconciler.apply.marker), so a restarted daemon still
    tells drift (declaration already applied) from a change in git (declaration never applied)."""

    synced_commit: str | None = None
    failed_commit: str | None = None
    failures: int = 0
    retry_at: float = 0.0
    drift_signature: str | None = None
    held_until: float | None = None      # a sync window holds the service until then
    held_signature: str | None = None    # the hold already reported (once per commit and window)


@dataclass(frozen=True)
class Choice:
    plan: ServicePlan
    kind: Kind
    reason: str
    held: Kind | None = None   # kind "window": what the window holds (apply or self-heal)

    @property
    def applies(self) -> bool:
        return self.kind in ("apply", "self-heal")


def backoff_delay(failures: int, base: float, cap: float) -> float:
    return min(cap, base * 2 ** max(0, failures - 1))


def decide(sp: ServicePlan, memory: ServiceMemory, sha: str, now: float,
           window: Verdict | None = None) -> Choice | None:
    """None when there is nothing to change (in-sync, unowned, invalid, unknown, orphan)."""
    choice = _decide(sp, memory, sha, now)
    if choice is not None and choice.applies and window is not None and window.blocked:
        return Choice(sp, "window", window.reason, held=choice.kind)
    return choice


def _decide(sp: ServicePlan, memory: ServiceMemory, sha: str, now: float) -> Choice | None:
    if not sp.changes_pending:
        return None
    policy = sp.policy
    paused = sp.live.tags.get(PAUSED_TAG) if sp.live is not None else None
    if paused and paused == sha:
        return Choice(sp, "paused", f"automated sync paused by a manual rollback at {sha[:8]} until git moves")
    if failed_before(sp.spec, sp.live):
        return Choice(sp, "failed", "AWS failed or rolled back the deployment of this declaration; not re-applied "
                                    "until git changes it (`reconciler sync` deploys it again)")
    if memory.failed_commit == sha and now < memory.retry_at:
        return Choice(sp, "backoff", f"commit {sha[:8]} failed {memory.failures}x; next retry after backoff")
    # A service whose current declaration was already applied (the marker tag the applier writes) has
    # nothing new from git: its differences are drift, also right after a restart that lost `memory`.
    git_change = memory.synced_commit != sha and not already_applied(sp.spec, sp.live)
    if git_change:
        if policy.automated:
            return Choice(sp, "apply", f"commit {sha[:8]} not applied yet")
        return Choice(sp, "report", "git changed; automated sync is off")
    if policy.automated and policy.self_heal:
        return Choice(sp, "self-heal", "changed outside git; self-heal is on")
    return Choice(sp, "report", "changed outside git; self-heal is off" if policy.automated
                  else "changed outside git; automated sync is off")


def drift_signature(sp: ServicePlan) -> str:
    """Identity of a drift (paths and live values), to report an unchanged drift only once."""
    return f"{sp.action}|" + "|".join(sorted(f"{c.path}={c.live!r}" for c in sp.drift.changes))
