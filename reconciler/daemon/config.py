"""Daemon configuration: each setting is declared once, as a field of `DaemonConfig`.

Precedence: environment variable (`RECONCILER_<NAME>`) > YAML file (`RECONCILER_CONFIG_FILE`) > default.
The file uses the same names in lower case without the prefix (`poll_interval: 30s`) and may hold a
`notifications:` section for reconciler.notify. `reconciler run --help` and the table in docs/daemon.md
are generated from the fields below (`python -m reconciler.docgen` rewrites the doc).

Errors name the variable, or the file, line and key, and never the value: a value may be a secret.
"""
from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo

from reconciler.durations import format_duration, parse_duration
from reconciler.notify.config import NotifyConfigError, check_notifications, render_path
from reconciler.pydantic_errors import reason
from reconciler.suggest import suggest

PREFIX = "RECONCILER_"
CONFIG_FILE_VAR = PREFIX + "CONFIG_FILE"


class ConfigError(ValueError):
    pass


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected true or false")


_DURATION = BeforeValidator(parse_duration)
Flag = Annotated[bool, BeforeValidator(_bool)]
#: Seconds, spelled `90`, `90s`, `30m`, `1h30m` or `1.5h` (reconciler.durations).
Duration = Annotated[float, _DURATION]
Pacing = Annotated[Literal["table", "share"], BeforeValidator(lambda v: str(v).strip().lower())]
LogLevel = Annotated[Literal["debug", "info", "warning", "error"], BeforeValidator(lambda v: str(v).strip().lower())]


def setting(default: Any, help: str, *, secret: bool = False) -> Any:
    """One setting: its default and the help line shown by `run --help` and docs/daemon.md."""
    return Field(default, description=help, repr=not secret, json_schema_extra={"secret": secret})


