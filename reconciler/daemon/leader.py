"""Keeps (or waits for) the leases in a background thread, and fences every AWS write.

Without a lease table the replica is always the leader (a single-replica service). With
one lease (`Leadership`) one replica leads everything; with sharding (`ShardLeadership`)
each shard has its own lease and the replicas share the shards. Either way the holder
stops acting `safety` seconds before a lease would expire, so a slow renewal can never
overlap with another replica's takeover, and `Fence` checks each write against the
epoch of the lease that guards it.
"""
from __future__ import annotations

import collections
import contextlib
import contextvars
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Protocol

from reconciler.apply.continuation import acting_service
from reconciler.aws.errors import AwsError
from reconciler.daemon.shards import ANY_ENVIRONMENT, GLOBAL, ShardLayout, wanted
from reconciler.log import get_logger

log = get_logger(__name__)

#: Services whose non-read calls change what runs (ECS, CodeDeploy, auto scaling). Their service
#: ids as botocore names them in `before-send.<service>.<Operation>` events.
FENCED_SERVICES = frozenset({"ecs", "codedeploy", "application-auto-scaling"})
READ_PREFIXES = ("Describe", "List", "Get", "BatchGet")
#: The one lease of a replica that is not sharded, as `Fence` names it in a term.
LEADER = "leader"
#: The term of the running work: the epoch of each lease it started under (lease name -> epoch).
_TERM: contextvars.ContextVar[Mapping[str, int | None] | None] = contextvars.ContextVar("lease_term", default=None)


class LeaseLost(AwsError):
    """A write was about to go out after the lease moved (or was given up): it never leaves."""


class Lease(Protocol):
    holder: str
    epoch: int

    def held(self, safety: float = 0.0) -> bool: ...

    def acquire(self) -> bool: ...

    def renew(self) -> bool: ...

    def release(self) -> None: ...


