"""Shards and who should hold them: pure functions, no AWS.

A shard is an environment, or one of K hash ranges of an environment's services when the
environment is split (`RECONCILER_SHARD_SPLIT=production=4`). One more shard, `GLOBAL`, holds no
service: its holder does what exists once per instance (the SQS consumer, reports about the
repository as a whole). Each shard is guarded by its own lease; which replica should hold it is
decided by rendezvous (highest-random-weight) hashing over the live replicas, so when a replica
joins or leaves only the shards that move to or from it change hands.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

#: The shard of everything that exists once per instance rather than per service.
GLOBAL = "_global"
#: Separates an environment from its hash range in a shard name: `production#2of4`.
RANGE_SEP = "#"
#: In `ShardLayout.disagreeing`: another replica's layout could not be read, so every environment waits.
ANY_ENVIRONMENT = "*"


class ShardConfigError(ValueError):
    pass


def _hash64(text: str) -> int:
    """A stable 64-bit hash (Python's hash() is salted per process: replicas must agree)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


@dataclass(frozen=True)
class ShardLayout:
    """How environments split into shards; every replica must run with the same layout."""

    splits: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | None) -> ShardLayout:
        """`production=4,staging=2`: environments split into that many hash ranges (others: 1)."""
        splits: dict[str, int] = {}
        for part in (text or "").split(","):
            if not part.strip():
                continue
            env, sep, count = part.partition("=")
            env = env.strip()
            if not sep or not env or not count.strip().isdigit() or not 1 <= int(count) <= 256:
                raise ShardConfigError(f"{part.strip()!r}: expected ENVIRONMENT=K with K in 1..256")
            if env in splits:
                raise ShardConfigError(f"{env}: split twice")
            splits[env] = int(count)
        return cls(splits=splits)

    def text(self) -> str:
        """The canonical `RECONCILER_SHARD_SPLIT` (sorted, K=1 left out): what replicas compare."""
        return ",".join(f"{env}={k}" for env, k in sorted(self.splits.items()) if k != 1)

    def disagreeing(self, others: Iterable[str]) -> frozenset[str]:
        """Environments another live replica splits differently (from their `text()`): two layouts
        would guard one service by two leases (say `production` and `production#1of4`), so both
        could deploy it. Those environments wait until the replicas agree again."""
        out: set[str] = set()
        for text in set(others):
            try:
                other = ShardLayout.parse(text)
            except ShardConfigError:
                return frozenset({ANY_ENVIRONMENT})
            out |= {env for env in set(self.splits) | set(other.splits) if self.ranges(env) != other.ranges(env)}
        return frozenset(out)

    def ranges(self, env: str) -> int:
        return self.splits.get(env, 1)

    def shard_of(self, key: str) -> str:
        """The shard of a service key `env/name`: its environment, or the hash range its name falls in."""
        env, _, name = key.partition("/")
        k = self.ranges(env)
        if k == 1:
            return env
        index = (_hash64(name) * k) >> 64  # ranges of the hash space, in order
        return f"{env}{RANGE_SEP}{index + 1}of{k}"

    def shards(self, environments: Iterable[str]) -> tuple[str, ...]:
        """Every shard of these environments, plus GLOBAL."""
        out = [GLOBAL]
        for env in sorted(set(environments)):
            k = self.ranges(env)
            out.extend([env] if k == 1 else [f"{env}{RANGE_SEP}{i}of{k}" for i in range(1, k + 1)])
        return tuple(out)

    @staticmethod
    def environment_of(shard: str) -> str | None:
        return None if shard == GLOBAL else shard.partition(RANGE_SEP)[0]


def weight(shard: str, replica: str) -> int:
    return _hash64(f"{shard}\x00{replica}")


def owner(shard: str, replicas: Iterable[str]) -> str | None:
    """The replica that should hold `shard`: the highest weight (ties: the smaller id)."""
    best: tuple[int, str] | None = None
    for replica in replicas:
        candidate = (weight(shard, replica), replica)
        if best is None or candidate[0] > best[0] or (candidate[0] == best[0] and replica < best[1]):
            best = candidate
    return best[1] if best else None


def assignment(shards: Iterable[str], replicas: Iterable[str]) -> dict[str, str]:
    """shard -> the replica that should hold it (empty without live replicas)."""
    live = sorted(set(replicas))
    return {s: o for s in shards if (o := owner(s, live)) is not None}


def wanted(shards: Iterable[str], replicas: Iterable[str], me: str) -> frozenset[str]:
    """The shards `me` should hold; `me` counts as live whether or not the registry lists it yet."""
    live = set(replicas) | {me}
    return frozenset(s for s, o in assignment(shards, live).items() if o == me)
