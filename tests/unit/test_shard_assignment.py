"""Shards (pure): the shard of a service, rendezvous assignment balance, minimal movement when a
replica joins or leaves, the split setting; and the RegisterTaskDefinition share per replica."""
from __future__ import annotations

import collections

import pytest

from reconciler.aws.taskdefs import TokenBucket
from reconciler.daemon.shards import GLOBAL, ShardConfigError, ShardLayout, assignment, owner, wanted

SHARDS = [f"env{i}" for i in range(400)]


def test_an_environment_is_a_shard_unless_split_into_hash_ranges() -> None:
    layout = ShardLayout.parse("production=4, staging=1")
    assert layout.shard_of("dev/web") == "dev"
    assert layout.shard_of("staging/web") == "staging"
    shards = {layout.shard_of(f"production/svc{i}") for i in range(400)}
    assert shards == {"production#1of4", "production#2of4", "production#3of4", "production#4of4"}
    assert layout.shard_of("production/web") == layout.shard_of("production/web")  # stable
    assert layout.shards(["production", "dev"]) == (GLOBAL, "dev", "production#1of4", "production#2of4",
                                                      "production#3of4", "production#4of4")
    assert ShardLayout.environment_of("production#2of4") == "production"
    assert ShardLayout.environment_of(GLOBAL) is None
    # Each range gets a fair part of the services.
    counts = collections.Counter(layout.shard_of(f"production/svc{i}") for i in range(4000))
    assert min(counts.values()) > 800, counts


@pytest.mark.parametrize("text", ["production", "production=0", "production=x", "=2", "a=2,a=3", "p=300"])
def test_a_bad_split_is_refused_with_the_reason(text: str) -> None:
    with pytest.raises(ShardConfigError):
        ShardLayout.parse(text)


def test_every_shard_has_exactly_one_owner_and_the_share_is_fair() -> None:
    replicas = [f"replica-{i}" for i in range(5)]
    owners = assignment(SHARDS, replicas)
    assert set(owners) == set(SHARDS)
    counts = collections.Counter(owners.values())
    assert set(counts) == set(replicas)
    mean = len(SHARDS) / len(replicas)
    assert all(abs(c - mean) < 0.3 * mean for c in counts.values()), counts
    # Each replica computes its own part; together they are the whole, without overlap.
    parts = [wanted(SHARDS, replicas, r) for r in replicas]
    assert sum(len(p) for p in parts) == len(SHARDS) and frozenset().union(*parts) == frozenset(SHARDS)


def test_a_joining_replica_takes_only_what_it_gets_and_nothing_else_moves() -> None:
    before = assignment(SHARDS, ["a", "b", "c"])
    after = assignment(SHARDS, ["a", "b", "c", "d"])
    moved = {s for s in SHARDS if before[s] != after[s]}
    assert moved and all(after[s] == "d" for s in moved)  # moves only to the newcomer
    assert 0.15 * len(SHARDS) < len(moved) < 0.35 * len(SHARDS)  # about its fair quarter


def test_a_leaving_replica_s_shards_spread_and_nothing_else_moves() -> None:
    before = assignment(SHARDS, ["a", "b", "c", "d"])
    after = assignment(SHARDS, ["a", "b", "d"])
    moved = {s for s in SHARDS if before[s] != after[s]}
    assert moved == {s for s in SHARDS if before[s] == "c"}
    assert {after[s] for s in moved} == {"a", "b", "d"}  # spread over the others, not dumped on one


def test_owner_is_independent_of_the_order_replicas_are_listed_in() -> None:
    assert all(owner(s, ["a", "b", "c"]) == owner(s, ["c", "a", "b"]) for s in SHARDS)
    assert owner("x", []) is None
    assert wanted(["x"], [], "me") == frozenset({"x"})  # alone (not yet listed): everything is mine


def test_register_rate_is_shared_among_replicas_and_restored() -> None:
    clock = [0.0]
    bucket = TokenBucket(1.0, 20, now=lambda: clock[0], sleep=lambda s: clock.__setitem__(0, clock[0] + s))
    bucket.share(3)
    assert bucket.rate == pytest.approx(1 / 3) and bucket.burst == 6
    for _ in range(6):  # the reduced burst at once
        assert bucket.acquire() == 0
    assert bucket.acquire() == pytest.approx(3.0)  # then one every 3 s
    bucket.share(1)
    assert bucket.rate == 1.0 and bucket.burst == 20


def test_three_replicas_with_their_shares_stay_within_the_account_rate_together() -> None:
    """Each registers as fast as its bucket lets it for 60 s: together at most rate x 60 + burst."""
    sent = 0
    for _ in range(3):
        clock = [0.0]
        bucket = TokenBucket(1.0, 20, now=lambda c=clock: c[0], sleep=lambda s, c=clock: c.__setitem__(0, c[0] + s))
        bucket.share(3)
        while True:
            bucket.acquire()
            if clock[0] > 60:
                break
            sent += 1
    assert 60 <= sent <= 60 + 20, sent


def test_sharding_settings_are_checked_with_the_variable_named() -> None:
    from reconciler.daemon.config import ConfigError, DaemonConfig

    git = {"RECONCILER_GIT_URL": "https://example.invalid/m.git"}
    with pytest.raises(ConfigError, match="RECONCILER_SHARDS needs RECONCILER_STATE_TABLE"):
        DaemonConfig.load({**git, "RECONCILER_SHARDS": "true"})
    with pytest.raises(ConfigError, match="RECONCILER_SHARD_SPLIT: 'production=0'"):
        DaemonConfig.load({**git, "RECONCILER_SHARDS": "true", "RECONCILER_STATE_TABLE": "t",
                           "RECONCILER_SHARD_SPLIT": "production=0"})
    cfg = DaemonConfig.load({**git, "RECONCILER_SHARDS": "true", "RECONCILER_STATE_TABLE": "t",
                             "RECONCILER_SHARD_SPLIT": "production=4"})
    assert cfg.shards and ShardLayout.parse(cfg.shard_split).ranges("production") == 4
    assert not DaemonConfig.load(git).shards  # off by default
