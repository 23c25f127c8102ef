"""Notification configuration, read from the daemon's configuration (never manifests).

The `notifications:` section is declared once, by the models below (keys, types, defaults, help):
they validate it, reject unknown keys with a did-you-mean, and generate the reference table of
docs/notifications.md (`python -m reconciler.docgen`).

Secrets are referenced by environment variable name (`webhookUrlEnv`, `tokenEnv`, `secretEnv`,
`urlEnv`), resolved once here and registered with `reconciler.log.register_secret` so they cannot
reach logs. Errors name the key's path (`routes[1].kinds`) and never the value. Example::

    destinations:
      deploys: {type: slack-api, tokenEnv: SLACK_BOT_TOKEN, channel: C0123456}
      alerts:  {type: slack-webhook, webhookUrlEnv: SLACK_WEBHOOK_URL}
    routes:
      - {environment: prod, services: "orders-*", destinations: [deploys]}
      - {environment: "*", destinations: [alerts]}
"""
from __future__ import annotations

import os
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from reconciler.events import EVENT_KINDS
from reconciler.log import register_secret
from reconciler.pydantic_errors import reason
from reconciler.suggest import suggest

DestinationType = Literal["slack-webhook", "slack-api", "teams", "webhook", "sns", "console"]
TYPES: tuple[str, ...] = get_args(DestinationType)
KINDS = EVENT_KINDS  # the event kinds live with the events (reconciler.events)
# secret field -> the keys naming its environment variable
_SECRET_ENV = {"url": ("webhookUrlEnv", "urlEnv"), "token": ("tokenEnv",), "secret": ("secretEnv",)}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "slack-webhook": ("url",), "slack-api": ("token", "channel"), "teams": ("url",),
    "webhook": ("url",), "sns": ("topic_arn",), "console": (),
}
_LITERAL_SECRETS = ("webhookUrl", "url", "token", "secret")


