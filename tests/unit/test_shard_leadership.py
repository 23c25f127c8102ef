"""Shard leadership on DynamoDB (moto in-process, injected clock): every shard held by exactly one
replica, a dead replica's shards taken over after their leases expire, a newcomer's share given
back only once no work runs under it, and each write fenced by the lease of its service's shard."""
from __future__ import annotations

import pytest
from test_lease_dynamo import TABLE, Clock, clients  # noqa: F401 - fixture

from reconciler.apply.continuation import acting_for
from reconciler.aws.lease import DynamoLease
from reconciler.aws.registry import ReplicaRegistry
from reconciler.aws.state_table import StateTable
from reconciler.daemon.leader import Fence, LeaseLost, ShardLeadership
from reconciler.daemon.shards import GLOBAL, ShardLayout

ENVS = [f"env{i}" for i in range(1, 9)]
DURATION = 30.0


class Replica:
    def __init__(self, clients, clock: Clock, name: str, layout: ShardLayout | None = None) -> None:
        table = StateTable(clients, TABLE, clock=clock)
        self.shares: list[int] = []
        self.gained = 0
        self.leadership = ShardLeadership(
            ReplicaRegistry(table, "inst", name, duration=DURATION, clock=clock),
            lambda shard: DynamoLease(clients, TABLE, f"inst/{shard}", name, duration=DURATION, clock=clock),
            layout or ShardLayout(), renew_interval=10, on_replicas=self.shares.append, on_gain=self._gain)
        self.leadership.observe(ENVS)

    def _gain(self) -> None:
        self.gained += 1


def holders(clients, clock: Clock, shards) -> dict[str, str | None]:
    out = {}
    for shard in shards:
        info = DynamoLease(clients, TABLE, f"inst/{shard}", "observer", clock=clock).current()
        out[shard] = info.holder if info is not None and info.expires_at > clock() else None
    return out


def rounds(replicas, n: int = 2) -> None:
    for _ in range(n):
        for r in replicas:
            r.leadership.tick()


def test_every_shard_is_held_by_exactly_one_replica_and_a_dead_one_is_taken_over(clients) -> None:
    clock = Clock()
    a, b, c = (Replica(clients, clock, n) for n in "abc")
    rounds([a, b, c])
    shards = ShardLayout().shards(ENVS)
    held = holders(clients, clock, shards)
    assert None not in held.values()
    for r, name in ((a, "a"), (b, "b"), (c, "c")):
        assert set(r.leadership.held()) == {s for s, h in held.items() if h == name}
        assert r.shares[-1] == 3  # each takes a third of the RegisterTaskDefinition rate
    assert all(r.leadership.held() for r in (a, b, c))  # with these names, nobody is idle
    dead = set(c.leadership.held())
    epochs = {s: c.leadership.epoch_of(s) for s in dead}

    # c dies (no release, no registry exit): before its leases expire nobody takes them.
    clock.t += DURATION - 5
    rounds([a, b], 1)
    assert {s for s, h in holders(clients, clock, shards).items() if h == "c"} == dead
    clock.t += 6  # one lease duration after c's last renewal
    rounds([a, b], 1)  # the next tick of each survivor takes its part
    held = holders(clients, clock, shards)
    assert set(held) == set(shards) and "c" not in held.values() and None not in held.values()
    assert all(a.leadership.epoch_of(s) == epochs[s] + 1 or b.leadership.epoch_of(s) == epochs[s] + 1
               for s in dead)  # a new term: c's fenced writes can never land
    assert a.shares[-1] == 2 and b.shares[-1] == 2
    assert a.gained + b.gained >= 3


def test_a_newcomer_gets_its_share_back_only_after_running_work_stopped(clients) -> None:
    clock = Clock()
    a = Replica(clients, clock, "a")
    rounds([a])
    shards = ShardLayout().shards(ENVS)
    assert set(a.leadership.held()) == set(shards)  # alone: everything
    fence = Fence(a.leadership)
    d = Replica(clients, clock, "d")
    with fence.term():  # a's apply runs across d's arrival
        rounds([d, a], 1)
        giving = set(a.leadership.releasing())
        assert giving and set(d.leadership.held()) <= {GLOBAL} - giving  # nothing taken while a works
        service = f"{sorted(giving - {GLOBAL})[0]}/web"
        with acting_for(service):
            assert not fence.valid()  # the waits of that shard's services stop...
            fence.check("ecs", "UpdateService")  # ...but a write already under way still lands
        kept = f"{sorted(set(a.leadership.held()) - giving - {GLOBAL})[0]}/web"
        with acting_for(kept):
            assert fence.valid()
        assert not a.leadership.owns(service) and a.leadership.owns(kept)
    rounds([a, d], 1)  # the work ended: a gives the shards back, d takes them
    held = holders(clients, clock, shards)
    assert {s for s, h in held.items() if h == "d"} == giving
    assert set(a.leadership.held()) == set(shards) - giving and not a.leadership.releasing()
    with fence.term(), acting_for(service), pytest.raises(LeaseLost):
        fence.check("ecs", "UpdateService")  # given back: this replica's writes for it never leave


