"""One reconcile cycle: resolve commit → load → read live → plan → apply by policy → record.

Everything outside is injected (git source, loader, live reader, applier, sink,
clock), so the cycle is unit-tested with fakes and run for real by the daemon.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import structlog

from reconciler.daemon.cache import DesiredCache
from reconciler.daemon.health import service_health
from reconciler.daemon.leader import Fence
from reconciler.daemon.metrics import Metrics
from reconciler.daemon.policy import Choice, ServiceMemory, backoff_delay, decide, drift_signature
from reconciler.daemon.status import StatusBoard, SyncRecord
from reconciler.diff import CanonCache
from reconciler.events import CommitInfo, ReportEvent, ReportSink, ServiceReport
from reconciler.log import get_logger
from reconciler.manifests import ManifestError
from reconciler.model import DesiredState, Environment, LiveEnvironment
from reconciler.plan import Plan, ServicePlan, build_plan, changed_services
from reconciler.plan.build import effective_policy
from reconciler.source.git import GitError, Snapshot
from reconciler.windows import in_force, verdict

log = get_logger(__name__)

SUCCESS = frozenset({"succeeded", "in_progress", "noop"})
FAILURE = frozenset({"failed", "rolled_back"})


class Source(Protocol):
    last_fetch_seconds: float | None

    def resolve(self, current: Snapshot | None = None) -> Snapshot: ...


class ApplierLike(Protocol):
    def apply(self, plan: Plan, *, commit: CommitInfo | None = ..., wait: bool = ..., timeout: float = ...,
              should_continue: Callable[[], bool] = ...,
              environments: Mapping[str, Environment] | None = ..., record_failed: bool = ...) -> Any: ...


Loader = Callable[[Path], DesiredState]
LiveRead = Callable[[DesiredState], Mapping[str, LiveEnvironment]]
#: Live state of only some services (keys `env/name`), still batched: a push cycle's read.
ScopedRead = Callable[[DesiredState, Collection[str]], Mapping[str, LiveEnvironment]]


@dataclass(frozen=True)
class LoopSettings:
    instance: str = "ecs-reconciler"
    apply_wait: bool = True
    apply_timeout: float = 1800.0
    backoff_base: float = 30.0
    backoff_max: float = 900.0


@dataclass(frozen=True)
class CycleResult:
    full: bool                  # live state was read and compared
    ok: bool                    # git resolved and every environment was readable
    commit: str | None = None
    git_moved: bool = False
    applied: int = 0
    next_retry_at: float | None = None
    preempted: bool = False     # a drift scan that stepped aside for a pending push
    crashed: bool = False       # an unexpected exception ended the cycle (reported, then backed off)
    git_resolved: bool = True   # the branch head was read from git in this cycle
    scoped: int | None = None   # a push cycle that read and planned only this many changed services


class Preempted(Exception):
    """Raised at a yield point of a drift scan (Reconciler.checkpoint) when a push is waiting."""

    def __init__(self, stage: str) -> None:
        super().__init__(stage)
        self.stage = stage


#: Reports of a retried deployment that say nothing new when the commit failed before.
RETRY_QUIET = frozenset({"sync_started", "sync_failed", "sync_rolled_back"})


class RelaySink:
    """The applier's sink: marks self-heal re-syncs of an already-synced commit with their own
    dedup key, so the notifier reports them instead of taking them for the first sync; and keeps
    backoff retries of a commit that already failed quiet (one report per failed commit: only a
    success, or a newer commit, is news)."""

    def __init__(self, target: ReportSink) -> None:
        self.target = target
        self.self_heal: dict[str, str] = {}
        self.retrying: set[str] = set()

    def emit(self, event: ReportEvent) -> None:
        if event.kind in RETRY_QUIET and self.retrying:
            kept = tuple(s for s in event.services if f"{s.environment}/{s.service}" not in self.retrying)
            if not kept:
                log.info("retry_report_suppressed", kind=event.kind)
                return
            event = replace(event, services=kept)
        keys = {f"{s.environment}/{s.service}" for s in event.services}
        marks = sorted(self.self_heal[k] for k in keys if k in self.self_heal)
        if marks:
            event = replace(event, extra={**event.extra, "action": "self-heal",
                                          "dedup_key": f"{event.dedup_key}:self-heal:{'/'.join(marks)}"})
        self.target.emit(event)


class Reconciler:
    def __init__(self, source: Source, load: Loader, read_live: LiveRead, applier: ApplierLike, sink: RelaySink,
                 board: StatusBoard, metrics: Metrics, settings: LoopSettings, *,
                 is_leader: Callable[[], bool] = lambda: True, stopping: Callable[[], bool] = lambda: False,
                 clock: Callable[[], float] = time.time,
                 planner: Callable[..., Plan] | None = None,
                 gate: Callable[..., list[Choice]] | None = None, fence: Fence | None = None,
                 view: Callable[[Any], DesiredState] | None = None,
                 changes: Callable[[str, str], list[str] | None] | None = None,
                 read_scoped: ScopedRead | None = None, owns: Callable[[str], bool] | None = None) -> None:
        self.fence = fence
        #: Sharded: whether this replica reconciles service `env/name` now (its shard's lease is held).
        self.owns = owns
        #: The desired side normalised once per commit and service (the default planner's).
        self.canon = CanonCache()
        self.planner = planner or self._build_plan
        self.source, self.load, self.read_live, self.applier = source, load, read_live, applier
        #: With `view` + `changes` (the source's changed paths), new commits load incrementally.
        self.desired_cache = DesiredCache(lambda root: self.load(root), view=view, changes=changes)
        #: With it, a push cycle reads, plans and applies only the services its commit changed.
        self.read_scoped = read_scoped
        #: Set by the Daemon: given the commit being scanned, is a push for another commit waiting?
        self.interrupted: Callable[[str], bool] = lambda sha: False
        #: The commit of the drift scan now reading or planning, while it may give way (loop thread).
        self._yielding_for: str | None = None
        self.sink, self.board, self.metrics, self.settings = sink, board, metrics, settings
        self.is_leader, self.stopping, self.clock = is_leader, stopping, clock
        self.snapshot: Snapshot | None = None
        self.memory: dict[str, ServiceMemory] = {}
        self._degraded: dict[str, str] = {}
        self._degraded_signature: dict[str, str] = {}
        self._crashes = 0
        self._invalid_reported: str | None = None
        self._follow_on_next_apply = True
        #: Deployments of unknown services may be running (start, new leadership): no push scope then.
        self._follow_unknown = True
        #: Services whose last deployment was left in progress: a push cycle follows them too.
        self._in_progress: set[str] = set()
        #: Approval gates (reconciler.daemon.approvals.ApprovalGate.hold): hold gated changes until approved.
        self.gate = gate
        self._follow_lock = threading.Lock()  # set by the lease thread, taken by the loop thread

    def leadership_gained(self) -> None:
        """A new leader follows deployments its predecessor left running."""
        with self._follow_lock:
            self._follow_on_next_apply = self._follow_unknown = True

    def _may_act(self) -> bool:
        """Leader, in the lease term this apply started under, and not shutting down."""
        leader = self.fence.valid() if self.fence is not None else self.is_leader()
        return leader and not self.stopping()

    # -- events ---------------------------------------------------------------------
    def _emit(self, event: ReportEvent) -> None:
        if not self.is_leader():
            return  # the standby observes but never reports (one message per state, not per replica)
        try:
            self.sink.target.emit(event)
        except Exception as exc:  # noqa: BLE001 - reporting never breaks reconciling
            log.warning("report_sink_failed", kind=event.kind, error=str(exc))

    def _degrade(self, key: str, reason: str, detail: str, signature: str | None = None) -> None:
        """Report a degradation once: again only when its reason (or `signature`, e.g. the commit) changes."""
        signature = f"{reason}|{signature or ''}"
        if self._degraded_signature.get(key) != signature:
            self._degraded[key] = reason
            self._degraded_signature[key] = signature
            log.warning("reconciler_degraded", reason=reason, error=detail)
            self._emit(ReportEvent(kind="reconciler_degraded", reason=reason, extra={"error": detail},
                                   commit=self.snapshot.commit if self.snapshot else None))
        self.board.set_daemon(degraded=dict(self._degraded))

    def _recover(self, key: str) -> None:
        reason = self._degraded.pop(key, None)
        self._degraded_signature.pop(key, None)
        if reason is not None:
            log.info("reconciler_recovered", reason=reason)
            self._emit(ReportEvent(kind="reconciler_recovered", reason=reason,
                                   commit=self.snapshot.commit if self.snapshot else None))
        self.board.set_daemon(degraded=dict(self._degraded))

    def _build_plan(self, desired: DesiredState, live: Mapping[str, LiveEnvironment], instance: str, *,
                    only: Collection[str] | None = None) -> Plan:
        return build_plan(desired, live, instance, only=only, canon=lambda spec: self.canon.get(desired.commit, spec),
                          step=lambda: self.checkpoint("planning"))

    def checkpoint(self, stage: str = "reading") -> None:
        """A yield point of a drift scan: between DescribeServices batches (the live reader) and
        between services (the planner). Raises Preempted when the scan may give way and a push is
        waiting; a no-op anywhere else (push cycles, retries, applying: writes are never cut)."""
        sha = self._yielding_for
        if sha is not None and self.interrupted(sha):
            raise Preempted(stage)

    # -- the cycle --------------------------------------------------------------------
    def cycle(self, *, full: bool) -> CycleResult:
        """Check git; when it moved (or `full`), compare with AWS and apply what policy allows."""
        started = time.monotonic()
        kind = "full" if full else "head"
        try:
            result = self._cycle(full)
        except Exception as exc:  # noqa: BLE001 - the one catch: reported once, then backed off
            return self._crashed(kind, exc)
        self._crashes = 0
        self._recover("cycle")
        kind = "full" if result.full else "push" if result.scoped is not None else "head"
        self.metrics.cycle_duration.labels(kind).observe(time.monotonic() - started)
        self.metrics.cycles.labels(kind, "ok" if result.ok else "error").inc()
        if result.preempted:
            return result  # not a completed cycle: the push cycle right after it is
        now = self.clock()
        self.board.set_daemon(cycles=self.board.daemon["cycles"] + 1, lastCycleAt=_iso(now))
        if result.ok:
            self.metrics.last_success.set(now)
            self.board.set_daemon(lastSuccessfulCycleAt=_iso(now))
        return result

    def _crashed(self, kind: str, exc: Exception) -> CycleResult:
        """An unexpected failure: logged with its traceback, reported once, retried after a backoff
        (never at once: a deterministic crash would otherwise spin and hammer git)."""
        self.metrics.cycles.labels(kind, "error").inc()
        self._crashes += 1
        log.error("cycle_crashed", consecutive=self._crashes, exc_info=exc)
        sha = self.snapshot.sha if self.snapshot else None
        self._degrade("cycle", "reconcile cycle failed", f"{exc.__class__.__name__}: {exc}", signature=sha)
        now = self.clock()
        self.board.set_daemon(cycles=self.board.daemon["cycles"] + 1, lastCycleAt=_iso(now))
        delay = backoff_delay(self._crashes, self.settings.backoff_base, self.settings.backoff_max)
        return CycleResult(full=False, ok=False, commit=sha, crashed=True, next_retry_at=now + delay)

    def _cycle(self, full: bool) -> CycleResult:
        previous = self.snapshot
        try:
            snapshot = self.source.resolve(previous)
            self.metrics.git_checks.labels("ok").inc()
            if snapshot is not previous and self.source.last_fetch_seconds is not None:
                self.metrics.git_fetch.observe(self.source.last_fetch_seconds)
            self._recover("git")
        except GitError as exc:
            self.metrics.git_checks.labels("error").inc()
            reason = "commit unusable" if exc.operation in ("archive", "show") else "git unreachable"
            self._degrade("git", reason, str(exc))
            if previous is None or not full:
                return CycleResult(full=False, ok=False, commit=previous.sha if previous else None,
                                   git_resolved=False)
            # Keep checking drift against the last known commit.
            return replace(self._scan(previous, previous, full), git_resolved=False)
        return self._scan(previous, snapshot, full)

    def _scan(self, previous: Snapshot | None, snapshot: Snapshot, full: bool) -> CycleResult:
        self.snapshot = snapshot
        git_moved = previous is None or snapshot.sha != previous.sha
        self.board.set_daemon(commit=_commit_json(snapshot.commit))
        retry_due = any(m.failed_commit == snapshot.sha and m.retry_at <= self.clock() for m in self.memory.values())
        retry_due = retry_due or any(m.held_until is not None and m.held_until <= self.clock()
                                     for m in self.memory.values())  # a sync window closed
        if not (full or git_moved or retry_due):
            # Nothing re-evaluated: still failing if the last evaluation left something degraded
            # (an unusable commit, unreadable AWS), so readiness does not flap between scans.
            return CycleResult(full=False, ok=not self._degraded, commit=snapshot.sha)
        with structlog.contextvars.bound_contextvars(commit=snapshot.commit.short):
            if git_moved:
                log.info("commit_resolved", title=snapshot.commit.title, author=snapshot.commit.author)
            base = previous.sha if previous is not None and git_moved and not full else None
            return self._reconcile(snapshot, git_moved, git_ok="git" not in self._degraded,
                                   preemptible=not (git_moved or retry_due), base=base)

    def _read_and_plan(self, desired: DesiredState, sha: str, preemptible: bool,
                       scope: frozenset[str] | None) -> tuple[Mapping[str, LiveEnvironment], Plan] | None:
        """Live state and plan; None when a drift scan of an unchanged commit gave way to a push
        waiting behind it (before reading, between DescribeServices batches, between services):
        finishing the scan first would delay the deployment by a whole scan. Nothing was written
        or recorded by then; the push runs next (as a push cycle), the scan, still due, right
        after it from the start (runner.Daemon.loop)."""
        self._yielding_for = sha if preemptible else None
        try:
            self.checkpoint("before-read")
            live = self.read_live(desired) if scope is None or self.read_scoped is None else \
                self.read_scoped(desired, scope)
            self.checkpoint("before-plan")
            only = scope if self.owns is None else self._owned(desired, live, scope)
            plan = self.planner(desired, live, self.settings.instance) if only is None else \
                self.planner(desired, live, self.settings.instance, only=only)
        except Preempted as exc:
            log.info("drift_scan_preempted", stage=exc.stage)
            return None
        finally:
            self._yielding_for = None
        return live, plan

    def _push_scope(self, base: str | None, desired: DesiredState) -> frozenset[str] | None:
        """The services a push cycle needs to look at, or None for all of them (a complete cycle).

        Only a commit moved from a loaded one, by a push or poll rather than the drift scan, is
        scoped: the services whose declaration changed, plus every service not settled at the
        base commit (failed, backing off, unknown, never synced), so nothing waiting is
        skipped, and every service whose deployment was left in progress (followed). Never
        scoped: without a scoped reader, before the first apply after start or a new leadership
        (deployments of any service may be running), or when an approval gate is in play (its
        request covers the whole environment's changes)."""
        if self.read_scoped is None or base is None or self._follow_unknown:
            return None
        old = self.desired_cache.get(base)
        if old is None:
            return None
        envs = desired.environments
        if any(effective_policy(s, envs[s.environment].sync_policy).approval is not None
               for s in desired.services if s.environment in envs):
            return None
        unsettled = {k for k, m in self.memory.items()
                     if m.synced_commit != base or m.failed_commit is not None}
        return changed_services(replace(old, commit=base), desired) | unsettled | self._in_progress

    def _reconcile(self, snapshot: Snapshot, git_moved: bool, git_ok: bool,
                   preemptible: bool = False, base: str | None = None) -> CycleResult:
        sha = snapshot.sha
        try:
            # One commit's manifests never change: a scan at the same commit reuses its parse.
            desired = replace(self.desired_cache.load(sha, snapshot.root), commit=sha)
        except Exception as exc:  # noqa: BLE001 - e.g. the configured path is missing at this commit
            # Never treated as "git declares nothing": no plan, so nothing can be pruned.
            if not isinstance(exc, ManifestError):  # a bug or an unexpected input: keep the traceback
                log.error("manifest_load_crashed", exc_info=exc)
            self._degrade("manifests", "manifest repository unreadable", str(exc), signature=sha)
            return CycleResult(full=True, ok=False, commit=sha, git_moved=git_moved)
        self._recover("manifests")
        self._report_issues(desired, snapshot.commit)
        scope = self._push_scope(base, desired)
        if scope is not None and self.owns is not None:
            scope = frozenset(k for k in scope if self.owns(k))
        if scope is not None:
            log.info("push_scoped", services=len(scope))
        read = self._read_and_plan(desired, sha, preemptible, scope)
        if read is None:
            return CycleResult(full=False, ok=True, commit=sha, preempted=True)
        live, plan = read
        aws_ok = True
        for name, env_live in live.items():
            if env_live.error:
                aws_ok = False
                self._degrade(f"aws:{name}", f"AWS unreadable for environment {name}", env_live.error)
            else:
                self._recover(f"aws:{name}")
        now = self.clock()
        self.board.set_daemon(syncWindows={name: in_force(env.sync_windows, now)
                                           for name, env in sorted(desired.environments.items()) if env.sync_windows})
        from reconciler.apply import needs_follow

        choices: list[Choice] = []
        for sp in plan.services:
            memory = self.memory.setdefault(sp.key, ServiceMemory())
            # In sync only once its deployment ended: one still rolling out may yet fail and roll back
            # (a standby that took it for synced would then call the rollback drift, not a failed change).
            if sp.action == "in-sync" and not needs_follow(sp):
                memory.synced_commit = sha
                memory.failed_commit, memory.failures = None, 0
            env = desired.environments.get(sp.environment)
            window = verdict(sp.environment, env.sync_windows, sp.name, now) if env and env.sync_windows else None
            choice = decide(sp, memory, sha, now, window)
            if choice is not None and choice.kind == "failed":  # recorded in AWS: no retry is due
                memory.failed_commit, memory.failures = None, 0
            memory.held_until = window.until if choice is not None and choice.kind == "window" and window else None
            if choice is not None:
                choices.append(choice)
        if self.gate is not None:
            choices = self.gate(plan, choices, snapshot.commit, leader=self.is_leader() and not self.stopping())
        by_key = {c.plan.key: c for c in choices}
        for sp in plan.services:
            self._record_plan(sp, by_key.get(sp.key))
        self._report_drift(plan, choices, snapshot.commit)
        applied = 0
        if self.is_leader() and not self.stopping():
            applied = self._apply(plan, desired, choices, snapshot.commit)
        keys = {sp.key for sp in plan.services}
        if scope is not None:
            # Outside the push nothing was looked at: those services keep their state, and one that
            # was synced at the base commit is synced at this one (its declaration did not change).
            keys |= self.board.keys() - scope
            for key in keys - scope:
                memory = self.memory.get(key)
                if memory is not None and memory.synced_commit == base:
                    memory.synced_commit = sha
        if self.owns is not None:  # services of shards held elsewhere now: theirs to report, not ours
            keys = {k for k in keys if self.owns(k)}
            self.board.retain({k for k in self.board.keys() if self.owns(k)})
        self._report_unmanaged(keys, snapshot.commit)
        self.board.retain(keys)
        self.memory = {k: v for k, v in self.memory.items() if k in keys}
        self._in_progress &= keys
        self.metrics.set_service_counts(*self.board.counts())
        retries = [m.retry_at for m in self.memory.values() if m.failed_commit == sha]
        retries += [m.held_until for m in self.memory.values() if m.held_until is not None]
        return CycleResult(full=scope is None, ok=git_ok and aws_ok, commit=sha, git_moved=git_moved,
                           applied=applied, next_retry_at=min(retries) if retries else None,
                           scoped=len(scope) if scope is not None else None)

    def _owned(self, desired: DesiredState, live: Mapping[str, LiveEnvironment],
               scope: frozenset[str] | None) -> frozenset[str]:
        """Sharded: the services to plan, declared or found in AWS, whose shard this replica holds."""
        keys = {s.key for s in desired.services} | set(desired.broken_services)
        keys |= {f"{env}/{name}" for env, env_live in live.items() for name in env_live.services}
        return frozenset(k for k in keys if self.owns is not None and self.owns(k)
                         and (scope is None or k in scope))

    # -- recording ------------------------------------------------------------------------
    def _record_plan(self, sp: ServicePlan, choice: Choice | None) -> None:
        if sp.action == "in-sync":
            sync = "Synced"
        elif sp.action in ("invalid", "unknown"):
            sync = "Unknown"
        else:
            sync = "OutOfSync"
        health = service_health(sp.live.service if sp.live else None) if sp.action != "unknown" else "Unknown"
        reason = choice.reason if choice else sp.reason
        with structlog.contextvars.bound_contextvars(service=sp.key):
            if sp.action not in ("in-sync",):
                log.info("service_planned", action=sp.action, decision=choice.kind if choice else None, reason=reason)
        self.board.update(sp.environment, sp.name, sync=sync, health=health, action=sp.action, reason=reason,
                          drift=sp.drift.paths())
        if choice is not None and choice.kind == "failed" and not self.board.service(sp.environment, sp.name).last_error:
            # Recorded in AWS (failed-spec tag) by an earlier leader: /status says so after a restart too.
            self.board.update(sp.environment, sp.name, last_error=reason)

    def _report_issues(self, desired: DesiredState, commit: CommitInfo) -> None:
        issues = tuple(sorted(str(i) for i in desired.errors))
        self.board.set_daemon(manifestIssues=list(issues))
        for key in desired.broken_services:
            env, _, name = key.partition("/")
            self.board.update(env, name, last_error="manifest invalid")
        signature = f"{commit.sha}|{'|'.join(issues)}"
        if issues and signature != self._invalid_reported:
            log.warning("manifest_invalid", issues=list(issues))
            self._emit(ReportEvent(kind="manifest_invalid", commit=commit, issues=issues,
                                   services=tuple(ServiceReport(environment=k.partition("/")[0],
                                                                service=k.partition("/")[2])
                                                  for k in sorted(desired.broken_services))))
        self._invalid_reported = signature if issues else None

    def _report_drift(self, plan: Plan, choices: list[Choice], commit: CommitInfo) -> None:
        by_key = {c.plan.key: c for c in choices}
        for sp in plan.services:
            memory = self.memory[sp.key]
            choice = by_key.get(sp.key)
            if choice is not None and choice.kind == "window" and choice.held == "apply":
                self._report_held(sp, choice, commit, memory)
            elif choice is not None and (choice.kind in ("self-heal", "report", "paused") or choice.kind == "window"):
                signature = drift_signature(sp)
                if signature != memory.drift_signature:
                    memory.drift_signature = signature
                    action = "self-heal" if choice.kind == "self-heal" else "report-only"
                    message = f"self-heal waits: {choice.reason}" if choice.kind == "window" else choice.reason
                    with structlog.contextvars.bound_contextvars(service=sp.key):
                        log.info("drift_detected", paths=sp.drift.paths(), action=action)
                    self._emit(ReportEvent(kind="drift_detected", environment=sp.environment, commit=commit,
                                           services=(ServiceReport(environment=sp.environment, service=sp.name,
                                                                   changes=sp.drift.changes, action=action,
                                                                   message=message),)))
            elif sp.action == "in-sync" and memory.drift_signature is not None:
                self._resolve_drift(sp.environment, sp.name, commit, memory)

    def _report_unmanaged(self, keys: set[str], commit: CommitInfo) -> None:
        """Services that left git with their environment (and are no longer read from AWS): say so
        once, instead of letting them vanish from /status and /metrics without a word."""
        gone: dict[str, list[str]] = {}
        for key in sorted(self.board.keys() - keys):
            env, _, name = key.partition("/")
            gone.setdefault(env, []).append(name)
        for env, names in gone.items():
            log.warning("service_unmanaged", environment=env, services=names)
            self._emit(ReportEvent(kind="service_unmanaged", environment=env, commit=commit,
                                   reason="no longer declared in git; left running in AWS, not deleted",
                                   services=tuple(ServiceReport(environment=env, service=n) for n in names)))

    def _report_held(self, sp: ServicePlan, choice: Choice, commit: CommitInfo, memory: ServiceMemory) -> None:
        """A git change a sync window holds: said once per commit and window, applied when it closes."""
        signature = f"{commit.sha}|{memory.held_until}"
        if signature == memory.held_signature:
            return
        memory.held_signature = signature
        with structlog.contextvars.bound_contextvars(service=sp.key):
            log.info("window_held", reason=choice.reason)
        self._emit(ReportEvent(kind="window_held", environment=sp.environment, commit=commit,
                               services=(ServiceReport(environment=sp.environment, service=sp.name,
                                                       changes=sp.drift.changes, status="held",
                                                       message=f"automated sync waits: {choice.reason}"),)))

    def _resolve_drift(self, env: str, name: str, commit: CommitInfo, memory: ServiceMemory) -> None:
        memory.drift_signature = None
        with structlog.contextvars.bound_contextvars(service=f"{env}/{name}"):
            log.info("drift_resolved")
        self._emit(ReportEvent(kind="drift_resolved", environment=env, commit=commit,
                               services=(ServiceReport(environment=env, service=name),)))

    # -- applying -----------------------------------------------------------------------
    def _apply(self, plan: Plan, desired: DesiredState, choices: list[Choice], commit: CommitInfo) -> int:
        from reconciler.apply import needs_follow, needs_record  # the daemon's only ties to apply internals

        chosen = {c.plan.key: c for c in choices if c.applies}
        with self._follow_lock:
            follow_all, self._follow_on_next_apply = self._follow_on_next_apply, False
            self._follow_unknown = False
        # Deployments a predecessor left running are followed once leadership is gained; rollouts that
        # completed unrecorded (whoever started them) are recorded on every full cycle, from AWS.
        follow = [sp for sp in plan.services
                  if (follow_all and needs_follow(sp)) or needs_record(sp, self.settings.instance)]
        if follow_all:  # planned and not running any more: nothing left to follow there
            self._in_progress -= {sp.key for sp in plan.services} - {sp.key for sp in follow}
        if not chosen and not follow:
            return 0
        work = Plan(services=tuple(sp for sp in plan.services if sp.key in chosen) + tuple(follow),
                    issues=plan.issues, commit=commit.sha)
        self.sink.self_heal = {k: drift_signature(c.plan)[:64] for k, c in chosen.items() if c.kind == "self-heal"}
        self.sink.retrying = {k for k in chosen if k in self.memory and self.memory[k].failed_commit == commit.sha}
        log.info("apply_started", services=sorted(chosen), follow=[sp.key for sp in follow])
        with self.fence.term() if self.fence is not None else contextlib.nullcontext():
            result = self.applier.apply(work, commit=commit, wait=self.settings.apply_wait,
                                        timeout=self.settings.apply_timeout, should_continue=self._may_act,
                                        environments=desired.environments, record_failed=True)
        now = self.clock()
        for r in result.services:
            self._record_result(r, chosen.get(r.key), commit, now)
        return len(result.services)

    def _record_result(self, r: Any, choice: Choice | None, commit: CommitInfo, now: float) -> None:
        memory = self.memory.setdefault(r.key, ServiceMemory())
        action = "self-heal" if choice is not None and choice.kind == "self-heal" else r.action
        self.metrics.syncs.labels(r.status).inc()
        self.board.record(r.environment, r.service, SyncRecord(commit=commit.sha, action=action, status=r.status,
                                                               at=_iso(now), deployment_id=r.deployment_id,
                                                               message=failure_text(r) if r.status in FAILURE
                                                               else r.message))
        with structlog.contextvars.bound_contextvars(service=r.key):
            log.info("sync_result", action=action, status=r.status, deployment=r.deployment_id, message=r.message)
        if r.status == "in_progress":
            with self._follow_lock:  # outcome unknown (or not waited for): follow it on the next cycle
                self._follow_on_next_apply = True
            self._in_progress.add(r.key)
        else:
            self._in_progress.discard(r.key)
        if r.status in SUCCESS:
            memory.synced_commit = commit.sha
            memory.failed_commit, memory.failures = None, 0
            health = "Progressing" if r.status == "in_progress" else "Healthy"
            self.board.update(r.environment, r.service, sync="Synced", health=health, drift=[],
                              last_applied_commit=commit.sha, last_error=None, action="in-sync")
            if memory.drift_signature is not None:
                self._resolve_drift(r.environment, r.service, commit, memory)
        elif r.status in FAILURE:
            memory.synced_commit = commit.sha if choice is not None and choice.kind == "self-heal" else None
            memory.failures = memory.failures + 1 if memory.failed_commit == commit.sha else 1
            memory.failed_commit = commit.sha
            memory.retry_at = now + backoff_delay(memory.failures, self.settings.backoff_base,
                                                  self.settings.backoff_max)
            self.board.update(r.environment, r.service, sync="OutOfSync", health="Degraded",
                              last_error=failure_text(r))


def failure_text(result: Any) -> str:
    """What went wrong, with the failing tasks' stopped reasons: what a person needs to act."""
    text = result.message or result.status
    reasons = list(dict.fromkeys(result.stopped_reasons or ()))[:3]
    if reasons:
        text += "; stopped: " + "; ".join(reasons)
    if result.rolled_back and "rolled back" not in text.lower():
        text += " (AWS rolled back)"
    return text


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")


def _commit_json(commit: CommitInfo) -> dict[str, Any]:
    return {"sha": commit.sha, "title": commit.title, "author": commit.author, "timestamp": commit.timestamp,
            "url": commit.url}
