"""Plan construction over plain data: every action and every prune guard."""
from __future__ import annotations

import copy
from dataclasses import replace

import pytest

from reconciler.model import (
    ENV_TAG,
    OWNER_TAG,
    DesiredState,
    Environment,
    GitOpsSettings,
    LiveEnvironment,
    LiveService,
    ServiceSpec,
    SyncPolicy,
)
from reconciler.plan import build_plan, render_plan_json, render_plan_text

INSTANCE = "ecs-reconciler"
TASKDEF = {
    "family": "web",
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["FARGATE"],
    "cpu": "256",
    "memory": "512",
    "containerDefinitions": [
        {"name": "web", "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1.4.2",
         "portMappings": [{"containerPort": 8080}],
         "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}
    ],
}
SERVICE = {
    "serviceName": "web",
    "desiredCount": 2,
    "launchType": "FARGATE",
    "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1"], "securityGroups": ["sg-1"]}},
}


def spec(name: str = "web", env: str = "staging", taskdef: dict | None = None, service: dict | None = None,
         gitops: GitOpsSettings | None = None) -> ServiceSpec:
    td = copy.deepcopy(taskdef or TASKDEF)
    td["family"] = name
    svc = copy.deepcopy(service or SERVICE)
    svc["serviceName"] = name
    return ServiceSpec(environment=env, name=name, service=svc, task_definition=td,
                       gitops=gitops or GitOpsSettings(), service_file=f"environments/{env}/{name}/service.yaml",
                       taskdef_file=f"environments/{env}/{name}/taskdef.json")


def live_from(s: ServiceSpec, *, owner: str | None = INSTANCE, image: str | None = None,
              desired_count: int | None = None) -> LiveService:
    """An AWS-shaped copy of a spec: defaults filled, lists reordered, server fields added."""
    td = copy.deepcopy(dict(s.task_definition))
    for c in td["containerDefinitions"]:
        c.setdefault("cpu", 0)
        c.setdefault("essential", True)
        c["environment"] = list(reversed(c.get("environment", [])))
        for pm in c.get("portMappings", []):
            pm.setdefault("hostPort", pm["containerPort"])
            pm.setdefault("protocol", "tcp")
        if image:
            c["image"] = image
    arn = f"arn:aws:ecs:eu-west-1:123456789012:task-definition/{s.family}:3"
    td.update({"taskDefinitionArn": arn, "revision": 3, "status": "ACTIVE",
               "compatibilities": ["EC2", "FARGATE"], "requiresAttributes": [], "volumes": [],
               "placementConstraints": []})
    tags = [{"key": ENV_TAG, "value": s.environment}]
    if owner:
        tags.append({"key": OWNER_TAG, "value": owner})
    svc = copy.deepcopy(dict(s.service))
    svc.update({"serviceArn": f"arn:aws:ecs:eu-west-1:123456789012:service/{s.environment}/{s.name}",
                "status": "ACTIVE", "taskDefinition": arn, "tags": tags, "runningCount": 2,
                "deploymentConfiguration": {"maximumPercent": 200, "minimumHealthyPercent": 100,
                                            "deploymentCircuitBreaker": {"enable": True, "rollback": True}},  # what the reconciler creates
                "deploymentController": {"type": "ECS"}, "schedulingStrategy": "REPLICA",
                "platformVersion": "LATEST", "propagateTags": "NONE", "enableECSManagedTags": False,
                "placementConstraints": [], "placementStrategy": [], "loadBalancers": [], "serviceRegistries": []})
    if desired_count is not None:
        svc["desiredCount"] = desired_count
    svc["networkConfiguration"]["awsvpcConfiguration"].setdefault("assignPublicIp", "DISABLED")
    return LiveService(environment=s.environment, name=s.name, arn=svc["serviceArn"], service=svc,
                       task_definition=td)


DEFAULT_POLICY = SyncPolicy()


def desired(*specs: ServiceSpec, policy: SyncPolicy = DEFAULT_POLICY, broken: frozenset[str] = frozenset(),
            envs: tuple[str, ...] = ("staging",)) -> DesiredState:
    environments = {e: Environment(name=e, cluster=e, region="eu-west-1", sync_policy=policy) for e in envs}
    return DesiredState(environments=environments, services=specs, broken_services=broken)


def live_env(*services: LiveService, env: str = "staging") -> dict[str, LiveEnvironment]:
    return {env: LiveEnvironment(environment=env, services={s.name: s for s in services})}


def actions(plan) -> dict[str, str]:
    return {sp.key: sp.action for sp in plan.services}


def test_in_sync_when_aws_only_adds_defaults_and_reorders():
    s = spec()
    plan = build_plan(desired(s), live_env(live_from(s)), INSTANCE)
    assert actions(plan) == {"staging/web": "in-sync"}
    assert not plan.changes_pending


