"""Daemon configuration: environment variables, optionally a YAML file, with documented defaults.

Precedence: environment variable > YAML file (`RECONCILER_CONFIG_FILE`) > default.
The file uses the same names in lower case without the prefix (`poll_interval: 30`)
and may hold a `notifications:` section for reconciler.notify. The table below
is the single source for `reconciler run --help` and docs/daemon.md.
"""
from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

PREFIX = "RECONCILER_"


class ConfigError(ValueError):
    pass


def _bool(value: str) -> bool:
    if value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if value.strip().lower() in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {value!r}")


@dataclass(frozen=True)
class Setting:
    name: str            # field name; env var is RECONCILER_<NAME upper>
    default: Any
    help: str
    parse: Callable[[str], Any] = str
    secret: bool = False

    @property
    def env(self) -> str:
        return PREFIX + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    # git
    Setting("git_url", "", "manifest repository URL (https://, ssh://, git://, codecommit::REGION://repo); required"),
    Setting("git_branch", "main", "branch to follow"),
    Setting("git_path", "", "sub-directory of the repository holding environments/"),
    Setting("git_username", "oauth2", "HTTPS username sent with the token (GitLab accepts any for PATs)"),
    Setting("git_token", None, "HTTPS token (GitLab personal/project/deploy token); prefer _FILE", secret=True),
    Setting("git_token_file", None, "file holding the HTTPS token (e.g. a mounted secret)"),
    Setting("git_ssh_key_file", None, "SSH deploy key (private key file)"),
    Setting("git_known_hosts_file", None, "pinned known_hosts for SSH (required with the key)"),
    Setting("git_codecommit_helper", False, "use `aws codecommit credential-helper` (task role) for HTTPS CodeCommit",
            _bool),
    Setting("git_shallow", True, "fetch with --depth=1 (falls back when the server refuses)", _bool),
    Setting("git_timeout", 60.0, "seconds before a git command is killed", float),
    Setting("commit_url_template", None, "commit link template with {sha}; unset: guessed from the URL"),
    Setting("cache_dir", "/tmp/reconciler", "where the clone and snapshots live (must be writable)"),
    # triggers
    Setting("poll_interval", 60.0, "seconds between git head checks", float),
    Setting("poll_jitter", 0.1, "random extra delay, as a fraction of the poll interval", float),
    Setting("drift_interval", 300.0, "seconds between full drift scans when git did not move", float),
    Setting("webhook_gitlab_token", None, "secret GitLab sends in X-Gitlab-Token (enables POST /webhook)", secret=True),
    Setting("webhook_github_secret", None, "GitHub webhook secret for X-Hub-Signature-256", secret=True),
    Setting("sqs_queue_url", None, "SQS queue receiving CodeCommit EventBridge events (optional)"),
    Setting("sqs_wait_seconds", 20, "SQS long-poll wait (max 20)", int),
    Setting("codecommit_repository", None, "only react to CodeCommit events for this repository name"),
    # HTTP
    Setting("http_host", "0.0.0.0", "address of the HTTP server (/healthz /readyz /metrics /status /webhook)"),
    Setting("http_port", 8080, "port of the HTTP server (0 picks a free one)", int),
    # leadership
    Setting("state_table", None, "DynamoDB table for the leader lease and notify state; unset = single replica"),
    Setting("lease_name", None, "lease name (default: the instance name)"),
    Setting("lease_duration", 30.0, "seconds a lease lasts without renewal", float),
    Setting("lease_renew_interval", 10.0, "seconds between renewals / acquisition attempts", float),
    Setting("holder_id", None, "this replica's identity in the lease (default: hostname-pid-random)"),
    Setting("state_region", None, "region of the state table and queue (default: the SDK's)"),
    # reconciling
    Setting("instance", "ecs-reconciler", "instance name: the ownership tag value"),
    Setting("environment", None, "only reconcile this environment"),
    Setting("max_parallel", 8, "services applied in parallel", int),
    Setting("apply_wait", True, "wait for deployments to finish within a cycle", _bool),
    Setting("apply_timeout", 1800.0, "seconds to wait for one deployment", float),
    Setting("apply_poll_interval", 5.0, "seconds between deployment status checks", float),
    Setting("backoff_base", 30.0, "first retry delay of a failed commit, seconds (doubles)", float),
    Setting("backoff_max", 900.0, "retry delay cap, seconds", float),
    Setting("history", 10, "sync records kept per service", int),
    Setting("shutdown_timeout", 20.0, "seconds SIGTERM may take (ECS stopTimeout defaults to 30)", float),
    Setting("log_level", "info", "debug | info | warning | error"),
    Setting("notify_console", False, "print chat reports to stdout (demo) when no notifications are configured",
            _bool),
)


