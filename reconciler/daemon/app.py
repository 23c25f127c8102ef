"""Wire a Daemon from DaemonConfig: the one place that knows every concrete edge."""
from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from reconciler.daemon.chat_app import chat_parts, chat_routes
from reconciler.daemon.config import DaemonConfig
from reconciler.daemon.http import Endpoints, HttpServer
from reconciler.daemon.leader import Fence, Leadership, ShardLeadership
from reconciler.daemon.loop import LoopSettings, Reconciler, RelaySink
from reconciler.daemon.metrics import Metrics
from reconciler.daemon.runner import Daemon
from reconciler.daemon.sharding import ShardSink, SharedWakeup, SignalWatcher
from reconciler.daemon.shards import GLOBAL, ShardLayout
from reconciler.daemon.status import StatusBoard
from reconciler.daemon.wakeup import Wakeup
from reconciler.daemon.webhook import WebhookReceiver
from reconciler.events import NullSink
from reconciler.log import get_logger, register_secret
from reconciler.model import DesiredState
from reconciler.source import GitAuth, GitSource

log = get_logger(__name__)

CONSOLE_NOTIFICATIONS = {"destinations": {"console": {"type": "console"}}, "routes": [{"destinations": ["console"]}]}


def git_auth(cfg: DaemonConfig) -> GitAuth:
    token = cfg.git_token
    if not token and cfg.git_token_file:
        token = Path(cfg.git_token_file).read_text(encoding="utf-8").strip()
    return GitAuth(username=cfg.git_username, token=token or None, ssh_key_file=cfg.git_ssh_key_file,
                   known_hosts_file=cfg.git_known_hosts_file, codecommit_helper=cfg.git_codecommit_helper)


def git_source(cfg: DaemonConfig) -> GitSource:
    auth = git_auth(cfg)
    return GitSource(cfg.git_url, Path(cfg.cache_dir), branch=cfg.git_branch, auth=auth, subdir=cfg.git_path,
                     shallow=cfg.git_shallow, timeout=cfg.git_timeout, commit_url_template=cfg.commit_url_template)


class NotifyStatsCollector:
    """Exports the notifier's own counters (delivered, retried, deduplicated, dropped …) at /metrics
    as `reconciler_notifications_total{outcome}`, read at scrape time."""

    def __init__(self, stats: Any) -> None:
        self._stats = stats

    def collect(self) -> Any:
        from prometheus_client.core import CounterMetricFamily

        family = CounterMetricFamily("reconciler_notifications", "Report notifications by outcome", labels=["outcome"])
        for outcome, value in sorted(self._stats.snapshot().items()):
            family.add_metric([outcome], value)
        yield family


def _notifier(cfg: DaemonConfig, leadership: Leadership, metrics: Metrics, table: Any, clients: Any) -> Any:
    mapping = cfg.notifications or (CONSOLE_NOTIFICATIONS if cfg.notify_console else None)
    if not mapping:
        return None
    from reconciler.aws.sns import SnsPublisher
    from reconciler.notify import build_notifier, load_notify_config

    kwargs: dict[str, Any] = {}
    if table is not None:
        from reconciler.aws.state_table import DynamoDedupStore, DynamoThreadStore

        kwargs = {"dedup": DynamoDedupStore(table, cfg.instance), "threads": DynamoThreadStore(table, cfg.instance)}
    notifier = build_notifier(load_notify_config(mapping), enabled=leadership.is_leader,
                              on_drop=metrics.notification_dropped,
                              publisher_factory=lambda region: SnsPublisher.from_region(region, clients), **kwargs)
    metrics.registry.register(NotifyStatsCollector(notifier.stats))
    return notifier