class Leadership:
    """One lease for everything: the holder leads, the others stand by."""

    def __init__(self, lease: Lease | None, renew_interval: float = 10.0, *,
                 on_gain: Callable[[], None] = lambda: None) -> None:
        self.lease = lease
        self.renew_interval = renew_interval
        self.safety = renew_interval / 2
        self.on_gain = on_gain
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._was_leader = False
        #: True once the lease table answered (we hold the lease or know who does).
        self.contact_ok = lease is None

    def is_leader(self) -> bool:
        if self._stop.is_set():
            return False
        return self.lease is None or self.lease.held(self.safety)

    def tick(self) -> None:
        """One acquire-or-renew attempt (the thread calls this every renew_interval)."""
        if self.lease is None:
            leader = True
        else:
            try:
                leader = self.lease.renew() if self.lease.held() else self.lease.acquire()
                self.contact_ok = True
            except AwsError as exc:
                self.contact_ok = False
                log.warning("lease_unreachable", error=str(exc))
            leader = self.is_leader()
        if leader and not self._was_leader:
            log.info("leader_acquired", holder=self.lease.holder if self.lease else None)
            self._was_leader = True
            self.on_gain()
        elif not leader and self._was_leader:
            log.warning("leader_lost", holder=self.lease.holder if self.lease else None)
            self._was_leader = False

    def start(self) -> None:
        self.tick()
        self._thread = threading.Thread(target=self._run, name="lease", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.renew_interval):
            self.tick()

    def stop(self, release: bool = True) -> None:
        """Stop renewing and give the lease up, so a standby takes over without waiting for expiry."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if release and self.lease is not None:
            try:
                self.lease.release()
                log.info("lease_released", holder=self.lease.holder)
            except AwsError as exc:
                log.warning("lease_release_failed", error=str(exc))



    # -- what Fence asks (one lease guards every service) ---------------------------------
    def lease_for(self, service: str | None) -> str | None:
        """The lease guarding writes for `service` (None: no lease may)."""
        return LEADER

    def holds(self, name: str) -> bool:
        return self.is_leader()

    def epoch_of(self, name: str) -> int | None:
        return self.lease.epoch if self.lease is not None else None

    def giving_back(self, name: str) -> bool:
        return False

    def enter_term(self) -> dict[str, int | None]:
        """The epochs new work starts under (and, sharded, the leases kept until it ends)."""
        return {LEADER: self.epoch_of(LEADER)}

    def exit_term(self, term: Mapping[str, int | None]) -> None:
        pass


class Registry(Protocol):
    """reconciler.aws.registry.ReplicaRegistry."""

    holder: str

    def heartbeat(self, layout: str = "") -> None: ...

    def live(self) -> Mapping[str, str]: ...

    def leave(self) -> None: ...


class ShardLeadership(Leadership):
    """Holds this replica's fair share of the shards, each under its own lease.

    Every tick (`renew_interval`): heartbeat the registry, read the live replicas, compute the
    shards this replica should hold (rendezvous hashing, reconciler.daemon.shards), then
    acquire those it lacks (the lease is the guard: a shard still leased by a live replica, or
    by a dead one until its lease expires, is not taken), renew those it keeps, and give back
    those another replica should hold, only once no running work started under them (new work
    leaves them out at once; `Fence.valid` turns false for their services, so waits stop).
    """

    def __init__(self, registry: Registry, lease_factory: Callable[[str], Lease], layout: ShardLayout,
                 renew_interval: float = 10.0, *, on_gain: Callable[[], None] = lambda: None,
                 on_replicas: Callable[[int], None] = lambda n: None,
                 on_tick: Callable[[], None] = lambda: None) -> None:
        super().__init__(None, renew_interval, on_gain=on_gain)
        self.on_tick = on_tick
        self.contact_ok = False
        self.registry, self.lease_factory, self.layout = registry, lease_factory, layout
        self.on_replicas = on_replicas
        self.me = registry.holder
        #: The live replicas at the last tick (this one included).
        self.replicas: tuple[str, ...] = ()
        #: Environments another live replica splits differently: no shard of theirs is held here.
        self.paused: frozenset[str] = frozenset()
        self._shards: tuple[str, ...] = (GLOBAL,)
        self._leases: dict[str, Lease] = {}
        self._draining: set[str] = set()
        self._busy: collections.Counter[str] = collections.Counter()
        self._lock = threading.RLock()
        self._kick = threading.Event()

    # -- what the loop and the wiring ask ------------------------------------------------------
    def observe(self, environments: object) -> None:
        """The environments git declares now (their shards, plus GLOBAL, are what the replicas share)."""
        shards = self.layout.shards(environments)  # type: ignore[arg-type]
        with self._lock:
            if shards == self._shards:
                return
            self._shards = shards
        log.info("shards_known", shards=list(shards))
        self._kick.set()  # acquire new shards now rather than at the next tick

    def is_leader(self) -> bool:
        return any(self.holds(s) for s in list(self._leases))

    def holds(self, name: str) -> bool:
        lease = self._leases.get(name)
        return not self._stop.is_set() and lease is not None and lease.held(self.safety)

    def owns(self, key: str) -> bool:
        """This replica reconciles service `env/name` now (its shard is held and not being given back)."""
        shard = self.layout.shard_of(key)
        return self.holds(shard) and shard not in self._draining

    def owns_environment(self, env: str) -> bool:
        return any(self.owns_shard(s) for s in list(self._leases) if self.layout.environment_of(s) == env)

    def owns_shard(self, shard: str) -> bool:
        return self.holds(shard) and shard not in self._draining

    def held(self) -> tuple[str, ...]:
        return tuple(sorted(s for s in list(self._leases) if self.holds(s)))

    def releasing(self) -> tuple[str, ...]:
        return tuple(sorted(s for s in self._draining if self.holds(s)))

    # -- what Fence asks --------------------------------------------------------------------------
    def lease_for(self, service: str | None) -> str | None:
        return self.layout.shard_of(service) if service else None

    def epoch_of(self, name: str) -> int | None:
        lease = self._leases.get(name)
        return lease.epoch if lease is not None else None

    def giving_back(self, name: str) -> bool:
        return name in self._draining

    def enter_term(self) -> dict[str, int | None]:
        with self._lock:
            term: dict[str, int | None] = {s: lease.epoch for s, lease in self._leases.items()
                                           if s not in self._draining and self.holds(s)}
            self._busy.update(term.keys())
            return term

    def exit_term(self, term: Mapping[str, int | None]) -> None:
        with self._lock:
            self._busy.subtract(term.keys())
            self._busy = +self._busy  # drop zero counts

    # -- the lease thread --------------------------------------------------------------------------
    def tick(self) -> None:
        registered: Mapping[str, str] | None
        try:
            self.registry.heartbeat(self.layout.text())
            registered = self.registry.live()
            self.contact_ok = True
        except AwsError as exc:
            self.contact_ok = False
            log.warning("lease_unreachable", error=str(exc))
            registered = None
        if registered is not None:
            live = tuple(sorted(set(registered) | {self.me}))
            if live != self.replicas:
                log.info("replicas_changed", replicas=list(live), before=list(self.replicas))
                self.replicas = live
                self.on_replicas(len(live))
            self._agree([layout for holder, layout in registered.items() if holder != self.me])
        with self._lock:
            shards = tuple(s for s in self._shards if not self._paused_shard(s))
            want = wanted(shards, self.replicas, self.me) if registered is not None else \
                frozenset(s for s in self._leases if not self._paused_shard(s))
        gained: list[str] = []
        for shard in sorted(set(self._leases) | want):
            try:
                if self._step(shard, shard in want):
                    gained.append(shard)
            except AwsError as exc:  # this shard's lease call failed: keep going with the others
                self.contact_ok = False
                log.warning("lease_unreachable", shard=shard, error=str(exc))
        if gained:
            log.info("shards_acquired", shards=gained, held=list(self.held()))
            self.on_gain()
        self.on_tick()

    def _agree(self, layouts: list[str]) -> None:
        """Compare the shard layout of the other live replicas with ours (a split changed by a
        rolling redeploy: old and new replicas side by side)."""
        paused = self.layout.disagreeing(layouts)
        if paused != self.paused:
            if paused:
                log.warning("shard_layouts_disagree", environments=sorted(paused), layout=self.layout.text(),
                            others=sorted(set(layouts)))
            else:
                log.info("shard_layouts_agree", layout=self.layout.text())
            self.paused = paused

    def _paused_shard(self, shard: str) -> bool:
        env = self.layout.environment_of(shard)
        return env is not None and bool({env, ANY_ENVIRONMENT} & self.paused)

    def _step(self, shard: str, want: bool) -> bool:
        """One shard's acquire, renew or release; True when it was just acquired."""
        lease = self._leases.get(shard)
        if lease is None or not lease.held():
            if not want:
                self._forget(shard)
                return False
            lease = self._leases.setdefault(shard, lease or self.lease_factory(shard))
            with self._lock:
                self._draining.discard(shard)
            return lease.acquire()
        with self._lock:
            if want:
                self._draining.discard(shard)
            else:
                self._draining.add(shard)
                if not self._busy.get(shard):  # nothing running under it: give it back now
                    lease.release()
                    self._forget(shard)
                    log.info("shard_released", shard=shard)
                    return False
        if not lease.renew():
            log.warning("shard_lost", shard=shard)
            self._forget(shard)
        return False

    def _forget(self, shard: str) -> None:
        with self._lock:
            self._leases.pop(shard, None)
            self._draining.discard(shard)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._kick.wait(self.renew_interval)
            self._kick.clear()
            if not self._stop.is_set():
                self.tick()

    def stop(self, release: bool = True) -> None:
        """Stop renewing; give every shard back (only when no work runs) and leave the registry."""
        self._stop.set()
        self._kick.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for shard, lease in list(self._leases.items()):
            if not release:
                break
            try:
                lease.release()
                log.info("shard_released", shard=shard)
            except AwsError as exc:
                log.warning("lease_release_failed", shard=shard, error=str(exc))
        try:
            self.registry.leave()
        except AwsError as exc:
            log.warning("registry_leave_failed", error=str(exc))