class DaemonConfig(BaseModel):
    """The daemon's settings. To add one: add a field here; see docs/daemon.md, "Adding a setting"."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # git
    git_url: str = setting("", "manifest repository URL (https://, ssh://, git://, codecommit::REGION://repo); required")
    git_branch: str = setting("main", "branch to follow")
    git_path: str = setting("", "sub-directory of the repository holding environments/")
    git_username: str = setting("oauth2", "HTTPS username sent with the token (GitLab accepts any for PATs)")
    git_token: str | None = setting(None, "HTTPS token (GitLab personal/project/deploy token); prefer _FILE",
                                    secret=True)
    git_token_file: str | None = setting(None, "file holding the HTTPS token (e.g. a mounted secret)")
    git_ssh_key_file: str | None = setting(None, "SSH deploy key (private key file)")
    git_known_hosts_file: str | None = setting(None, "pinned known_hosts for SSH (required with the key)")
    git_codecommit_helper: Flag = setting(
        False, "use `aws codecommit credential-helper` (task role) for HTTPS CodeCommit")
    git_shallow: Flag = setting(True, "fetch with --depth=1 (falls back when the server refuses)")
    git_timeout: Duration = setting(60.0, "time before a git command is killed")
    commit_url_template: str | None = setting(None, "commit link template with {sha}; unset: guessed from the URL")
    cache_dir: str = setting("/tmp/reconciler", "where the clone and snapshots live (must be writable)")
    # triggers
    poll_interval: Duration = setting(60.0, "time between git head checks")
    poll_jitter: float = setting(0.1, "random extra delay, as a fraction of the poll interval")
    drift_interval: Duration = setting(300.0, "time between full drift scans when git did not move")
    webhook_gitlab_token: str | None = setting(
        None, "secret GitLab sends in X-Gitlab-Token (enables POST /webhook)", secret=True)
    webhook_github_secret: str | None = setting(None, "GitHub webhook secret for X-Hub-Signature-256", secret=True)
    sqs_queue_url: str | None = setting(None, "SQS queue receiving CodeCommit EventBridge events (optional)")
    sqs_wait_seconds: int = setting(20, "SQS long-poll wait in whole seconds (max 20)")
    codecommit_repository: str | None = setting(None, "only react to CodeCommit events for this repository name")
    # HTTP
    http_host: str = setting("0.0.0.0", "address of the HTTP server (/healthz /readyz /metrics /status /webhook)")
    http_port: int = setting(8080, "port of the HTTP server (0 picks a free one)")
    # leadership
    state_table: str | None = setting(
        None, "DynamoDB table for the leader lease and notify state; unset = single replica")
    lease_name: str | None = setting(None, "lease name (default: the instance name)")
    lease_duration: Duration = setting(30.0, "how long a lease lasts without renewal")
    lease_renew_interval: Duration = setting(10.0, "time between renewals / acquisition attempts")
    holder_id: str | None = setting(None, "this replica's identity in the lease (default: hostname-pid-random)")
    state_region: str | None = setting(None, "region of the state table and queue (default: the SDK's)")
    # sharding (docs/daemon.md, "Sharding")
    shards: Flag = setting(
        False, "share the environments among the replicas, each shard under its own lease (needs the state table)")
    shard_split: str = setting(
        "", "environments split into K shards by service name hash, e.g. `production=4,staging=2` (others: 1)")
    shard_register_pacing: Pacing = setting(
        "table", "sharded RegisterTaskDefinition pacing: `table` (one bucket in the state table for all replicas) "
        "or `share` (each replica paces at rate / live replicas)")
    shard_signal_interval: Duration = setting(
        1.0, "time between reads of the push signal (sharded: how fast a push heard by another replica arrives)")
    # reconciling
    instance: str = setting("ecs-reconciler", "instance name: the ownership tag value")
    environment: str | None = setting(None, "only reconcile this environment")
    max_parallel: int = setting(8, "services applied in parallel")
    apply_wait: Flag = setting(True, "wait for deployments to finish within a cycle")
    apply_timeout: Duration = setting(1800.0, "time to wait for one deployment")
    apply_poll_interval: Duration = setting(
        5.0, "time between deployment status checks (the daemon, `sync` and `rollback`)")
    backoff_base: Duration = setting(30.0, "first retry delay of a failed commit (doubles)")
    backoff_max: Duration = setting(900.0, "retry delay cap")
    history: int = setting(10, "sync records kept per service")
    shutdown_timeout: Duration = setting(20.0, "time SIGTERM may take (ECS stopTimeout defaults to 30s)")
    log_level: LogLevel = setting("info", "debug | info | warning | error")
    notify_console: Flag = setting(
        False, "print chat reports to stdout (demo) when no notifications are configured")
    # chat operations (docs/chatops.md)
    slack_signing_secret: str | None = setting(
        None, "Slack app signing secret: enables POST /slack/commands and /slack/interactions", secret=True)
    slack_team_id: str | None = setting(None, "only accept Slack requests from this workspace (team_id)")
    slack_bot_token: str | None = setting(
        None, "Slack bot token (xoxb-…) posting approval requests and reading user groups", secret=True)
    slack_approval_channel: str | None = setting(None, "channel ID approval requests are posted to")
    slack_api_url: str | None = setting(None, "Slack Web API base URL (default: https://slack.com/api/)")
    slack_command: str = setting("/reconciler", "the slash command's name, as configured in the Slack app")
    api_token: str | None = setting(
        None, "bearer token of POST /api/v1/commands (`reconciler approve|reject|request`); unset: off", secret=True)
    audit_ttl: Duration = setting(90 * 24 * 3600.0, "how long audit records are kept (DynamoDB TTL)")
    git_author_name: str = setting("ecs-reconciler", "author of the commits chat `deploy`/`promote` make")
    git_author_email: str = setting("ecs-reconciler@users.noreply.local", "their author email")
    # the `notifications:` section of the file (reconciler.notify.config); never an environment variable
    notifications: dict[str, Any] | None = Field(None, exclude=True)
    # the `chatops:` section of the file: permissions (reconciler.chatops.permissions)
    chatops: dict[str, Any] | None = Field(None, exclude=True)

    @cached_property
    def holder(self) -> str:
        """This replica's lease identity, chosen once per process (the lease compares it on every renewal)."""
        return self.holder_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None) -> DaemonConfig:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        where: dict[str, str] = {}
        path = env.get(CONFIG_FILE_VAR)
        if path:
            _read_file(path, values, where)
        for name in settings():
            raw = env.get(env_name(name))
            if raw is not None:
                values[name], where[name] = raw, env_name(name)
        try:
            cfg = cls.model_validate(values)
        except ValidationError as exc:
            raise ConfigError("; ".join(
                f"{where.get(str(e['loc'][0]), e['loc'][0])}: {reason(e)}" for e in exc.errors())) from None
        cfg.check()
        return cfg

    def check(self) -> None:
        """Rules between settings, after each was parsed."""
        if not self.git_url:
            raise ConfigError("RECONCILER_GIT_URL is required")
        if self.git_ssh_key_file and not self.git_known_hosts_file:
            raise ConfigError("RECONCILER_GIT_SSH_KEY_FILE needs RECONCILER_GIT_KNOWN_HOSTS_FILE (host keys are pinned)")
        if self.poll_interval <= 0 or self.drift_interval <= 0:
            raise ConfigError("intervals must be positive")
        if self.lease_renew_interval >= self.lease_duration:
            raise ConfigError("RECONCILER_LEASE_RENEW_INTERVAL must be shorter than RECONCILER_LEASE_DURATION")
        if self.shards and not self.state_table:
            raise ConfigError("RECONCILER_SHARDS needs RECONCILER_STATE_TABLE (the shard leases live there)")
        if self.shard_split and not self.shards:
            raise ConfigError("RECONCILER_SHARD_SPLIT needs RECONCILER_SHARDS=true")
        if self.shard_signal_interval <= 0:
            raise ConfigError("RECONCILER_SHARD_SIGNAL_INTERVAL must be positive")
        from reconciler.daemon.shards import ShardConfigError, ShardLayout

        try:
            ShardLayout.parse(self.shard_split)
        except ShardConfigError as exc:
            raise ConfigError(f"RECONCILER_SHARD_SPLIT: {exc}") from None
        if not 0 <= self.sqs_wait_seconds <= 20:
            raise ConfigError("RECONCILER_SQS_WAIT_SECONDS must be within 0..20")
        from reconciler.chatops.permissions import PermissionConfigError, Permissions

        try:
            Permissions.from_mapping(self.chatops)
        except PermissionConfigError as exc:
            raise ConfigError(str(exc)) from None


