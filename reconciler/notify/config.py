"""Notification configuration, read from the daemon's configuration (never manifests).

Secrets are referenced by environment variable name (`webhookUrlEnv`,
`tokenEnv`, `secretEnv`, `urlEnv`), resolved once here and registered with
`reconciler.log.register_secret` so they cannot reach logs. Example::

    destinations:
      deploys: {type: slack-api, tokenEnv: SLACK_BOT_TOKEN, channel: C0123456}
      alerts:  {type: slack-webhook, webhookUrlEnv: SLACK_WEBHOOK_URL}
    routes:
      - {environment: prod, services: "orders-*", destinations: [deploys]}
      - {environment: "*", destinations: [alerts]}
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from reconciler.events import EVENT_KINDS
from reconciler.log import register_secret

DestinationType = Literal["slack-webhook", "slack-api", "teams", "webhook", "sns", "console"]
TYPES: tuple[str, ...] = ("slack-webhook", "slack-api", "teams", "webhook", "sns", "console")
KINDS = EVENT_KINDS  # the event kinds live with the events (reconciler.events)
# secret field -> env-key in the config
_SECRET_ENV = {"url": ("webhookUrlEnv", "urlEnv"), "token": ("tokenEnv",), "secret": ("secretEnv",)}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "slack-webhook": ("url",), "slack-api": ("token", "channel"), "teams": ("url",),
    "webhook": ("url",), "sns": ("topic_arn",), "console": (),
}


class NotifyConfigError(ValueError):
    pass


@dataclass(frozen=True)
class DestinationConfig:
    name: str
    type: DestinationType
    url: str | None = field(default=None, repr=False)      # secret
    token: str | None = field(default=None, repr=False)    # secret
    secret: str | None = field(default=None, repr=False)   # secret (HMAC)
    channel: str | None = None
    topic_arn: str | None = None
    region: str | None = None
    base_url: str | None = None   # Slack Web API override (tests, proxies)
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class Route:
    """Events of `environment` (glob) → destinations; `services` (glob) narrows to some services."""

    destinations: tuple[str, ...]
    environment: str = "*"
    services: str | None = None
    kinds: frozenset[str] | None = None


@dataclass(frozen=True)
class NotifyConfig:
    destinations: Mapping[str, DestinationConfig]
    routes: tuple[Route, ...]
    queue_size: int = 1000
    max_attempts: int = 4
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 60.0
    batch_seconds: float = 2.0   # quiet window merging one commit's per-service sync events (0: off)


def _secret(name: str, raw: Mapping[str, Any], attr: str, env: Mapping[str, str]) -> str | None:
    for key in _SECRET_ENV[attr]:
        var = raw.get(key)
        if var is None:
            continue
        value = env.get(str(var))
        if not value:
            raise NotifyConfigError(f"destination {name!r}: environment variable {var} ({key}) is not set")
        register_secret(value)
        return value
    return None


def _number(where: str, value: Any, cast: type) -> Any:
    """int/float of a config value, or an error that names the field (never a bare ValueError)."""
    if isinstance(value, bool):
        raise NotifyConfigError(f"{where}: expected a number, got {value!r}")
    try:
        return cast(value)
    except (TypeError, ValueError):
        raise NotifyConfigError(f"{where}: expected a number, got {value!r}") from None


def _names(where: str, value: Any) -> list[str]:
    """A list of names; a bare string would otherwise be read letter by letter."""
    if not isinstance(value, (list, tuple)):
        raise NotifyConfigError(f"{where}: expected a list, got {value!r}")
    return [str(v) for v in value]


def _destination(name: str, raw: Any, env: Mapping[str, str]) -> DestinationConfig:
    if not isinstance(raw, Mapping):
        raise NotifyConfigError(f"destination {name!r}: expected a mapping")
    kind = raw.get("type")
    if kind not in TYPES:
        raise NotifyConfigError(f"destination {name!r}: type must be one of {', '.join(TYPES)}")
    for literal in ("webhookUrl", "url", "token", "secret"):
        if literal in raw:
            raise NotifyConfigError(f"destination {name!r}: put secrets in the environment and use {literal}Env")
    cfg = DestinationConfig(
        name=name, type=kind,
        url=_secret(name, raw, "url", env), token=_secret(name, raw, "token", env),
        secret=_secret(name, raw, "secret", env),
        channel=raw.get("channel"), topic_arn=raw.get("topicArn"), region=raw.get("region"),
        base_url=raw.get("baseUrl"), timeout_seconds=_number(f"destinations.{name}.timeoutSeconds", raw.get("timeoutSeconds", 10.0), float),
    )
    missing = [f for f in _REQUIRED[kind] if not getattr(cfg, f)]
    if missing:
        raise NotifyConfigError(f"destination {name!r} ({kind}): missing {', '.join(missing)}")
    return cfg


def _route(i: int, raw: Any, names: set[str]) -> Route:
    if not isinstance(raw, Mapping) or not raw.get("destinations"):
        raise NotifyConfigError(f"routes[{i}]: needs a list of destinations")
    dests = tuple(_names(f"routes[{i}].destinations", raw["destinations"]))
    unknown = [d for d in dests if d not in names]
    if unknown:
        raise NotifyConfigError(f"routes[{i}]: unknown destination(s) {', '.join(unknown)}")
    kinds = raw.get("kinds")
    if kinds is not None:
        kinds = _names(f"routes[{i}].kinds", kinds)
    if kinds is not None and not set(kinds) <= KINDS:
        raise NotifyConfigError(f"routes[{i}]: unknown kind(s) {', '.join(sorted(set(kinds) - KINDS))}")
    return Route(destinations=dests, environment=str(raw.get("environment", "*")),
                 services=raw.get("services"), kinds=frozenset(kinds) if kinds is not None else None)


def load_notify_config(mapping: Mapping[str, Any], env: Mapping[str, str] | None = None) -> NotifyConfig:
    """Validate the `notifications` mapping and resolve its secrets from `env` (os.environ)."""
    env = os.environ if env is None else env
    raw_dests = mapping.get("destinations") or {}
    if not isinstance(raw_dests, Mapping):
        raise NotifyConfigError("destinations: expected a mapping of name -> destination")
    dests = {str(n): _destination(str(n), d, env) for n, d in raw_dests.items()}
    routes = tuple(_route(i, r, set(dests)) for i, r in enumerate(mapping.get("routes") or []))
    queue = mapping.get("queue") or {}
    if not isinstance(queue, Mapping):
        raise NotifyConfigError("queue: expected a mapping")
    return NotifyConfig(
        destinations=dests, routes=routes,
        queue_size=_number("queue.size", queue.get("size", 1000), int),
        max_attempts=_number("queue.maxAttempts", queue.get("maxAttempts", 4), int),
        backoff_seconds=_number("queue.backoffSeconds", queue.get("backoffSeconds", 1.0), float),
        max_backoff_seconds=_number("queue.maxBackoffSeconds", queue.get("maxBackoffSeconds", 60.0), float),
        batch_seconds=_number("queue.batchSeconds", queue.get("batchSeconds", 2.0), float),
    )