def test_a_write_is_fenced_by_its_own_shard_s_term(clients) -> None:
    clock = Clock()
    layout = ShardLayout.parse("env1=2")
    a = Replica(clients, clock, "a", layout)
    rounds([a])
    fence = Fence(a.leadership)
    with fence.term():
        with acting_for("env2/web"):
            fence.check("ecs", "UpdateService")
            fence.check("ecs", "DescribeServices")
        with pytest.raises(LeaseLost), acting_for("unknown/web"):
            fence.check("ecs", "UpdateService")  # a shard nobody here holds
        with pytest.raises(LeaseLost):
            fence.check("ecs", "UpdateService")  # a write for no known service: no lease may guard it
        # env2's lease moves (lost, taken by b, given back, taken again): work started before is
        # fenced, while another shard's work goes on.
        lost = DynamoLease(clients, TABLE, "inst/env2", "a", duration=DURATION, clock=clock)
        lost.epoch = a.leadership.epoch_of("env2") or 0
        lost.release()
        other = DynamoLease(clients, TABLE, "inst/env2", "b", duration=DURATION, clock=clock)
        assert other.acquire()
        other.release()
        rounds([a], 2)  # renewal fails (shard_lost), then acquired again
        assert a.leadership.holds("env2") and a.leadership.epoch_of("env2") == 3
        with acting_for("env2/web"), pytest.raises(LeaseLost):
            fence.check("ecs", "UpdateService")
        with acting_for("env3/web"):
            fence.check("ecs", "UpdateService")
    with fence.term(), acting_for("env2/web"):
        fence.check("ecs", "UpdateService")  # new work, new term


def test_stop_gives_every_shard_back_and_leaves_the_registry(clients) -> None:
    clock = Clock()
    a, b = Replica(clients, clock, "a"), Replica(clients, clock, "b")
    rounds([a, b])
    a.leadership.stop()
    assert not a.leadership.is_leader() and not a.leadership.held()
    rounds([b], 1)  # at once, not after the leases would have expired
    assert set(b.leadership.held()) == set(ShardLayout().shards(ENVS))
    assert b.leadership.replicas == ("b",)


def test_replicas_split_differently_leave_those_environments_alone_until_they_agree(clients) -> None:
    """A split changed by a rolling redeploy: old and new replicas side by side would guard one
    service by two leases (`env1` and `env1#1of2`). Neither holds a shard of an environment they
    split differently until the other is gone; the other environments go on as before."""
    clock = Clock()
    old = Replica(clients, clock, "a")
    rounds([old])
    assert "env1" in old.leadership.held()
    new = Replica(clients, clock, "b", ShardLayout.parse("env1=2"))
    rounds([old, new])
    for r in (old, new):
        assert r.leadership.paused == {"env1"}
        assert not [s for s in r.leadership.held() if s.startswith("env1")]
    both = set(old.leadership.held()) | set(new.leadership.held())
    assert both == set(ShardLayout().shards(ENVS)) - {"env1"}  # the others: all held, once
    assert not set(old.leadership.held()) & set(new.leadership.held())
    old.leadership.stop()  # the old replica is replaced: the new layout takes env1 over
    rounds([new])
    assert new.leadership.paused == frozenset()
    assert {"env1#1of2", "env1#2of2"} <= set(new.leadership.held())


def test_a_layout_is_compared_by_its_meaning() -> None:
    layout = ShardLayout.parse("b=2, a=4,c=1")
    assert layout.text() == "a=4,b=2"
    assert layout.disagreeing(["b=2,a=4", "a=4,b=2,c=1"]) == frozenset()
    assert layout.disagreeing(["a=4", ""]) == {"a", "b"}
    assert layout.disagreeing(["nonsense"]) == {"*"}
