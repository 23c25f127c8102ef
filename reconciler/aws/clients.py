"""boto3 sessions and clients: retry mode, cross-account roles, call counting, error mapping.

Retries are botocore's own (`adaptive` by default: standard retries plus a
client-side rate limiter that backs off after throttling, botocore/retries/
adaptive.py), never hand-written loops. `AWS_ENDPOINT_URL` is honoured by boto3
itself, which is how the sandbox is reached; nothing here knows about it.

Every client handed out is a `TranslatedClient`: the one boundary where botocore's
exceptions become reconciler.aws.errors' tree, so no call site wraps its calls.
"""
from __future__ import annotations

import collections
import functools
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials

from reconciler.aws.errors import translate
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
    """Counts AWS API calls by (service, action); the benchmark and /metrics read it.

    Guards (the daemon's lease fence) run first: an attempt a guard refuses raises before it
    is sent, so it is not a call; it is counted apart (`refused`) and told to `on_refused`."""

    def __init__(self) -> None:
        self._counts: collections.Counter[tuple[str, str]] = collections.Counter()
        self._refused: collections.Counter[tuple[str, str]] = collections.Counter()
        self._lock = threading.Lock()
        self._listeners: list[CallListener] = []
        self._guards: list[CallListener] = []
        self._on_refused: list[CallListener] = []

    def add_listener(self, listener: CallListener) -> None:
        self._listeners.append(listener)

    def add_guard(self, guard: CallListener, on_refused: CallListener | None = None) -> None:
        """`guard` may raise to stop an attempt before it leaves; `on_refused` hears of each one stopped."""
        self._guards.append(guard)
        if on_refused is not None:
            self._on_refused.append(on_refused)

    def record(self, service: str, action: str) -> None:
        try:
            for guard in self._guards:
                guard(service, action)
        except Exception:
            with self._lock:
                self._refused[(service, action)] += 1
            for listener in self._on_refused:
                listener(service, action)
            raise
        with self._lock:
            self._counts[(service, action)] += 1
        for listener in self._listeners:
            listener(service, action)

    def refused(self, service: str, action: str) -> int:
        with self._lock:
            return self._refused[(service, action)]

    def get(self, service: str, action: str) -> int:
        with self._lock:
            return self._counts[(service, action)]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {f"{s}:{a}": n for (s, a), n in sorted(self._counts.items())}

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


def _translating(call: Callable[..., Any], service: str, action: str) -> Callable[..., Any]:
    @functools.wraps(call)
    def translated_call(*args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except Exception as exc:
            mapped = translate(exc, service, action)
            if mapped is exc:
                raise
            raise mapped from exc

    return translated_call


class TranslatedPages:
    """A paginator's pages; the calls that fetch them are translated too."""

    def __init__(self, pages: Any, service: str, action: str) -> None:
        self._pages = pages
        self._service = service
        self._action = action

    def __iter__(self) -> Iterator[Any]:
        iterator = iter(self._pages)
        next_page = _translating(lambda: next(iterator), self._service, self._action)
        while True:
            try:
                yield next_page()
            except StopIteration:
                return

    def build_full_result(self) -> Any:
        return _translating(self._pages.build_full_result, self._service, self._action)()


class TranslatedPaginator:
    def __init__(self, paginator: Any, service: str, action: str) -> None:
        self._paginator = paginator
        self._service = service
        self._action = action

    def paginate(self, **kwargs: Any) -> TranslatedPages:
        return TranslatedPages(self._paginator.paginate(**kwargs), self._service, self._action)


class TranslatedClient:
    """A botocore client whose API calls raise reconciler.aws.errors' exceptions, never botocore's.

    API methods (those in `meta.method_to_api_mapping`) and paginators are wrapped; anything
    else (`meta`, `exceptions`, `can_paginate`...) is the client's own.
    """

    def __init__(self, client: Any, service: str) -> None:
        self._client = client
        self._service = service

    @property
    def meta(self) -> Any:
        return self._client.meta

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        action = self._client.meta.method_to_api_mapping.get(name)
        if action is not None:
            return _translating(attr, self._service, action)
        if name == "get_paginator":
            def get_paginator(operation: str) -> TranslatedPaginator:
                action = self._client.meta.method_to_api_mapping.get(operation, operation)
                return TranslatedPaginator(attr(operation), self._service, action)
            return get_paginator
        return attr


def translating(client: Any, service: str | None = None) -> TranslatedClient:
    """Wrap a botocore client (AwsClients does it for every client; tests wrap stubbed ones)."""
    if isinstance(client, TranslatedClient):
        return client
    return TranslatedClient(client, service or client.meta.service_model.service_name)


class AwsClients:
    """Hands out cached clients per (environment account/role, region, service).

    Each HTTP attempt is counted (retries included), because that is what the
    rate limits see.
    """

    def __init__(self, settings: AwsSettings | None = None, counter: CallCounter | None = None,
                 models_from: AwsClients | None = None) -> None:
        self.settings = settings or AwsSettings()
        self.counter = counter or CallCounter()
        self._base = boto3.session.Session()
        if models_from is not None:
            self._base._session.register_component("data_loader", models_from.models)  # noqa: SLF001
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
                raw = _translating(session.client, service, "")(service, region_name=region, config=self._config)
                raw.meta.events.register("before-send", self._count)
                client = translating(raw, service)
                self._clients[key] = client
            return client

    def account_id(self, env: Environment | None = None) -> str:
        """The account the credentials for `env` act in (cached: it never changes for a session)."""
        key = ("account", env.role_arn if env else None, env.external_id if env else None)
        cached = self._clients.get(key)
        if cached is None:
            cached = self.client("sts", env).get_caller_identity()["Account"]
            self._clients[key] = cached
        return str(cached)

    def _count(self, request: Any = None, **kwargs: Any) -> None:
        # The before-send event fires once per HTTP attempt, retries included.
        event_name: str = kwargs.get("event_name", "")
        parts = event_name.split(".")
        if len(parts) >= 3:
            self.counter.record(parts[1], parts[2])

    @property
    def models(self) -> Any:
        """botocore's loader of API models, shared by every session made here (and by `models_from`):
        each session would otherwise load the ECS, CodeDeploy … models again, about 10 MiB per
        assumed role, kept for the life of the process."""
        return self._base._session.get_component("data_loader")  # noqa: SLF001 - botocore session behind boto3's

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
        botocore_session.register_component("data_loader", self.models)
        return boto3.session.Session(botocore_session=botocore_session)