class Fence:
    """Fencing for every AWS write: checked immediately before each HTTP attempt (botocore's
    `before-send`, so a write still in botocore's retries is stopped too), against the epoch of
    the lease guarding that write (the one lease, or the shard lease of the service the worker
    acts for), as it was when the running work started. When that lease moved, the write never
    leaves."""

    def __init__(self, leadership: Leadership) -> None:
        self.leadership = leadership

    @contextlib.contextmanager
    def term(self) -> Iterator[None]:
        """Run work under the current epochs (apply's worker threads inherit them via contextvars)."""
        epochs = self.leadership.enter_term()
        token = _TERM.set(epochs)
        try:
            yield
        finally:
            _TERM.reset(token)
            self.leadership.exit_term(epochs)

    def _valid(self, name: str | None, *, acting: bool) -> bool:
        if name is None or not self.leadership.holds(name):
            return False
        if acting and self.leadership.giving_back(name):
            return False
        term = _TERM.get()
        return term is None or (name in term and term[name] == self.leadership.epoch_of(name))

    def valid(self) -> bool:
        """The running work may go on: its lease is held, in the term it started under, and not
        being given back (for the service the calling worker acts for)."""
        return self._valid(self.leadership.lease_for(acting_service()), acting=True)

    def check(self, service: str, action: str) -> None:
        """A CallCounter listener: raises LeaseLost before a write leaves without a valid lease."""
        if service not in FENCED_SERVICES or action.startswith(READ_PREFIXES):
            return
        name = self.leadership.lease_for(acting_service())
        if not self._valid(name, acting=False):
            term = _TERM.get()
            log.warning("write_fenced", service=service, action=action, lease=name,
                        term=term.get(name) if term is not None and name is not None else None,
                        epoch=self.leadership.epoch_of(name) if name is not None else None)
            raise LeaseLost("not sent: the lease guarding this write moved or was given up", service=service,
                            action=action, code="LeaseLost")