def test_image_change_is_an_update_with_the_image_path():
    s = spec()
    plan = build_plan(desired(s), live_env(live_from(s, image="x/web:1.4.1")), INSTANCE)
    [sp] = plan.services
    assert sp.action == "update"
    assert sp.taskdef_changed and not sp.service_changed
    assert "taskDefinition/containerDefinitions/web/image" in sp.drift.paths()
    assert plan.changes_pending


def test_step_runs_before_each_declared_service_and_may_stop_the_plan():
    """A caller's yield point (a drift scan giving way to a push): once per declared service, before
    it is compared; what it raises ends the plan there."""
    specs = [spec(f"s{i}") for i in range(3)]
    state, live = desired(*specs), live_env(*(live_from(s) for s in specs))
    steps: list[int] = []
    plan = build_plan(state, live, INSTANCE, step=lambda: steps.append(len(steps)))
    assert steps == [0, 1, 2] and len(plan.services) == 3

    def stop() -> None:
        if len(steps) == 5:
            raise TimeoutError("give way")
        steps.append(len(steps))

    with pytest.raises(TimeoutError):
        build_plan(state, live, INSTANCE, step=stop)
    assert steps == [0, 1, 2, 3, 4]


def test_task_definition_drift_is_kept_per_live_revision():
    """A scan of an unchanged service compares its task definition once per revision, not per cycle;
    another revision (or other tags) is compared afresh, and the answers match a plan without the cache."""
    from reconciler.diff import DesiredCanon

    s = spec()
    canon = DesiredCanon(s)
    same = live_from(s)
    newer = live_from(s, image="x/web:1.4.1")
    newer = replace(newer, task_definition={**newer.task_definition, "taskDefinitionArn": "arn:td/web:4"})
    plans = [build_plan(desired(s), live_env(live), INSTANCE, canon=lambda _: canon) for live in (same, same, newer)]
    assert canon.reused == 1
    assert [actions(p) for p in plans] == [{"staging/web": "in-sync"}] * 2 + [{"staging/web": "update"}]
    assert plans[2] == build_plan(desired(s), live_env(newer), INSTANCE)
    retagged = replace(same, task_definition_tags=({"key": "team", "value": "x"},))
    build_plan(desired(s), live_env(retagged), INSTANCE, canon=lambda _: canon)
    assert canon.reused == 1  # other tags: compared again
    build_plan(desired(s), live_env(newer), INSTANCE, canon=lambda _: canon)
    assert canon.reused == 2


def test_missing_service_is_created():
    plan = build_plan(desired(spec()), live_env(), INSTANCE)
    assert actions(plan) == {"staging/web": "create"}


def test_same_named_unowned_service_is_never_touched():
    s = spec()
    plan = build_plan(desired(s), live_env(live_from(s, owner=None, image="x/web:0.1")), INSTANCE)
    [sp] = plan.services
    assert sp.action == "unowned"
    assert "adopt" in sp.reason
    assert not plan.changes_pending


def test_service_owned_by_another_instance_is_unowned():
    s = spec()
    plan = build_plan(desired(s), live_env(live_from(s, owner="other-reconciler")), INSTANCE)
    assert actions(plan) == {"staging/web": "unowned"}


def test_adopt_takes_over_even_without_drift():
    s = spec(gitops=GitOpsSettings(adopt=True))
    plan = build_plan(desired(s), live_env(live_from(s, owner=None)), INSTANCE)
    [sp] = plan.services
    assert sp.action == "update" and sp.adopt


def test_owned_service_gone_from_git_is_orphan_when_prune_off():
    keep, gone = spec("web"), spec("old")
    plan = build_plan(desired(keep), live_env(live_from(keep), live_from(gone)), INSTANCE)
    assert actions(plan) == {"staging/web": "in-sync", "staging/old": "orphan"}
    assert not plan.changes_pending


def test_prune_on_deletes_at_most_the_configured_number():
    keep = spec("web")
    gone = [spec(f"old{i}") for i in range(3)]
    policy = SyncPolicy(prune=True, max_prune_per_sync=2)
    plan = build_plan(desired(keep, policy=policy), live_env(live_from(keep), *map(live_from, gone)), INSTANCE)
    assert sorted(sp.action for sp in plan.services if sp.name.startswith("old")) == ["orphan", "prune", "prune"]


def test_prune_never_empties_an_environment():
    gone = spec("old")
    plan = build_plan(desired(policy=SyncPolicy(prune=True)), live_env(live_from(gone)), INSTANCE)
    [sp] = plan.services
    assert sp.action == "orphan" and "empty" in sp.reason