class NotifyConfigError(ValueError):
    """A problem at `path` (a tuple of keys and list indexes) of the `notifications:` section."""

    def __init__(self, path: tuple[str | int, ...], reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(f"{render_path(path)}: {reason}" if path else reason)


def render_path(path: tuple[str | int, ...]) -> str:
    """`("routes", 1, "kinds")` -> `routes[1].kinds`."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a number")
    return value


def _text(value: Any) -> Any:
    """YAML reads `environment: 2024` as a number; names are text."""
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def _empty_if_null(value: Any) -> Any:
    return {} if value is None else value


Number = Annotated[float, BeforeValidator(_no_bool)]
Count = Annotated[int, BeforeValidator(_no_bool)]
Text = Annotated[str, BeforeValidator(_text)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DestinationSpec(_Section):
    """One entry of `destinations:` as written; secrets are names of environment variables."""

    type: DestinationType = Field(description="slack-webhook, slack-api, teams, webhook, sns or console")
    webhookUrlEnv: Text | None = Field(None, description="variable holding the webhook URL (slack-webhook, teams)")
    urlEnv: Text | None = Field(None, description="variable holding the URL (webhook; also slack-webhook, teams)")
    tokenEnv: Text | None = Field(None, description="variable holding the bot token (slack-api)")
    secretEnv: Text | None = Field(None, description="variable holding the HMAC secret (webhook, optional)")
    channel: Text | None = Field(None, description="channel ID (slack-api)")
    topicArn: Text | None = Field(None, description="SNS topic ARN (sns)")
    region: Text | None = Field(None, description="region of the topic (sns; default: the SDK's)")
    baseUrl: Text | None = Field(None, description="Slack Web API base URL (a proxy, or a local receiver in tests)")
    timeoutSeconds: Number = Field(10.0, description="HTTP timeout per delivery attempt, seconds")


class Route(_Section):
    """Events of `environment` (glob) → destinations; `services` (glob) narrows to some services."""

    destinations: tuple[Text, ...] = Field(min_length=1, description="destination names, each sent once per event")
    environment: Text = Field("*", description="glob on the environment name")
    services: Text | None = Field(None, description="glob on service names: the event is narrowed to them")
    kinds: frozenset[Text] | None = Field(None, description="only these event kinds (default: all)")


class QueueSpec(_Section):
    size: Count = Field(1000, description="events waiting for delivery; more are dropped and counted")
    maxAttempts: Count = Field(4, description="attempts per destination, including the first")
    backoffSeconds: Number = Field(1.0, description="first retry delay, doubling (a 429's Retry-After wins)")
    maxBackoffSeconds: Number = Field(60.0, description="retry delay cap; also caps Retry-After")
    batchSeconds: Number = Field(2.0, description="quiet window merging one commit's sync events (0: off)")


class Notifications(_Section):
    """The `notifications:` section."""

    destinations: Annotated[dict[Text, DestinationSpec], BeforeValidator(_empty_if_null)] = Field(
        default_factory=dict, description="name -> destination")
    routes: Annotated[tuple[Route, ...], BeforeValidator(lambda v: () if v is None else v)] = Field(
        (), description="every matching route adds its destinations (each once)")
    queue: Annotated[QueueSpec, BeforeValidator(_empty_if_null)] = Field(
        default_factory=QueueSpec, description="delivery queue and retries")


@dataclass(frozen=True)
class DestinationConfig:
    """A destination with its secrets resolved (what the factory builds senders from)."""

    name: str
    type: DestinationType
    url: str | None = field(default=None, repr=False)      # secret
    token: str | None = field(default=None, repr=False)    # secret
    secret: str | None = field(default=None, repr=False)   # secret (HMAC)
    channel: str | None = None
    topic_arn: str | None = None
    region: str | None = None
    base_url: str | None = None   # Slack Web API override (tests, proxies)
    timeout_seconds: float = DestinationSpec.model_fields["timeoutSeconds"].default


@dataclass(frozen=True)
class NotifyConfig:
    destinations: Mapping[str, DestinationConfig]
    routes: tuple[Route, ...]
    queue_size: int
    max_attempts: int
    backoff_seconds: float
    max_backoff_seconds: float
    batch_seconds: float   # quiet window merging one commit's per-service sync events (0: off)


# --- validation -------------------------------------------------------------------------------------------

def _model_at(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The section model that `loc` points into (to list the keys it knows)."""
    current: Any = Notifications
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            if part not in current.model_fields:
                return None
            current = current.model_fields[part].annotation
        else:  # dict[str, X] / tuple[X, ...]: the key or index selects an X
            args = [a for a in get_args(current) if a is not Ellipsis]
            current = args[-1] if args else None
        while typing.get_origin(current) in (typing.Union, types.UnionType, Annotated):
            current = next(a for a in get_args(current) if a is not type(None))
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _first_error(exc: ValidationError) -> NotifyConfigError:
    error = exc.errors()[0]
    loc = tuple(error["loc"])
    model = _model_at(loc[:-1]) if error["type"] == "extra_forbidden" else None
    return NotifyConfigError(loc, reason(error, list(model.model_fields) if model else None))


def check_notifications(mapping: Any) -> Notifications:
    """The section validated as written (no environment needed); raises NotifyConfigError."""
    if not isinstance(mapping, Mapping):
        raise NotifyConfigError((), "expected a mapping")
    dests = mapping.get("destinations")
    for name, raw in dests.items() if isinstance(dests, Mapping) else ():
        for literal in _LITERAL_SECRETS:
            if isinstance(raw, Mapping) and literal in raw:
                raise NotifyConfigError(("destinations", str(name), literal),
                                        f"put secrets in the environment and use {literal}Env")
    try:
        section = Notifications.model_validate(dict(mapping))
    except ValidationError as exc:
        raise _first_error(exc) from None
    for i, r in enumerate(section.routes):
        unknown = [d for d in r.destinations if d not in section.destinations]
        if unknown:
            raise NotifyConfigError(("routes", i, "destinations"), f"unknown destination(s) {', '.join(unknown)}"
                                    f"{suggest(unknown[0], section.destinations)}")
        if r.kinds is not None and not r.kinds <= KINDS:
            bad = sorted(r.kinds - KINDS)
            raise NotifyConfigError(("routes", i, "kinds"), f"unknown kind(s) {', '.join(bad)}{suggest(bad[0], KINDS)}")
    return section


def _secret(name: str, spec: DestinationSpec, attr: str, env: Mapping[str, str]) -> str | None:
    for key in _SECRET_ENV[attr]:
        var = getattr(spec, key)
        if var is None:
            continue
        value = env.get(var)
        if not value:
            raise NotifyConfigError(("destinations", name, key), f"environment variable {var} is not set")
        register_secret(value)
        return value
    return None


def _destination(name: str, spec: DestinationSpec, env: Mapping[str, str]) -> DestinationConfig:
    cfg = DestinationConfig(
        name=name, type=spec.type,
        url=_secret(name, spec, "url", env), token=_secret(name, spec, "token", env),
        secret=_secret(name, spec, "secret", env), channel=spec.channel, topic_arn=spec.topicArn,
        region=spec.region, base_url=spec.baseUrl, timeout_seconds=spec.timeoutSeconds,
    )
    missing = [f for f in _REQUIRED[spec.type] if not getattr(cfg, f)]
    if missing:
        raise NotifyConfigError(("destinations", name), f"{spec.type} destination: missing {', '.join(missing)}")
    return cfg


def load_notify_config(mapping: Mapping[str, Any], env: Mapping[str, str] | None = None) -> NotifyConfig:
    """Validate the `notifications` mapping and resolve its secrets from `env` (os.environ)."""
    env = os.environ if env is None else env
    section = check_notifications(mapping)
    q = section.queue
    return NotifyConfig(
        destinations={n: _destination(n, d, env) for n, d in section.destinations.items()},
        routes=section.routes, queue_size=q.size, max_attempts=q.maxAttempts, backoff_seconds=q.backoffSeconds,
        max_backoff_seconds=q.maxBackoffSeconds, batch_seconds=q.batchSeconds,
    )


# --- reference table (docs/notifications.md) ---------------------------------------------------------------

def _rows(model: type[BaseModel], prefix: str) -> Iterator[str]:
    for name, f in model.model_fields.items():
        default = "required" if f.is_required() else (
            "unset" if f.default is None else f"`{f.default:g}`" if isinstance(f.default, float) else f"`{f.default}`")
        yield f"| `{prefix}{name}` | {default} | {f.description} |"


def docs_table() -> str:
    """The reference table of docs/notifications.md, from the models above."""
    rows = ["| key | default | meaning |", "|---|---|---|"]
    rows += _rows(DestinationSpec, "destinations.<name>.")
    rows += _rows(Route, "routes[].")
    rows += _rows(QueueSpec, "queue.")
    return "\n".join(rows)
