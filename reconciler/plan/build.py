"""Plan construction: compare each declared service with what AWS runs."""
from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from reconciler.desired import controller_move_problem
from reconciler.diff import DesiredCanon, diff_service_spec
from reconciler.model import DesiredState, LiveEnvironment, LiveService, ServiceSpec, SyncPolicy
from reconciler.plan.model import Plan, ServicePlan


def effective_policy(spec: ServiceSpec | None, env_policy: SyncPolicy) -> SyncPolicy:
    if spec is not None and spec.gitops.sync_policy is not None:
        return spec.gitops.sync_policy
    return env_policy


def _plan_declared(spec: ServiceSpec, live: LiveService | None, instance: str, policy: SyncPolicy,
                   canon: DesiredCanon | None = None) -> ServicePlan:
    base = dict(environment=spec.environment, name=spec.name, spec=spec, live=live, policy=policy)
    if live is None:
        return ServicePlan(action="create", reason="not in AWS", **base)
    not_ours = live.ownership_problem(instance)
    if not_ours and not spec.gitops.adopt:
        return ServicePlan(action="unowned",
                           reason=f"a service with this name exists, {not_ours}; set gitops.adopt: true to take it over",
                           **base)
    drift = diff_service_spec(spec, live, canon)
    adopting = not_ours is not None
    if drift.in_sync and not adopting:
        return ServicePlan(action="in-sync", drift=drift, **base)
    reason = "adopt the existing service" if adopting else f"{len(drift.changes)} field(s) differ"
    blocked = controller_move_problem(spec, live.service)
    if blocked:
        reason = f"{reason}; not applicable as declared: {blocked}"
    return ServicePlan(action="update", drift=drift, reason=reason, adopt=adopting, **base)


def _plan_orphans(env_name: str, orphans: list[LiveService], declared_count: int, broken: int,
                  policy: SyncPolicy) -> list[ServicePlan]:
    """Owned services that left git. Deleting is the riskiest thing we do, so every guard is here."""
    plans: list[ServicePlan] = []
    emptied = declared_count == 0 and broken == 0
    budget = policy.max_prune_per_sync
    for live in sorted(orphans, key=lambda s: s.name):
        base = dict(environment=env_name, name=live.name, live=live, policy=policy)
        if not policy.prune:
            plans.append(ServicePlan(action="orphan", reason="removed from git; prune is off", **base))
        elif emptied:
            plans.append(ServicePlan(action="orphan", reason="not pruned: git declares no service at all for this "
                                     "environment (empty or unreadable checkout?)", **base))
        elif broken:
            plans.append(ServicePlan(action="orphan", reason="not pruned while manifests of this environment are "
                                     "invalid", **base))
        elif budget <= 0:
            plans.append(ServicePlan(action="orphan", reason=f"not pruned this time: at most "
                                     f"{policy.max_prune_per_sync} per sync", **base))
        else:
            budget -= 1
            plans.append(ServicePlan(action="prune", reason="owned and removed from git", **base))
    return plans


def build_plan(desired: DesiredState, live: Mapping[str, LiveEnvironment], instance: str, *,
               only: Collection[str] | None = None,
               canon: Callable[[ServiceSpec], DesiredCanon] | None = None,
               step: Callable[[], None] | None = None) -> Plan:
    """Plan every declared, broken and orphaned service; with `only` (keys `env/name`), just those
    (a push's changed services, read alone). The prune guards still count the whole environment.
    `canon` gives each service's normalised git side when a caller keeps them (per commit);
    `step` runs before each declared service is compared (a caller's yield point: it may raise)."""
    def wanted(key: str) -> bool:
        return only is None or key in only

    plans: list[ServicePlan] = []
    for key in sorted(desired.broken_services):
        env_name, _, name = key.partition("/")
        if wanted(key):
            plans.append(ServicePlan(environment=env_name, name=name, action="invalid",
                                     reason="manifest invalid: see the validation errors"))
    for env_name in sorted(desired.environments):
        env = desired.environments[env_name]
        if only is not None and not any(k.partition("/")[0] == env_name for k in only):
            continue
        live_env = live.get(env_name)
        every = [s for s in desired.services if s.environment == env_name]
        specs = [s for s in every if wanted(s.key)]
        broken_here = [k for k in desired.broken_services if k.startswith(env_name + "/")]
        if live_env is None or live_env.error:
            why = live_env.error if live_env else "not read"
            plans.extend(ServicePlan(environment=env_name, name=s.name, action="unknown", spec=s,
                                     reason=f"live state unreadable: {why}") for s in specs)
            continue
        for spec in sorted(specs, key=lambda s: s.name):
            if step is not None:
                step()
            plans.append(_plan_declared(spec, live_env.services.get(spec.name), instance,
                                        effective_policy(spec, env.sync_policy), canon(spec) if canon else None))
        declared = {s.name for s in every} | {k.partition("/")[2] for k in broken_here}
        orphans = [svc for name, svc in live_env.services.items()
                   if name not in declared and svc.ownership_problem(instance) is None
                   and wanted(f"{env_name}/{name}")]
        plans.extend(_plan_orphans(env_name, orphans, len(every), len(broken_here), env.sync_policy))
    return Plan(services=tuple(plans), issues=desired.issues, commit=desired.commit,
                environments=dict(desired.environments))


def changed_services(old: DesiredState, new: DesiredState) -> frozenset[str]:
    """Keys (`env/name`) whose declaration differs between two loads: added, removed, edited,
    broken or fixed, or in an environment whose settings changed (all of its services)."""
    def declared(state: DesiredState) -> dict[str, object]:
        out: dict[str, object] = {s.key: s for s in state.services}
        out.update({k: "broken" for k in state.broken_services})
        return out

    before, after = declared(old), declared(new)
    keys = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    for env_name in old.environments.keys() | new.environments.keys():
        if old.environments.get(env_name) != new.environments.get(env_name):
            keys.update(k for k in before.keys() | after.keys() if k.partition("/")[0] == env_name)
    return frozenset(keys)
