"""boto3 sessions and clients: retry mode, cross-account roles, call counting.

Retries are botocore's own (`adaptive` by default: standard retries plus a
client-side rate limiter that backs off after throttling, botocore/retries/
adaptive.py), never hand-written loops. `AWS_ENDPOINT_URL` is honoured by boto3
itself, which is how the sandbox is reached; nothing here knows about it.
"""
from __future__ import annotations

import collections
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials

from reconciler.model import Environment

CallListener = Callable[[str, str], None]


@dataclass(frozen=True)
class AwsSettings:
    retry_mode: str = "adaptive"     # botocore retry mode: legacy | standard | adaptive
    max_attempts: int = 10           # total attempts including the first
    session_name: str = "ecs-reconciler"  # RoleSessionName: shows in CloudTrail and registeredBy
    connect_timeout: float = 5.0
    read_timeout: float = 30.0

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> AwsSettings:
        env = os.environ if environ is None else environ
        return cls(
            retry_mode=env.get("RECONCILER_AWS_RETRY_MODE", "adaptive"),
            max_attempts=int(env.get("RECONCILER_AWS_MAX_ATTEMPTS", "10")),
            session_name=env.get("RECONCILER_AWS_SESSION_NAME", "ecs-reconciler"),
        )


class CallCounter:
    """Counts AWS API calls by (service, action); the benchmark and /metrics read it."""

    def __init__(self) -> None:
        self._counts: collections.Counter[tuple[str, str]] = collections.Counter()
        self._lock = threading.Lock()
        self._listeners: list[CallListener] = []

    def add_listener(self, listener: CallListener) -> None:
        self._listeners.append(listener)

    def record(self, service: str, action: str) -> None:
        with self._lock:
            self._counts[(service, action)] += 1
        for listener in self._listeners:
            listener(service, action)

    def get(self, service: str, action: str) -> int:
        with self._lock:
            return self._counts[(service, action)]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {f"{s}:{a}": n for (s, a), n in sorted(self._counts.items())}

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


class AwsClients:
    """Hands out cached clients per (environment account/role, region, service).

    Each HTTP attempt is counted (retries included), because that is what the
    rate limits see.
    """

    def __init__(self, settings: AwsSettings | None = None, counter: CallCounter | None = None) -> None:
        self.settings = settings or AwsSettings()
        self.counter = counter or CallCounter()
        self._base = boto3.session.Session()
        self._sessions: dict[tuple[str | None, str | None, str], boto3.session.Session] = {}
        self._clients: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()
        self._config = Config(
            retries={"mode": self.settings.retry_mode, "total_max_attempts": self.settings.max_attempts},
            connect_timeout=self.settings.connect_timeout,
            read_timeout=self.settings.read_timeout,
            max_pool_connections=32,
            user_agent_appid="ecs-reconciler",
        )

    def client(self, service: str, env: Environment | None = None, region: str | None = None) -> Any:
        region = region or (env.region if env else None) or self._base.region_name or "us-east-1"
        role = env.role_arn if env else None
        external_id = env.external_id if env else None
        key = (role, external_id, region, service)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                session = self._session(role, external_id, region)
                client = session.client(service, region_name=region, config=self._config)
                client.meta.events.register("before-send", self._count)
                self._clients[key] = client
            return client

    def account_id(self, env: Environment | None = None) -> str:
        """The account the credentials for `env` act in (cached: it never changes for a session)."""
        from reconciler.aws.errors import translated

        key = ("account", env.role_arn if env else None, env.external_id if env else None)
        cached = self._clients.get(key)
        if cached is None:
            with translated("sts", "GetCallerIdentity"):
                cached = self.client("sts", env).get_caller_identity()["Account"]
            self._clients[key] = cached
        return str(cached)

    def _count(self, request: Any = None, **kwargs: Any) -> None:
        # The before-send event fires once per HTTP attempt, retries included.
        event_name: str = kwargs.get("event_name", "")
        parts = event_name.split(".")
        if len(parts) >= 3:
            self.counter.record(parts[1], parts[2])

    def _session(self, role: str | None, external_id: str | None, region: str) -> boto3.session.Session:
        if not role:
            return self._base
        key = (role, external_id, region)
        session = self._sessions.get(key)
        if session is None:
            session = self._assumed_session(role, external_id, region)
            self._sessions[key] = session
        return session

    def _assumed_session(self, role: str, external_id: str | None, region: str) -> boto3.session.Session:
        """A session whose credentials botocore refreshes itself before they expire."""
        extra: dict[str, Any] = {"RoleSessionName": self.settings.session_name}
        if external_id:
            extra["ExternalId"] = external_id
        source = self._base._session  # noqa: SLF001 - botocore session behind boto3's

        def sts_client(*args: Any, **kwargs: Any) -> Any:
            client = source.create_client(*args, **kwargs)
            client.meta.events.register("before-send", self._count)
            return client

        fetcher = AssumeRoleCredentialFetcher(
            client_creator=sts_client,
            source_credentials=source.get_credentials(),
            role_arn=role,
            extra_args=extra,
        )
        creds = DeferredRefreshableCredentials(method="assume-role", refresh_using=fetcher.fetch_credentials)
        botocore_session = botocore.session.Session()
        botocore_session._credentials = creds  # noqa: SLF001 - documented pattern for injected refreshable credentials
        botocore_session.set_config_variable("region", region)
        return boto3.session.Session(botocore_session=botocore_session)