def build_daemon(cfg: DaemonConfig) -> tuple[Daemon, HttpServer]:
    from reconciler.apply import build_applier
    from reconciler.aws.clients import AwsClients, AwsSettings
    from reconciler.aws.live import LiveReader, read_live_state, wanted_services
    from reconciler.aws.references import make_verifier
    from reconciler.aws.taskdefs import register_bucket_from_env
    from reconciler.manifests import load_repository

    for secret in (cfg.git_token, cfg.webhook_gitlab_token, cfg.webhook_github_secret, cfg.slack_signing_secret,
                   cfg.slack_bot_token, cfg.api_token):
        register_secret(secret)
    metrics = Metrics()
    clients = AwsClients(AwsSettings.from_env())
    clients.counter.add_listener(metrics.aws_call)
    wakeup = Wakeup()
    board = StatusBoard(history=cfg.history)
    register_bucket = register_bucket_from_env()

    table = lease = sharding = None
    if cfg.state_table:
        from reconciler.aws.lease import DynamoLease
        from reconciler.aws.state_table import StateTable

        table = StateTable(clients, cfg.state_table, region=cfg.state_region)
        if cfg.shards:
            sharding = _shard_leadership(cfg, clients, table, register_bucket, metrics)
            wakeup = SharedWakeup(table, cfg.instance)  # pushes and approvals reach every replica
        else:
            lease = DynamoLease(clients, cfg.state_table, cfg.lease_name or cfg.instance, cfg.holder,
                                duration=cfg.lease_duration, region=cfg.state_region)
    leadership = sharding or Leadership(lease, cfg.lease_renew_interval)
    pacer: Any = register_bucket
    if sharding is not None and cfg.shard_register_pacing == "table":
        from reconciler.aws.ratelimit import SharedBucket

        # One bucket for all replicas; this replica's share of the rate if the table cannot be read.
        pacer = SharedBucket(clients, cfg.state_table or "", cfg.instance, "RegisterTaskDefinition",
                             rate=register_bucket.base_rate, burst=register_bucket.base_burst,
                             fallback=register_bucket, region=cfg.state_region)
    fence = Fence(leadership)
    # Before every HTTP attempt of every AWS call; a fenced write never leaves: no AWS call.
    clients.counter.add_guard(fence.check, on_refused=metrics.fenced_write)
    notifier = _notifier(cfg, leadership, metrics, table, clients)
    target = notifier if notifier is not None else NullSink()
    if sharding is not None:
        target = ShardSink(target, sharding.owns, sharding.owns_environment, lambda: sharding.owns_shard(GLOBAL))
    sink = RelaySink(target)

    reader = LiveReader(clients, cfg.instance)

    def load(root: Path) -> DesiredState:
        return load_repository(root, env=cfg.environment)

    def read_live(desired: DesiredState) -> Any:
        envs = desired.environments
        if sharding is not None:  # only environments with a shard held here are read
            sharding.observe(envs)
            envs = {name: env for name, env in envs.items() if sharding.owns_environment(name)}
        # A drift scan gives way to a push between DescribeServices batches (Reconciler.checkpoint).
        return read_live_state(reader, envs, wanted_services(desired), between=lambda: reconciler.checkpoint("reading"))

    def read_scoped(desired: DesiredState, keys: Collection[str]) -> Any:
        """Only `keys` (a push's changed services), in batches of 10 as always; no ListServices."""
        wanted: dict[str, list[str]] = {}
        for key in sorted(keys):
            env, _, name = key.partition("/")
            wanted.setdefault(env, []).append(name)
        if sharding is not None:
            sharding.observe(desired.environments)
        envs = {name: env for name, env in desired.environments.items() if name in wanted}
        return read_live_state(reader, envs, wanted, list_owned=False)

    applier = build_applier(clients, reader, cfg.instance, sink, max_parallel=cfg.max_parallel,
                            poll_interval=cfg.apply_poll_interval, verifier=make_verifier(clients),
                            on_progress=board.progress, register_bucket=pacer)
    settings = LoopSettings(instance=cfg.instance, apply_wait=cfg.apply_wait, apply_timeout=cfg.apply_timeout,
                            backoff_base=cfg.backoff_base, backoff_max=cfg.backoff_max)
    daemon_ref: list[Daemon] = []
    source = git_source(cfg)
    chat = chat_parts(cfg, table, wakeup, source, git_auth(cfg), announce=sink.target.emit)
    reconciler = Reconciler(source, load, read_live, applier, sink, board, metrics, settings,
                            is_leader=leadership.is_leader, stopping=lambda: bool(daemon_ref and daemon_ref[0].stopping),
                            gate=chat.gate.hold, fence=fence, read_scoped=read_scoped,
                            view=lambda scan: scan.desired(env=cfg.environment), changes=source.changed_paths,
                            owns=sharding.owns if sharding is not None else None)

    def on_gain() -> None:
        reconciler.leadership_gained()
        wakeup.notify("leader")

    leadership.on_gain = on_gain  # wired after both exist

    consumer = None
    if cfg.sqs_queue_url:
        from reconciler.aws.sqs import SqsQueue
        from reconciler.daemon.sqs_consumer import SqsConsumer

        consumer = SqsConsumer(SqsQueue(clients, cfg.sqs_queue_url, region=cfg.state_region), wakeup, cfg.git_branch,
                               metrics, repository=cfg.codecommit_repository, wait_seconds=cfg.sqs_wait_seconds,
                               is_leader=leadership.is_leader if sharding is None else
                               lambda: sharding.owns_shard(GLOBAL))  # one consumer: the holder of GLOBAL
    webhooks = WebhookReceiver(wakeup, cfg.git_branch, gitlab_token=cfg.webhook_gitlab_token,
                               github_secret=cfg.webhook_github_secret)

    def on_cycle(result: Any, started: float) -> None:
        board.set_daemon(leader=leadership.is_leader())
        metrics.leader.set(1 if leadership.is_leader() else 0)
        if sharding is not None:
            metrics.set_shards(sharding.held(), len(sharding.replicas))
        if consumer is not None and result.git_resolved and not (result.crashed or result.preempted):
            consumer.handled(started)  # the commit was loaded: the messages that announced it are done

    def close(timeout: float) -> None:
        if notifier is not None:
            notifier.close(timeout)

    def extra_status() -> dict[str, Any]:
        leader = leadership.is_leader()
        metrics.leader.set(1 if leader else 0)
        doc = {"leader": leader, "holder": lease.holder if lease else None, "ready": daemon.ready()[0],
               "instance": cfg.instance, "branch": cfg.git_branch, "recentActions": chat.audit.recent()}
        if sharding is not None:
            metrics.set_shards(sharding.held(), len(sharding.replicas))
            doc.update(holder=sharding.me, shards={"held": list(sharding.held()),
                                                   "releasing": list(sharding.releasing()),
                                                   "replicas": list(sharding.replicas),
                                                   "waitingForLayout": sorted(sharding.paused)})
        return doc

    daemon = Daemon(reconciler, wakeup, leadership, poll_interval=cfg.poll_interval, poll_jitter=cfg.poll_jitter,
                    drift_interval=cfg.drift_interval, shutdown_timeout=cfg.shutdown_timeout, on_cycle=on_cycle,
                    close=close)
    daemon_ref.append(daemon)
    routes, prechecks = chat_routes(cfg, chat, board, reconciler, applier, wakeup)
    http = HttpServer(cfg.http_host, cfg.http_port, Endpoints(board, metrics, webhooks, daemon.ready, extra_status,
                                                              routes=routes, prechecks=prechecks))
    signals = SignalWatcher(wakeup, cfg.shard_signal_interval) if isinstance(wakeup, SharedWakeup) else None
    daemon.services = tuple(s for s in (http, consumer, signals) if s is not None)
    log.info("daemon_configured", git_url=cfg.git_url, branch=cfg.git_branch, instance=cfg.instance,
             lease=bool(lease), shards=bool(sharding), sqs=bool(consumer), webhooks=webhooks.enabled, chat_routes=sorted(routes))
    return daemon, http