def settings() -> dict[str, FieldInfo]:
    """The settings in declaration order (the `notifications:` and `chatops:` sections are not)."""
    return {name: f for name, f in DaemonConfig.model_fields.items() if f.description is not None}


def env_name(name: str) -> str:
    return PREFIX + name.upper()


def setting_value(name: str, environ: Mapping[str, str] | None = None) -> Any:
    """One setting from the environment alone, parsed as the daemon parses it (for the CLI commands)."""
    env = os.environ if environ is None else environ
    raw = env.get(env_name(name))
    if raw is None:
        return settings()[name].default
    try:
        return getattr(DaemonConfig.model_validate({name: raw}), name)
    except ValidationError as exc:
        raise ConfigError(f"{env_name(name)}: {reason(exc.errors()[0])}") from None


def _read_file(path: str, values: dict[str, Any], where: dict[str, str]) -> None:
    """File values into `values` (scalars as text, parsed like environment variables), `where` names their line."""
    from reconciler.manifests.yamlsource import ParseFailure, parse_text

    try:
        parsed = parse_text(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or type(exc).__name__}") from None
    except ParseFailure as exc:  # the reason names the problem, never the text of the line
        raise ConfigError(f"{path}:{exc.line or 1}: {exc.reason}") from None
    data = parsed.data if parsed.data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: expected a mapping of settings")
    known = [*settings(), "notifications", "chatops"]
    problems: list[str] = []
    for (key,), line in parsed.duplicates:
        problems.append(f"{path}:{line}: {key}: set twice")
    for key, value in data.items():
        name = key.lower().removeprefix("reconciler_")
        here = f"{path}:{parsed.line_of((key,))}: {key}"
        if name not in known:
            problems.append(f"{here}: unknown setting{suggest(name, known)}")
        elif value is None:
            continue
        elif name in ("notifications", "chatops"):
            if name == "notifications":
                try:
                    check_notifications(value)  # its secrets are resolved when the notifier is built
                except NotifyConfigError as exc:
                    problems.append(f"{path}:{parsed.line_of((key, *exc.path))}: "
                                    f"{render_path(('notifications', *exc.path))}: {exc.reason}")
            values[name], where[name] = value, here
        elif isinstance(value, (dict, list)):
            problems.append(f"{here}: expected a single value")
        else:
            values[name], where[name] = str(value).lower() if isinstance(value, bool) else str(value), here
    if problems:
        raise ConfigError("; ".join(problems))


def _shown_default(f: FieldInfo) -> str:
    default = f.default
    if default is None or default == "":
        return "unset"
    if isinstance(default, bool):
        return str(default).lower()
    if _DURATION in f.metadata:
        return format_duration(float(default))
    return str(default)


def help_table() -> str:
    """The settings as text for `reconciler run --help`."""
    lines = ["environment variables (also accepted in RECONCILER_CONFIG_FILE, lower case without prefix;",
             "durations: seconds or 90s, 30m, 1h30m, 1.5h):"]
    for name, f in settings().items():
        suffix = "" if "(default:" in str(f.description) else f" (default: {_shown_default(f)})"
        lines.append(f"  {env_name(name):<36} {f.description}{suffix}")
    lines.append(f"  {CONFIG_FILE_VAR:<36} optional YAML file with these settings, `notifications:` and `chatops:` sections")
    return "\n".join(lines)


#: The settings a sharded deployment tunes (the table of docs/daemon.md, "Sharding").
SHARD_SETTINGS = ("state_table", "shards", "shard_split", "lease_duration", "lease_renew_interval",
                  "shard_signal_interval", "shard_register_pacing", "holder_id")


def docs_table(only: tuple[str, ...] | None = None) -> str:
    """The settings (or just `only`, in that order) as a markdown table of docs/daemon.md."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    declared = settings()
    for name, f in ((n, declared[n]) for n in only or declared):
        default = _shown_default(f)
        rows.append(f"| `{env_name(name)}` | {default if default == 'unset' else f'`{default}`'} | "
                    f"{str(f.description).replace('|', '/')} |")
    return "\n".join(rows)