def test_prune_waits_while_a_manifest_is_broken():
    keep, gone = spec("web"), spec("old")
    plan = build_plan(desired(keep, policy=SyncPolicy(prune=True), broken=frozenset({"staging/api"})),
                      live_env(live_from(keep), live_from(gone)), INSTANCE)
    assert actions(plan)["staging/old"] == "orphan"
    assert actions(plan)["staging/api"] == "invalid"
    assert plan.has_errors


def test_broken_manifest_of_existing_service_is_not_a_prune_candidate():
    keep, broken = spec("web"), spec("api")
    plan = build_plan(desired(keep, policy=SyncPolicy(prune=True), broken=frozenset({"staging/api"})),
                      live_env(live_from(keep), live_from(broken)), INSTANCE)
    assert actions(plan) == {"staging/api": "invalid", "staging/web": "in-sync"}


def test_unowned_services_not_in_git_are_ignored():
    keep, stranger = spec("web"), spec("legacy")
    plan = build_plan(desired(keep, policy=SyncPolicy(prune=True)),
                      live_env(live_from(keep), live_from(stranger, owner=None)), INSTANCE)
    assert actions(plan) == {"staging/web": "in-sync"}


def test_unreadable_environment_is_unknown_not_create():
    plan = build_plan(desired(spec()), {"staging": LiveEnvironment("staging", error="AccessDenied")}, INSTANCE)
    [sp] = plan.services
    assert sp.action == "unknown" and "AccessDenied" in sp.reason
    assert plan.has_errors


@pytest.mark.parametrize("autoscaled", [True, False])
def test_desired_count_follows_autoscaling_rule(autoscaled):
    s = spec()
    live = live_from(s, desired_count=7)
    live = LiveService(**{**live.__dict__, "autoscaled": autoscaled})
    plan = build_plan(desired(s), live_env(live), INSTANCE)
    [sp] = plan.services
    assert sp.action == ("in-sync" if autoscaled else "update")
    if not autoscaled:
        assert "service/desiredCount" in sp.drift.paths()


def test_service_policy_overrides_environment_policy():
    s = spec(gitops=GitOpsSettings(sync_policy=SyncPolicy(automated=False)))
    plan = build_plan(desired(s), live_env(), INSTANCE)
    assert plan.services[0].policy.automated is False


def test_renderings_name_every_service_and_change():
    s = spec()
    plan = build_plan(desired(s, spec("api")), live_env(live_from(s, image="x/web:1.4.1")), INSTANCE)
    text = render_plan_text(plan)
    assert "staging/web: update" in text and "staging/api: create" in text
    assert "containerDefinitions/web/image" in text
    data = render_plan_json(plan)
    assert data["changesPending"] is True
    web = next(s for s in data["services"] if s["service"] == "web")
    assert any(c["path"].endswith("/web/image") for c in web["changes"])


def test_an_unchanged_declaration_keeps_its_drifts_across_commits():
    """A push does not make the next scan compare every unchanged service's task definition again;
    a service whose declaration changed is compared afresh (and planned as an update)."""
    from reconciler.diff import CanonCache

    s, other = spec(), spec("api")
    cache = CanonCache()
    live = live_env(live_from(s), live_from(other))

    def plan(commit: str, *specs: ServiceSpec) -> dict[str, str]:
        return actions(build_plan(desired(*specs), live, INSTANCE, canon=lambda sp: cache.get(commit, sp)))

    assert plan("c1", s, other) == {"staging/web": "in-sync", "staging/api": "in-sync"}
    first = cache.get("c1", s)
    bumped = replace(s, task_definition={**s.task_definition, "cpu": "512"})
    assert plan("c2", bumped, other) == {"staging/web": "update", "staging/api": "in-sync"}
    assert cache.get("c2", other).reused == 1 and cache.get("c2", bumped) is not first
    assert plan("c3", s, other) == {"staging/web": "in-sync", "staging/api": "in-sync"}
    assert cache.get("c3", other).reused == 2


def test_a_packed_live_task_definition_plans_like_the_document():
    """The reader keeps revisions packed; the plan reads them through the same accessors."""
    from reconciler.model import PackedDocument

    s = spec()
    plain = live_from(s)
    td = plain.task_definition
    assert isinstance(td, dict)
    packed = replace(plain, task_definition=PackedDocument.pack(td["taskDefinitionArn"], td))
    assert packed.task_definition_arn == plain.task_definition_arn == td["taskDefinitionArn"]
    assert packed.task_definition_data() == td and packed.task_definition_data() is not packed.task_definition_data()
    for image in (None, "x/web:9.9.9"):
        live = plain if image is None else live_from(s, image=image)
        data = live.task_definition_data()
        assert data is not None
        as_packed = replace(live, task_definition=PackedDocument.pack(str(data["taskDefinitionArn"]), data))
        got, want = (build_plan(desired(s), live_env(x), INSTANCE).services[0] for x in (as_packed, live))
        assert (got.action, got.drift) == (want.action, want.drift)
