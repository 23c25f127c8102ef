"""Prometheus metrics of the daemon, in their own registry (served at GET /metrics)."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from reconciler.daemon.health import ORDER

SYNC_STATUSES = ("Synced", "OutOfSync", "Unknown")


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.cycle_duration = Histogram("reconciler_cycle_duration_seconds", "Duration of reconcile cycles",
                                        ["kind"], registry=r,
                                        buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800))
        self.cycles = Counter("reconciler_cycles_total", "Reconcile cycles by kind and result", ["kind", "result"],
                              registry=r)
        self.services_sync = Gauge("reconciler_services_sync", "Services per sync status", ["status"], registry=r)
        self.services_health = Gauge("reconciler_services_health", "Services per health", ["health"], registry=r)
        self.syncs = Counter("reconciler_syncs_total", "Service syncs by result", ["result"], registry=r)
        self.aws_calls = Counter("reconciler_aws_calls_total", "AWS API calls (HTTP attempts) by service and action",
                                 ["service", "action"], registry=r)
        self.fenced_writes = Counter("reconciler_fenced_writes_total",
                                     "AWS writes stopped before sending because the leader lease moved "
                                     "(not counted as AWS calls)", ["service", "action"], registry=r)
        self.git_fetch = Histogram("reconciler_git_fetch_duration_seconds", "Duration of git fetches", registry=r)
        self.git_checks = Counter("reconciler_git_head_checks_total", "git ls-remote checks by result", ["result"],
                                  registry=r)
        self.last_success = Gauge("reconciler_last_successful_cycle_timestamp_seconds",
                                  "Unix time of the last cycle that completed without error", registry=r)
        self.notifications_dropped = Counter("reconciler_notifications_dropped_total",
                                             "Report notifications dropped", ["reason"], registry=r)
        self.webhooks = Counter("reconciler_webhooks_total", "Webhook deliveries by HTTP status", ["status"],
                                registry=r)
        self.leader = Gauge("reconciler_leader", "1 while this replica holds the lease", registry=r)
        self.shards = Gauge("reconciler_shard_held", "1 for each shard this replica holds (sharded daemons)",
                            ["shard"], registry=r)
        self.replicas = Gauge("reconciler_replicas", "Live replicas in the registry (sharded daemons)", registry=r)
        self.sqs_messages = Counter("reconciler_sqs_messages_total", "SQS messages by outcome", ["outcome"],
                                    registry=r)

    def aws_call(self, service: str, action: str) -> None:
        self.aws_calls.labels(service, action).inc()

    def fenced_write(self, service: str, action: str) -> None:
        self.fenced_writes.labels(service, action).inc()

    def notification_dropped(self, reason: str, _destination: str) -> None:
        self.notifications_dropped.labels(reason).inc()

    def set_service_counts(self, sync: dict[str, int], health: dict[str, int]) -> None:
        for status in SYNC_STATUSES:
            self.services_sync.labels(status).set(sync.get(status, 0))
        for h in ORDER:
            self.services_health.labels(h).set(health.get(h, 0))

    def set_shards(self, held: tuple[str, ...], replicas: int) -> None:
        """Exactly the shards held now carry a sample (a shard given back disappears)."""
        self.shards.clear()
        for shard in held:
            self.shards.labels(shard).set(1)
        self.replicas.set(replicas)

    def render(self) -> bytes:
        return generate_latest(self.registry)
