"""Pre- and post-sync hooks: one-off tasks run with the revision being deployed.

A preSync hook runs after the new revision is registered and before the rollout starts; the
rollout starts only if every essential container exited 0. A postSync hook runs after a
successful rollout; its failure fails the sync (and rolls back when configured).

Never started twice: each run is named by `startedBy` (a hash of service, commit, phase and
hook) and tagged with them, so a daemon restarted while a hook runs finds it with ListTasks
and follows it, and a hook that already succeeded for this commit and revision (AWS lists
stopped tasks for about an hour) is not run again. Only a run of the same task definition
counts: a `sync` of a working tree has no commit, so without the revision an earlier
image's run would stand in for the new one. Our choice: after that hour a retry runs it again.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.apply.clock import Clock
from reconciler.apply.progress import Progress
from reconciler.aws.tasks import TaskRunner
from reconciler.log import get_logger
from reconciler.model import (
    COMMIT_TAG,
    DEFAULT_INSTANCE,
    HOOK_TAG,
    SERVICE_TAG,
    Environment,
    HookTask,
    ServiceSpec,
    tag_dict,
    tag_list,
)

log = get_logger(__name__)

PHASE_WORDS = {"preSync": "pre-sync", "postSync": "post-sync"}
#: RunTask fields taken from the service, so the task runs where the service's tasks run.
_PLACEMENT = ("launchType", "capacityProviderStrategy", "platformVersion", "networkConfiguration",
              "placementConstraints", "placementStrategy")


@dataclass(frozen=True)
class HookResult:
    hook: HookTask
    ok: bool
    task_arn: str | None = None
    message: str = ""
    reused: bool = False          # an earlier run for this commit (succeeded, or still running) was followed
    released: bool = False        # no longer followed here (shutdown / leadership lost); it runs on in AWS


def started_by(spec: ServiceSpec, sha: str | None, hook: HookTask) -> str:
    """Stable per (service, commit, phase, hook): the key that finds a run again after a restart."""
    digest = hashlib.sha256(f"{spec.key}|{sha or ''}|{hook.phase}|{hook.name}".encode()).hexdigest()[:40]
    return f"{DEFAULT_INSTANCE}-hook-{digest}"


def essential_exit(task: Mapping[str, Any], td: Mapping[str, Any]) -> tuple[bool, str]:
    """(every essential container exited 0, why not)."""
    essential = {c["name"] for c in td.get("containerDefinitions") or [] if c.get("essential", True)}
    for container in task.get("containers") or []:
        if container.get("name") not in essential:
            continue
        code = container.get("exitCode")
        if code != 0:
            what = f"exit code {code}" if code is not None else "no exit code"
            reason = container.get("reason")
            return False, f"{what} (container {container.get('name')})" + (f": {reason}" if reason else "")
    return True, ""


def log_stream(td: Mapping[str, Any], container: str, task_arn: str, region: str) -> tuple[str, str, str] | None:
    """(region, group, stream) of a container using awslogs with a stream prefix."""
    for c in td.get("containerDefinitions") or []:
        if c.get("name") != container:
            continue
        config = c.get("logConfiguration") or {}
        options = config.get("options") or {}
        if config.get("logDriver") == "awslogs" and options.get("awslogs-group") and options.get("awslogs-stream-prefix"):
            task_id = task_arn.rsplit("/", 1)[-1]
            return (options.get("awslogs-region", region), options["awslogs-group"],
                    f"{options['awslogs-stream-prefix']}/{container}/{task_id}")
    return None


def hook_container(hook: HookTask, td: Mapping[str, Any]) -> str:
    if hook.container:
        return hook.container
    containers = list(td.get("containerDefinitions") or [])
    essential = [c for c in containers if c.get("essential", True)] or containers
    return str(essential[0]["name"])


class HookRunner:
    def __init__(self, tasks: TaskRunner, clock: Clock, poll_interval: float,
                 keep_waiting: Callable[[], bool] = lambda: True) -> None:
        self.tasks, self.clock, self.poll_interval, self.keep_waiting = tasks, clock, poll_interval, keep_waiting

    def run_phase(self, env: Environment, spec: ServiceSpec, phase: str, td_arn: str, td: Mapping[str, Any],
                  sha: str | None, deadline: float, progress: Progress) -> list[HookResult]:
        """Run the phase's hooks in order; stop at the first that does not succeed."""
        results: list[HookResult] = []
        for hook in (h for h in spec.gitops.hooks if h.phase == phase):
            result = self._one(env, spec, hook, td_arn, td, sha, deadline, progress)
            results.append(result)
            if not result.ok:
                break
        return results

    def _one(self, env: Environment, spec: ServiceSpec, hook: HookTask, td_arn: str, td: Mapping[str, Any],
             sha: str | None, deadline: float, progress: Progress) -> HookResult:
        word = f"{PHASE_WORDS.get(hook.phase, hook.phase)} hook {hook.name}"
        key = started_by(spec, sha, hook)
        tags = {HOOK_TAG: f"{hook.phase}/{hook.name}", COMMIT_TAG: sha or "", SERVICE_TAG: spec.key}
        earlier = [t for t in self.tasks.find(env, key)
                   if _tags(t) == tags and t.get("taskDefinitionArn") == td_arn]
        running = [t for t in earlier if t.get("lastStatus") != "STOPPED"]
        passed = [t for t in earlier if t.get("lastStatus") == "STOPPED" and essential_exit(t, td)[0]]
        if running:
            task, reused = running[0], True
            progress(f"{word}: following task {task['taskArn'].rsplit('/', 1)[-1]} already running")
        elif passed:
            progress(f"{word}: already succeeded for this commit; not run again")
            return HookResult(hook, True, passed[0]["taskArn"], f"{word} already succeeded", reused=True)
        else:
            container = hook_container(hook, td)
            params: dict[str, Any] = {k: spec.service[k] for k in _PLACEMENT if spec.service.get(k) is not None}
            params.update(taskDefinition=td_arn, startedBy=key,
                          overrides={"containerOverrides": [{"name": container, "command": list(hook.command)}]},
                          tags=tag_list(tags))
            task, reused = self.tasks.run(env, params), False
            log.info("hook_started", service=spec.key, hook=hook.name, phase=hook.phase, task=task.get("taskArn"))
            progress(f"{word}: task {task['taskArn'].rsplit('/', 1)[-1]} started: {' '.join(hook.command)}")
        return self._wait(env, hook, word, task, td, min(deadline, self.clock.now() + hook.timeout_seconds),
                          reused, progress)

    def _wait(self, env: Environment, hook: HookTask, word: str, task: dict[str, Any], td: Mapping[str, Any],
              deadline: float, reused: bool, progress: Progress) -> HookResult:
        arn = str(task["taskArn"])
        while task.get("lastStatus") != "STOPPED":
            if not self.keep_waiting():
                return HookResult(hook, False, arn, f"{word}: no longer followed here; task {arn} runs on in AWS",
                                  reused=reused, released=True)
            if self.clock.now() >= deadline:
                self.tasks.stop(env, arn, f"{word} timed out (stopped by the reconciler)")
                return HookResult(hook, False, arn, f"{word} timed out after {hook.timeout_seconds:g}s; task stopped",
                                  reused=reused)
            self.clock.sleep(self.poll_interval)
            found = self.tasks.describe(env, [arn])
            task = found[0] if found else task
            progress(f"{word}: {task.get('lastStatus', '?')}", kind="hook")
        ok, why = essential_exit(task, td)
        if ok:
            progress(f"{word}: succeeded")
            return HookResult(hook, True, arn, f"{word} succeeded", reused=reused)
        container = hook_container(hook, td)
        parts = [f"{word} failed: {why}"]
        if task.get("stoppedReason"):
            parts.append(f"stopped: {task['stoppedReason']}" + (f" ({task['stopCode']})" if task.get("stopCode") else ""))
        where = log_stream(td, container, arn, env.region)
        lines = self.tasks.log_tail(env, *where)[-10:] if where else []
        if lines:
            parts.append("last log lines: " + " | ".join(lines))
        message = "; ".join(parts)
        log.warning("hook_failed", hook=hook.name, phase=hook.phase, task=arn, message=message)
        return HookResult(hook, False, arn, message, reused=reused)


def _tags(task: Mapping[str, Any]) -> dict[str, str]:
    wanted = (HOOK_TAG, COMMIT_TAG, SERVICE_TAG)
    return {k: v for k, v in tag_dict(task.get("tags") or []).items() if k in wanted}
