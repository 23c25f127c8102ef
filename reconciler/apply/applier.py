"""Apply a plan: create, update (rolling or CodeDeploy), prune, follow deployments in flight.

Services run in a bounded thread pool, each isolated: one failure never stops
the others, and the overall result names every failed service. Every operation
has a deadline; `should_continue()` turning false stops new work from starting
(a newer commit supersedes this one).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import structlog

from reconciler.apply.appspec import AppSpecError
from reconciler.apply.attempts import AttemptHistory
from reconciler.apply.clock import Clock
from reconciler.apply.continuation import acting_for, context_with, keep_waiting
from reconciler.apply.deployments import Deployments, DeployRequest, with_outcome
from reconciler.apply.fields import (
    DEPLOYMENT_FIELDS,
    changed_fields,
    create_params,
    image_changes,
    tag_changes,
    update_params,
)
from reconciler.apply.hooks import HookRunner
from reconciler.apply.marker import applied_marker, applied_tags
from reconciler.apply.native import maybe_in_flight
from reconciler.apply.preflight import verify_plan
from reconciler.apply.progress import Progress, ProgressCallback
from reconciler.apply.recovery import attempted, completed, needs_record, newly_deployed
from reconciler.apply.reports import FINAL_KINDS, emit, emit_milestone, service_report
from reconciler.apply.result import ApplyResult, ServiceResult
from reconciler.apply.revisions import resolve_revision
from reconciler.apply.rollback import Rollback
from reconciler.apply.rolling import in_flight, stopped_reasons
from reconciler.aws.codedeploy import CodeDeploy
from reconciler.aws.ecs_write import CODE_DEPLOY_UPDATABLE, EcsWriter, update_service_fields
from reconciler.aws.errors import AwsAccessDenied, AwsError
from reconciler.aws.taskdefs import TaskDefinitions
from reconciler.desired import controller_move_problem, is_code_deploy
from reconciler.events import CommitInfo, ReportSink
from reconciler.log import get_logger
from reconciler.manifests.ecs_deployments import native_strategy
from reconciler.model import (
    ATTEMPT_TAG,
    FAILED_TAG,
    PAUSED_TAG,
    Environment,
    LiveService,
    ServiceSpec,
    ownership_problem,
    ownership_tags,
)
from reconciler.plan import Plan, ServicePlan
from reconciler.verify import Verification, Verifier

log = get_logger(__name__)

APPLIED_ACTIONS = frozenset({"update", "create", "prune"})
NO_DEPLOYMENT = frozenset({"desiredCount", "tags"})  # service fields whose change starts no deployment
NOT_STARTED = "not started: superseded, shutting down or no longer the leader"


def needs_follow(sp: ServicePlan) -> bool:
    """An in-sync service whose deployment is still rolling out (e.g. a sync killed mid-deployment)."""
    if sp.action != "in-sync" or sp.live is None:
        return False
    svc = sp.live.service
    if in_flight(svc) or maybe_in_flight(svc):
        return True
    return any(ts.get("status") == "ACTIVE" and ts.get("startedBy") == "CODE_DEPLOY"
               for ts in svc.get("taskSets") or [])


class Applier:
    """Applies plans and rolls services back; every collaborator is passed in (`build_applier` wires
    the real ones from AWS clients), so tests hand it fakes instead of patching it."""

    def __init__(self, instance: str, sink: ReportSink, *, ecs: EcsWriter, codedeploy: CodeDeploy,
                 taskdefs: TaskDefinitions, deployments: Deployments, clock: Clock, max_parallel: int = 8,
                 on_progress: ProgressCallback | None = None, verifier: Verifier | None = None,
                 hooks: HookRunner | None = None, attempts: AttemptHistory | None = None) -> None:
        self.instance = instance
        self.sink = sink
        self.max_parallel = max(1, max_parallel)
        self.clock = clock
        self.on_progress = on_progress
        self.ecs = ecs
        self.codedeploy = codedeploy
        self.taskdefs = taskdefs
        self.deployments = deployments
        self.verifier = verifier   # checks images, secrets, roles... before any write
        self.hooks = hooks         # runs gitops.hooks preSync / postSync tasks
        self.attempts = attempts   # how AWS ended a deployment we started and nobody followed
        self._rollback = Rollback(instance, ecs=ecs, codedeploy=codedeploy, taskdefs=taskdefs,
                                  deployments=deployments, clock=clock, on_progress=on_progress)

    # -- the plan -------------------------------------------------------------------
    def apply(self, plan: Plan, *, commit: CommitInfo | None = None, wait: bool = True, timeout: float = 1800,
              dry_run: bool = False, should_continue: Callable[[], bool] = lambda: True,
              environments: Mapping[str, Environment] | None = None, record_failed: bool = False) -> ApplyResult:
        """`environments` overrides the plan's own environment settings (cluster, region, role).
        `record_failed` (the daemon): a change whose deployment AWS already failed or rolled back
        while nobody followed it is recorded as failed instead of deployed again
        (reconciler.apply.recovery); without it (`reconciler sync`, a person asking) it is deployed."""
        work = [sp for sp in plan.services
                if sp.action in APPLIED_ACTIONS or needs_follow(sp) or needs_record(sp, self.instance)]
        envs = dict(environments or plan.environments)
        sha = commit.sha if commit else plan.commit

        if not work:
            return ApplyResult(())
        checked = verify_plan(self.verifier, work, envs, sha) if self.verifier is not None else {}
        context = context_with(should_continue)

        def one(sp: ServicePlan) -> ServiceResult:
            with structlog.contextvars.bound_contextvars(service=sp.key), acting_for(sp.key):
                return self._apply_one(sp, envs.get(sp.environment), commit, sha, wait, timeout, dry_run,
                                       should_continue, checked.get(sp.key), record_failed and not dry_run)

        def in_context(sp: ServicePlan) -> ServiceResult:
            # Workers run in a copy of the caller's context, so structlog's bound contextvars
            # (the daemon binds `commit`) reach every apply log line; one copy per task, as
            # a Context cannot be entered by two threads at once.
            return context.copy().run(one, sp)

        with ThreadPoolExecutor(max_workers=min(self.max_parallel, len(work)),
                                thread_name_prefix="apply") as pool:
            results = list(pool.map(in_context, work))
        return ApplyResult(tuple(results))

    def _apply_one(self, sp: ServicePlan, env: Environment | None, commit: CommitInfo | None, sha: str | None,
                   wait: bool, timeout: float, dry_run: bool, should_continue: Callable[[], bool],
                   verification: Verification | None = None, record_failed: bool = False) -> ServiceResult:
        start = self.clock.now()
        action = "follow" if sp.action == "in-sync" else sp.action
        base = ServiceResult(sp.environment, sp.name, action, "skipped")
        if env is None:
            return replace(base, status="failed", message=f"environment {sp.environment!r} is not configured")
        if not should_continue():
            return replace(base, message=NOT_STARTED)
        limit = timeout
        if sp.spec is not None:
            limit = min(timeout, float(sp.spec.gitops.wait_timeout_seconds))
        deadline = start + limit
        images = image_changes(sp.spec.task_definition if sp.spec else None,
                               sp.live.task_definition_data() if sp.live else None) if sp.action != "prune" else ()
        strategy = self.deployments.controller(sp.spec, sp.live.service if sp.live else None).strategy
        progress = Progress(sp.key, self.on_progress, on_milestone=None if dry_run else lambda line, awaiting: (
            emit_milestone(self.sink, sp, service_report(sp, images, strategy), commit, line, awaiting=awaiting)))
        if verification is not None:
            base = replace(base, image_digests=tuple(sorted(verification.digests.items())))
            if not verification.ok:
                # Refused before any write (no RegisterTaskDefinition, no UpdateService); one sync_failed report.
                result = replace(base, status="failed", message=verification.summary())
                if not dry_run:
                    emit(self.sink, "sync_failed", sp, service_report(sp, images, strategy, result), commit)
                log.info("service_applied", service=sp.key, action=action, status=result.status, message=result.message)
                return result
        recorded = self._record_failed(sp, env, base) if record_failed else None
        if recorded is not None:  # AWS already failed this change: recorded, not deployed again
            kind = FINAL_KINDS.get(recorded.status)
            if kind:
                emit(self.sink, kind, sp, service_report(sp, images, strategy, recorded), commit)
            log.info("service_applied", service=sp.key, action=action, status=recorded.status,
                     deployment=recorded.deployment_id, message=recorded.message)
            return recorded
        if not dry_run and action != "follow":
            emit(self.sink, "sync_started", sp, service_report(sp, images, strategy), commit)
        try:
            if action == "prune":
                result = self._prune(sp, env, base, dry_run)
            elif action == "create":
                result = self._create(sp, env, base, sha, wait, deadline, dry_run, progress)
            elif action == "follow":
                result = self._follow(sp, env, base, sha, deadline, wait, progress)
            else:
                result = self._update(sp, env, base, sha, wait, deadline, dry_run, progress)
            result = self._post_sync(sp, env, result, sha, deadline, wait, dry_run, progress)
        except (AwsError, AppSpecError) as exc:
            log.warning("apply_failed", service=sp.key, error=str(exc))
            result = replace(base, status="failed", message=str(exc))
        except Exception as exc:  # noqa: BLE001 - isolate services from each other's bugs
            log.exception("apply_crashed", service=sp.key)
            result = replace(base, status="failed", message=f"internal error: {exc!r}")
        result = replace(result, duration_seconds=max(0.0, self.clock.now() - start))
        kind = FINAL_KINDS.get(result.status)
        if kind and not dry_run:
            emit(self.sink, kind, sp, service_report(sp, images, strategy, result), commit)
        log.info("service_applied", service=sp.key, action=action, status=result.status,
                 deployment=result.deployment_id, message=result.message)
        return result

    # -- actions ---------------------------------------------------------------------
    def _prune(self, sp: ServicePlan, env: Environment, base: ServiceResult, dry_run: bool) -> ServiceResult:
        fresh = self.ecs.describe_service(env, sp.name)
        if fresh is None:
            return replace(base, status="noop", message="already gone")
        not_ours = ownership_problem(fresh.get("tags"), self.instance, sp.environment)
        if not_ours:  # re-checked on the fresh describe: never delete what is no longer ours
            return replace(base, message=f"not pruned: {not_ours}")
        if dry_run:
            return replace(base, message="dry run: would scale to 0 and delete")
        self.ecs.delete_service(env, sp.name)
        return replace(base, status="succeeded", message="scaled to 0 and deleted")

    def _create(self, sp: ServicePlan, env: Environment, base: ServiceResult, sha: str | None, wait: bool,
                deadline: float, dry_run: bool, progress: Progress) -> ServiceResult:
        spec = _spec(sp)
        rev = resolve_revision(self.taskdefs, env, spec, None, instance=self.instance, commit=sha, dry_run=dry_run)
        base = replace(base, task_definition_arn=rev.arn, registered=rev.registered)
        if dry_run:
            return replace(base, message="dry run: would create" + (" (register a revision)" if rev.registered else ""))
        if not keep_waiting():
            return replace(base, message=NOT_STARTED)
        held = self._pre_sync(sp, env, base, str(rev.arn), sha, deadline, progress)
        if held is not None:
            return held
        svc = self.ecs.create_service(env, create_params(spec, str(rev.arn), self.instance,
                                                         extra_tags=applied_tags(spec, sha)))
        request = DeployRequest(env, sp.name, str(rev.arn), svc, spec)
        return self.deployments.created(request, base, wait, deadline, progress)

    def _follow(self, sp: ServicePlan, env: Environment, base: ServiceResult, sha: str | None, deadline: float,
                wait: bool, progress: Progress) -> ServiceResult:
        live = _live(sp)
        request = DeployRequest(env, sp.name, str(live.service.get("taskDefinition") or ""), live.service, sp.spec)
        running = self.deployments.in_flight(request)
        if running is None:
            recorded = self._record_completed(env, sp, base, sha)
            if recorded is not None:
                return recorded
            if is_code_deploy(sp.spec, live.service) and (sp.spec is None or sp.spec.gitops.blue_green is None):
                return replace(base, status="noop", message="a CodeDeploy task set is active; no blue/green settings")
            return replace(base, status="noop", message="in sync")
        result = self.deployments.follow(request, base, running, wait, deadline, progress)
        return self._done(env, sp, sha, result)

    def _record_completed(self, env: Environment, sp: ServicePlan, base: ServiceResult,
                          sha: str | None) -> ServiceResult | None:
        """Recovery from AWS (reconciler.apply.recovery): a rollout that completed while nobody followed
        it is recorded by whoever observes it: tags now, the final report when it was never sent."""
        if not needs_record(sp, self.instance):
            return None
        outcome = completed(_live(sp).service)
        if outcome is None:
            return None
        result = self._done(env, sp, sha, with_outcome(base, outcome))
        if not newly_deployed(sp):
            return replace(result, status="noop", message="applied-spec tags refreshed (no deployment)")
        log.info("rollout_recovered", service=sp.key, deployment=result.deployment_id)
        return result

    def _record_failed(self, sp: ServicePlan, env: Environment, base: ServiceResult) -> ServiceResult | None:
        """Recovery from AWS, the failed half (reconciler.apply.recovery): the deployment we started for
        this very declaration ended failed or rolled back while nobody followed it. Recorded by whoever
        observes it (the failed-spec tag, the final report, /status); None when AWS says nothing of the
        kind. AWS unreadable: nothing deployed this cycle, the next one looks again."""
        if self.attempts is None or not attempted(sp, self.instance):
            return None
        live, spec = _live(sp), _spec(sp)
        try:
            outcome = self.attempts.failure(env, sp.name, spec, live)
        except AwsAccessDenied as exc:  # a role without the read permissions: deployed as before
            log.warning("attempt_unreadable", service=sp.key, error=str(exc), hint="deployed without the check")
            return None
        except AwsError as exc:
            log.warning("attempt_unreadable", service=sp.key, error=str(exc))
            return replace(base, message=f"not deployed: how the last deployment ended is unreadable ({exc})")
        if outcome is None:
            return None
        result = with_outcome(base, outcome)
        if outcome.deployment_id and not result.stopped_reasons:
            result = replace(result, stopped_reasons=stopped_reasons(self.ecs, env, sp.name, outcome.deployment_id, None))
        try:
            self.ecs.tag(env, live.arn, {FAILED_TAG: applied_marker(spec)})
        except AwsError as exc:
            log.warning("failed_tag_failed", service=sp.key, error=str(exc))
        log.info("failure_recovered", service=sp.key, deployment=result.deployment_id, status=result.status)
        return result

    def _update(self, sp: ServicePlan, env: Environment, base: ServiceResult, sha: str | None, wait: bool,
                deadline: float, dry_run: bool, progress: Progress) -> ServiceResult:
        spec, live = _spec(sp), _live(sp)
        blocked = controller_move_problem(spec, live.service)
        if blocked:  # checked before any write (no revision registered, no tag), so nothing is half-applied
            return replace(base, status="failed", message=f"{spec.service_file}: deploymentController: {blocked}")
        code_deploy = is_code_deploy(spec, live.service)
        # Moving over: git now declares the ECS controller for a CODE_DEPLOY service (CODE_DEPLOY -> ECS
        # is allowed, not while a deployment runs; there is no way back [DG:update-service-parameters]).
        moving = code_deploy and not is_code_deploy(spec, None) and native_strategy(spec.service) is not None
        code_deploy = code_deploy and not moving
        current_td = str(live.service.get("taskDefinition") or "")
        if sp.taskdef_changed or live.task_definition is None:
            rev = resolve_revision(self.taskdefs, env, spec, live, instance=self.instance, commit=sha,
                                   dry_run=dry_run)
            target_td = rev.arn or current_td
            base = replace(base, registered=rev.registered)
        else:
            target_td = current_td
        base = replace(base, task_definition_arn=target_td)
        allowed = CODE_DEPLOY_UPDATABLE if code_deploy else update_service_fields()
        params, unsent = update_params(sp, allowed)
        if moving:  # sent on its own first (below)
            params.pop("deploymentController", None)
            unsent = [name for name in unsent if name != "deploymentController"]
        stuck = sorted(set(unsent) - (DEPLOYMENT_FIELDS if code_deploy else set()))
        if stuck:
            # Create-only fields (launchType, schedulingStrategy, role...): UpdateService cannot change
            # them, so reporting success would leave the drift forever without a word.
            log.warning("fields_not_updatable", service=sp.key, fields=stuck)
            return replace(base, status="failed",
                           message=f"{spec.service_file}: {', '.join(stuck)}: cannot change this on an existing service with "
                                         "UpdateService: revert it in git, or delete and recreate the service")
        bg = spec.gitops.blue_green
        if code_deploy and bg is None and (target_td != current_td or changed_fields(sp) & DEPLOYMENT_FIELDS):
            # Checked before any write, so nothing is half-applied.
            return replace(base, status="failed",
                           message=f"{spec.service_file}: gitops.codeDeploy: the live service uses the CODE_DEPLOY "
                                   "controller; set gitops.strategy: blue-green with codeDeploy "
                                   "(application, deploymentGroup) to deploy it")
        to_tag, to_untag = tag_changes(sp)
        if sp.adopt:
            to_tag.update(ownership_tags(self.instance, sp.environment))
        deploy_td = target_td != current_td or (code_deploy and bool(changed_fields(sp) & DEPLOYMENT_FIELDS))
        if dry_run:
            what = [w for w in ("register a revision" if base.registered else "",
                                "tag" if to_tag or to_untag else "",
                                f"update {', '.join(sorted(params))}" if params else "",
                                "deploy" if deploy_td else "") if w]
            return replace(base, message="dry run: would " + ", ".join(what) if what else "dry run: nothing to do")
        if not keep_waiting():  # registering may have queued behind the rate limit: still allowed to act?
            return replace(base, message=NOT_STARTED)
        if target_td != current_td:
            held = self._pre_sync(sp, env, base, target_td, sha, deadline, progress)
            if held is not None:
                return held
        if moving:
            progress("moving from the CODE_DEPLOY deployment controller to ECS")
            live = replace(live, service=self.ecs.update_service(env, sp.name, {"deploymentController": {"type": "ECS"}}))
        marker = applied_marker(spec)
        # Before a deployment may start, say which declaration it deploys (reconciler.apply.recovery);
        # a desired count or tags alone never start one [bc-ecs] UpdateServiceRequest.desiredCount.
        if (deploy_td or changed_fields(sp) - NO_DEPLOYMENT) and live.tags.get(ATTEMPT_TAG) != marker:
            to_tag[ATTEMPT_TAG] = marker
        self.ecs.tag(env, live.arn, to_tag)
        self.ecs.untag(env, live.arn, to_untag)
        request = DeployRequest(env, sp.name, target_td, live.service, spec,
                                description=f"ecs-reconciler {sha or ''}".strip())
        if code_deploy:
            if params:
                self.ecs.update_service(env, sp.name, params)
            if not deploy_td:
                return self._done(env, sp, sha, replace(base, status="succeeded", message=_summary(params, to_tag)))
            result = self.deployments.deploy(request, base, wait, deadline, progress)
            assert result is not None  # CodeDeploy always starts or follows a deployment, or fails
            return self._done(env, sp, sha, result)
        # ECS controller: is a deployment towards this task definition already rolling out?
        fresh = self.ecs.describe_service(env, sp.name) or live.service
        request = replace(request, live=fresh)
        running = self.deployments.in_flight(request)
        if running is not None and running.task_definition == target_td:
            result = self.deployments.follow(request, base, running, wait, deadline, progress)
            return self._done(env, sp, sha, result)
        if target_td != str(fresh.get("taskDefinition") or ""):
            params["taskDefinition"] = target_td
        if not params:
            return self._done(env, sp, sha, replace(base, status="succeeded", message=_summary(params, to_tag)))
        result = self.deployments.deploy(replace(request, params=params), base, wait, deadline, progress)
        if result is not None:
            return self._done(env, sp, sha, result)
        return self._done(env, sp, sha, replace(base, status="succeeded", message=_summary(params, to_tag)))

    def _done(self, env: Environment, sp: ServicePlan, sha: str | None, result: ServiceResult) -> ServiceResult:
        """After a successful sync git and AWS agree again: record which declaration was applied (so a
        restarted daemon takes later differences for drift, not for a commit to apply) and lift a
        manual-rollback pause. Only a finished success counts: a deployment still in progress may yet
        roll back, and must then be retried, not taken for drift. A failed tag write is logged: the
        deployment itself succeeded."""
        live = sp.live
        if result.status != "succeeded" or live is None or sp.spec is None:
            return result
        marks = {k: v for k, v in applied_tags(sp.spec, sha).items() if live.tags.get(k) != v}
        try:
            self.ecs.tag(env, live.arn, marks)
            stale = [tag for tag in (PAUSED_TAG, FAILED_TAG) if tag in live.tags]
            if stale:
                self.ecs.untag(env, live.arn, stale)
        except AwsError as exc:
            log.warning("applied_tag_failed", error=str(exc))
        return result

    # -- hooks -------------------------------------------------------------------------
    def _pre_sync(self, sp: ServicePlan, env: Environment, base: ServiceResult, td_arn: str, sha: str | None,
                  deadline: float, progress: Progress) -> ServiceResult | None:
        """None when every preSync hook succeeded (or there is none); else why the rollout does not start."""
        spec = _spec(sp)
        if self.hooks is None or not any(h.phase == "preSync" for h in spec.gitops.hooks):
            return None
        results = self.hooks.run_phase(env, spec, "preSync", td_arn, spec.task_definition, sha, deadline, progress)
        failed = next((r for r in results if not r.ok), None)
        if failed is None:
            return None
        if failed.released:
            return replace(base, message=f"{NOT_STARTED}; {failed.message}")
        return replace(base, status="failed", message=f"not deployed: {failed.message}")

    def _post_sync(self, sp: ServicePlan, env: Environment, result: ServiceResult, sha: str | None,
                   deadline: float, wait: bool, dry_run: bool, progress: Progress) -> ServiceResult:
        """After a successful rollout: smoke tests. A failure fails the sync and, if asked, rolls back."""
        spec = sp.spec
        if (self.hooks is None or dry_run or not wait or spec is None or result.status != "succeeded"
                or sp.action not in ("create", "update") or not result.task_definition_arn
                or not any(h.phase == "postSync" for h in spec.gitops.hooks)
                or not (result.deployment_id or sp.action == "create")):
            return result
        results = self.hooks.run_phase(env, spec, "postSync", result.task_definition_arn, spec.task_definition, sha,
                                       deadline, progress)
        failed = next((r for r in results if not r.ok), None)
        if failed is None or failed.released:
            return result
        message = failed.message
        if failed.hook.rollback_on_failure and sp.action == "update":
            back = self.rollback(env, sp.name, spec=spec, commit=sha, timeout=max(60.0, deadline - self.clock.now()))
            message += f"; rolled back: {back.message}" if back.ok else f"; rollback failed: {back.message}"
            return replace(result, status="rolled_back" if back.ok else "failed", message=message,
                           rolled_back=back.ok)
        return replace(result, status="failed", message=message)

    # -- manual rollback ---------------------------------------------------------------
    def rollback(self, env: Environment, service: str, *, to_revision: int | None = None, deregister: bool = False,
                 spec: ServiceSpec | None = None, commit: str | None = None, wait: bool = True,
                 timeout: float = 1800) -> ServiceResult:
        with acting_for(f"{env.name}/{service}"):
            return self._rollback(env, service, to_revision=to_revision, deregister=deregister, spec=spec,
                                  commit=commit, wait=wait, timeout=timeout)


def _summary(params: Mapping[str, Any], tags: Mapping[str, str]) -> str:
    parts = [f"updated {', '.join(sorted(params))}"] if params else []
    if tags:
        parts.append("tags updated")
    return "; ".join(parts) or "nothing to change"


def _spec(sp: ServicePlan) -> ServiceSpec:
    if sp.spec is None:
        raise ValueError(f"{sp.key}: {sp.action} needs the service spec")
    return sp.spec


def _live(sp: ServicePlan) -> LiveService:
    if sp.live is None:
        raise ValueError(f"{sp.key}: {sp.action} needs the live service")
    return sp.live
