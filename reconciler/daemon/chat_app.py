"""Wiring of the chat operations (docs/chatops.md): approval gate, audit log, Slack, git writer, routes."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from reconciler.daemon.config import DaemonConfig
from reconciler.daemon.loop import Reconciler
from reconciler.daemon.status import StatusBoard
from reconciler.daemon.wakeup import Wakeup
from reconciler.source import GitAuth, GitSource


class RecentAudit:
    """The audit log, plus the last records this replica wrote (shown at /status without a table read)."""

    def __init__(self, log: Any, keep: int = 20) -> None:
        import collections

        self._log = log
        self._recent: collections.deque[Any] = collections.deque(maxlen=keep)

    def record(self, record: Any) -> Any:
        stored = self._log.record(record)
        self._recent.appendleft(stored)
        return stored

    def history(self, environment: str | None = None, service: str | None = None, limit: int = 100) -> list[Any]:
        return self._log.history(environment, service, limit)

    def recent(self) -> list[dict[str, Any]]:
        return [r.to_json() for r in list(self._recent)]


class ChatParts:
    def __init__(self, gate: Any, store: Any, audit: RecentAudit, slack: Any, writer: Any) -> None:
        self.gate, self.store, self.audit, self.slack, self.writer = gate, store, audit, slack, writer


def chat_parts(cfg: DaemonConfig, table: Any, wakeup: Wakeup, source: GitSource, auth: GitAuth,
               announce: Any = None) -> ChatParts:
    """Approval gate, its store, the audit log, Slack and the git writer (docs/chatops.md)."""
    import time

    from reconciler.chatops.audit import MemoryAuditLog
    from reconciler.daemon.approvals import ApprovalGate, ApprovalStore, MemoryKeyValue
    from reconciler.source.writer import GitWriter

    if table is not None:
        from reconciler.aws.audit import DynamoAuditLog

        audit = RecentAudit(DynamoAuditLog(table, cfg.instance, ttl_seconds=cfg.audit_ttl))
    else:
        audit = RecentAudit(MemoryAuditLog(time.time))
    slack = None
    if cfg.slack_bot_token or cfg.slack_signing_secret:  # slack_sdk only when Slack is configured
        from reconciler.notify.slack_web import SlackWeb

        slack = SlackWeb(cfg.slack_bot_token, cfg.slack_approval_channel, base_url=cfg.slack_api_url)
    store = ApprovalStore(table if table is not None else MemoryKeyValue(), cfg.instance)
    gate = ApprovalGate(store, slack if slack is not None and slack.can_post else None, audit,
                        members=slack.members if slack is not None else lambda group: [],
                        email_of=slack.email_of if slack is not None else lambda user: None,
                        commit_meta=source.commit_meta, wake=lambda: wakeup.notify("drift"), announce=announce)
    writer = GitWriter(cfg.git_url, Path(cfg.cache_dir), branch=cfg.git_branch, auth=auth,
                       subdir=cfg.git_path, timeout=cfg.git_timeout, author_name=cfg.git_author_name,
                       author_email=cfg.git_author_email)
    return ChatParts(gate, store, audit, slack, writer)


def chat_routes(cfg: DaemonConfig, chat: ChatParts, board: StatusBoard, reconciler: Reconciler,
                 applier: Any, wakeup: Wakeup) -> tuple[dict[str, Any], dict[str, Any]]:
    """POST routes of the chat endpoints (and their header prechecks): Slack with a signing secret,
    the API with a token."""
    if not cfg.slack_signing_secret and not cfg.api_token:
        return {}, {}
    from reconciler.chatops.permissions import Permissions
    from reconciler.daemon.chatops import ChatOps
    from reconciler.daemon.slack import ApiEndpoint, SlackEndpoints, in_thread
    from reconciler.manifests import load_repository

    def declared(env: str, service: str) -> tuple[Any, Any, str] | str:
        """The environment, service spec and commit git declares now, or why there is none."""
        snapshot = reconciler.snapshot
        if snapshot is None:
            return "the daemon has not read git yet; try again in a moment."
        desired = reconciler.desired_cache.load(snapshot.sha, snapshot.root)
        environment = desired.environments.get(env)
        if environment is None:
            return f"no environment {env!r} in git."
        spec = next((s for s in desired.services if s.environment == env and s.name == service), None)
        return environment, spec, snapshot.sha

    def rollback(env: str, service: str, actor: Any, revision: int | None) -> tuple[str, bool]:
        found = declared(env, service)
        if isinstance(found, str):
            return found, False
        environment, spec, sha = found
        result = applier.rollback(environment, service, to_revision=revision, spec=spec, commit=sha,
                                  wait=False, timeout=cfg.apply_timeout)
        target = (result.task_definition_arn or "").rsplit("/", 1)[-1]
        ok = result.status in ("succeeded", "in_progress", "noop")
        return (f"rollback of {env}/{service} {result.status}" + (f" to {target}" if target else "")
                + (f": {result.message}" if result.message else "")
                + ("; automated sync of it is paused until git changes." if ok and result.status != "noop"
                   else "")), ok

    from reconciler.apply.answer import Answerer
    from reconciler.apply.continuation import acting_for
    from reconciler.aws.codedeploy import CodeDeploy
    from reconciler.aws.errors import AwsError
    from reconciler.aws.service_deployments import ServiceDeployments

    answerer = Answerer(ServiceDeployments(applier.ecs.clients), CodeDeploy(applier.ecs.clients))

    def answer(rollback: bool) -> Any:
        """`continue` / `abort`: what `reconciler continue [--rollback]` does, on the daemon's manifests."""
        def operation(env: str, service: str, actor: Any, revision: int | None) -> tuple[str, bool]:
            found = declared(env, service)
            if isinstance(found, str):
                return found, False
            environment, spec, _ = found
            try:
                with acting_for(f"{env}/{service}"):  # fenced against that service's lease
                    result = answerer.answer(environment, service, spec, rollback=rollback)
            except AwsError as exc:  # AWS refused, or this replica is not the leader (the write is fenced)
                return f"{env}/{service}: {exc}", False
            return f"{env}/{service}: {result.message}", result.ok
        return operation

    chatops = ChatOps(permissions=Permissions.from_mapping(cfg.chatops), gate=chat.gate, store=chat.store,
                      audit=chat.audit, board=board, writer=chat.writer, load=lambda root: load_repository(root),
                      wake_git=lambda: wakeup.notify("webhook"), wake_full=lambda: wakeup.notify("drift"),
                      members=chat.slack.members if chat.slack is not None else lambda group: [],
                      respond=chat.slack.respond if chat.slack is not None else lambda url, message: None,
                      background=in_thread,
                      command_name=cfg.slack_command,
                      operations={"rollback": rollback, "continue": answer(False), "abort": answer(True)})
    routes: dict[str, Any] = {}
    prechecks: dict[str, Any] = {}
    if cfg.slack_signing_secret:
        from reconciler.chatops.signing import RequestVerifier

        slack = SlackEndpoints(RequestVerifier(cfg.slack_signing_secret, team_id=cfg.slack_team_id), chatops)
        routes.update({"/slack/commands": slack.commands, "/slack/interactions": slack.interactions})
        prechecks.update({"/slack/commands": slack.precheck, "/slack/interactions": slack.precheck})
    if cfg.api_token:
        api = ApiEndpoint(cfg.api_token, chatops)
        routes["/api/v1/commands"] = api.commands
        prechecks["/api/v1/commands"] = api.precheck
    return routes, prechecks