@dataclass(frozen=True)
class DaemonConfig:
    git_url: str = ""
    git_branch: str = "main"
    git_path: str = ""
    git_username: str = "oauth2"
    git_token: str | None = field(default=None, repr=False)
    git_token_file: str | None = None
    git_ssh_key_file: str | None = None
    git_known_hosts_file: str | None = None
    git_codecommit_helper: bool = False
    git_shallow: bool = True
    git_timeout: float = 60.0
    commit_url_template: str | None = None
    cache_dir: str = "/tmp/reconciler"
    poll_interval: float = 60.0
    poll_jitter: float = 0.1
    drift_interval: float = 300.0
    webhook_gitlab_token: str | None = field(default=None, repr=False)
    webhook_github_secret: str | None = field(default=None, repr=False)
    sqs_queue_url: str | None = None
    sqs_wait_seconds: int = 20
    codecommit_repository: str | None = None
    http_host: str = "0.0.0.0"
    http_port: int = 8080
    state_table: str | None = None
    lease_name: str | None = None
    lease_duration: float = 30.0
    lease_renew_interval: float = 10.0
    holder_id: str | None = None
    state_region: str | None = None
    instance: str = "ecs-reconciler"
    environment: str | None = None
    max_parallel: int = 8
    apply_wait: bool = True
    apply_timeout: float = 1800.0
    apply_poll_interval: float = 5.0
    backoff_base: float = 30.0
    backoff_max: float = 900.0
    history: int = 10
    shutdown_timeout: float = 20.0
    log_level: str = "info"
    notify_console: bool = False
    notifications: Mapping[str, Any] | None = None

    @property
    def holder(self) -> str:
        return self.holder_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None) -> DaemonConfig:
        env = os.environ if environ is None else environ
        file_values: dict[str, Any] = {}
        path = env.get(PREFIX + "CONFIG_FILE")
        if path:
            try:
                raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
            except (OSError, yaml.YAMLError) as exc:
                raise ConfigError(f"{path}: {exc}") from None
            if not isinstance(raw, dict):
                raise ConfigError(f"{path}: expected a mapping")
            file_values = {str(k).lower().removeprefix("reconciler_"): v for k, v in raw.items()}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(file_values) - known)
        if unknown:
            raise ConfigError(f"unknown setting(s) in {path}: {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for s in SETTINGS:
            raw_value: Any = env.get(s.env)
            if raw_value is None and s.name in file_values:
                raw_value = file_values[s.name]
            if raw_value is None:
                continue
            try:
                values[s.name] = s.parse(str(raw_value))
            except ValueError as exc:
                raise ConfigError(f"{s.env}: {exc}") from None
        values["notifications"] = file_values.get("notifications")
        cfg = cls(**values)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        if not self.git_url:
            raise ConfigError("RECONCILER_GIT_URL is required")
        if self.git_ssh_key_file and not self.git_known_hosts_file:
            raise ConfigError("RECONCILER_GIT_SSH_KEY_FILE needs RECONCILER_GIT_KNOWN_HOSTS_FILE (host keys are pinned)")
        if self.poll_interval <= 0 or self.drift_interval <= 0:
            raise ConfigError("intervals must be positive")
        if self.lease_renew_interval >= self.lease_duration:
            raise ConfigError("RECONCILER_LEASE_RENEW_INTERVAL must be shorter than RECONCILER_LEASE_DURATION")
        if not 0 <= self.sqs_wait_seconds <= 20:
            raise ConfigError("RECONCILER_SQS_WAIT_SECONDS must be within 0..20")


def help_table() -> str:
    """The settings as text for `reconciler run --help`."""
    lines = ["environment variables (also accepted in RECONCILER_CONFIG_FILE, lower case without prefix):"]
    for s in SETTINGS:
        default = "unset" if s.default is None or s.default == "" else str(s.default).lower() \
            if isinstance(s.default, bool) else str(s.default)
        suffix = "" if "(default:" in s.help else f" (default: {default})"  # the help may explain it better
        lines.append(f"  {s.env:<36} {s.help}{suffix}")
    lines.append(f"  {PREFIX + 'CONFIG_FILE':<36} optional YAML file with these settings and a `notifications:` section")
    return "\n".join(lines)