def _shard_leadership(cfg: DaemonConfig, clients: Any, table: Any, bucket: Any, metrics: Metrics) -> ShardLeadership:
    """Shard leases named after the shard (`<lease name>/<shard>`), a registry heartbeat, and this
    replica's share of the RegisterTaskDefinition rate, re-evaluated as replicas come and go."""
    from reconciler.aws.lease import DynamoLease
    from reconciler.aws.registry import ReplicaRegistry

    prefix = cfg.lease_name or cfg.instance
    registry = ReplicaRegistry(table, cfg.instance, cfg.holder, duration=cfg.lease_duration)

    def lease(shard: str) -> DynamoLease:
        return DynamoLease(clients, cfg.state_table or "", f"{prefix}/{shard}", cfg.holder,
                           duration=cfg.lease_duration, region=cfg.state_region)

    def share(replicas: int) -> None:
        bucket.share(replicas)
        log.info("register_rate_shared", replicas=replicas, rate=round(bucket.rate, 4), burst=int(bucket.burst))

    leadership = ShardLeadership(registry, lease, ShardLayout.parse(cfg.shard_split), cfg.lease_renew_interval,
                                 on_replicas=share)
    leadership.on_tick = lambda: metrics.set_shards(leadership.held(), len(leadership.replicas))  # needs itself
    return leadership


__all__ = ["build_daemon", "git_source"]
