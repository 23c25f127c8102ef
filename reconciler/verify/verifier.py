"""Run the verification of many services with as few AWS calls as possible, cached per commit.

The look-ups go through an injected `ReferenceReader` (reconciler.aws.references in
the product): images batched per repository, SSM parameters per region, each secret,
object and role once, however many services name them.
"""
from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from reconciler.model import Environment, ServiceSpec
from reconciler.verify.findings import Fact, Verification, evaluate, fact_key
from reconciler.verify.refs import EcrImage, Reference, Role, S3Object, Secret, SsmParameter, references

Lookups = dict[Any, Fact]


class ReferenceReader(Protocol):
    def images(self, env: Environment, images: list[EcrImage]) -> dict[EcrImage, Fact]:
        """Images of ONE repository (same registry, region and name)."""
        ...

    def ssm_parameters(self, env: Environment, region: str, names: list[str]) -> dict[str, Fact]: ...

    def secret(self, env: Environment, secret: Secret) -> Fact: ...

    def s3_object(self, env: Environment, obj: S3Object) -> Fact: ...

    def role(self, env: Environment, role: Role) -> Fact: ...


class VerifyCache:
    """Verifications by (commit, service). A commit's manifests never change, so a passing
    service is not checked again for that commit; a failing one is re-checked after
    `recheck_seconds` (our choice: CI often pushes the image just after the commit lands)."""

    def __init__(self, clock: Callable[[], float], recheck_seconds: float = 300.0, max_entries: int = 5000) -> None:
        self.clock, self.recheck_seconds, self.max_entries = clock, recheck_seconds, max_entries
        self._items: dict[tuple[str, str], tuple[float, Verification]] = {}
        self._lock = threading.Lock()

    def get(self, commit: str, key: str) -> Verification | None:
        with self._lock:
            item = self._items.get((commit, key))
        if item is None:
            return None
        at, verification = item
        if not verification.ok and self.clock() - at >= self.recheck_seconds:
            return None
        return verification

    def put(self, commit: str, verification: Verification) -> None:
        with self._lock:
            if len(self._items) >= self.max_entries:
                self._items.pop(next(iter(self._items)))
            self._items[(commit, verification.key)] = (self.clock(), verification)


class Verifier:
    def __init__(self, reader: ReferenceReader, cache: VerifyCache | None = None) -> None:
        self.reader = reader
        self.cache = cache

    def verify(self, env: Environment, specs: Iterable[ServiceSpec], commit: str | None = None
               ) -> dict[str, Verification]:
        """One Verification per service; an AWS failure marks only the services it concerns."""
        out: dict[str, Verification] = {}
        todo: list[ServiceSpec] = []
        for spec in specs:
            cached = self.cache.get(commit, spec.key) if self.cache is not None and commit else None
            if cached is not None:
                out[spec.key] = cached
            else:
                todo.append(spec)
        if not todo:
            return out
        refs = {spec.key: references(spec.task_definition, env.region) for spec in todo}
        facts, errors = self._look_up(env, [r for rs in refs.values() for r in rs])
        for spec in todo:
            failed = sorted({errors[fact_key(r.target)] for r in refs[spec.key] if fact_key(r.target) in errors})
            verification = evaluate(spec.environment, spec.name, refs[spec.key], facts)
            if failed:
                verification = Verification(spec.environment, spec.name, verification.findings,
                                            verification.notes, verification.digests, error="; ".join(failed))
            out[spec.key] = verification
            if self.cache is not None and commit and verification.error is None:
                self.cache.put(commit, verification)
        return out

    def _look_up(self, env: Environment, refs: list[Reference]) -> tuple[Lookups, dict[Any, str]]:
        facts: Lookups = {}
        errors: dict[Any, str] = {}
        by_repo: dict[tuple[str, str, str], set[EcrImage]] = defaultdict(set)
        by_region: dict[str, set[str]] = defaultdict(set)
        singles: dict[Any, Any] = {}
        for ref in refs:
            target = ref.target
            if isinstance(target, EcrImage):
                by_repo[target.repo_key].add(target)
            elif isinstance(target, SsmParameter):
                by_region[target.region].add(target.name)
            elif isinstance(target, (Secret, S3Object, Role)):
                singles.setdefault(fact_key(target), target)

        def guarded(keys: list[Any], call: Callable[[], Mapping[Any, Fact]]) -> None:
            try:
                facts.update(call())
            except Exception as exc:  # noqa: BLE001 - an AWS failure fails only the services it concerns
                for key in keys:
                    errors[key] = str(exc)

        for images in by_repo.values():
            batch = sorted(images)
            guarded(list(batch), lambda batch=batch: self.reader.images(env, batch))
        for region, names in sorted(by_region.items()):
            params = {SsmParameter(region, n) for n in names}
            guarded(list(params), lambda region=region, names=names: {
                SsmParameter(region, n): f for n, f in self.reader.ssm_parameters(env, region, sorted(names)).items()})
        for key, target in singles.items():
            guarded([key], lambda key=key, target=target: {key: self._single(env, target)})
        return facts, errors

    def _single(self, env: Environment, target: Secret | S3Object | Role) -> Fact:
        if isinstance(target, Secret):
            return self.reader.secret(env, target)
        if isinstance(target, S3Object):
            return self.reader.s3_object(env, target)
        return self.reader.role(env, target)
