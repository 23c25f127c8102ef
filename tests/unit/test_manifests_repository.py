"""load_repository on the example repository and on broken copies of it."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from reconciler.durations import DURATION_ERROR
from reconciler.manifests import ManifestError, load_repository
from reconciler.model import DesiredState, Issue, SyncPolicy

EXAMPLES = Path(__file__).resolve().parents[2] / "deploy-manifests" / "examples"


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLES, root)
    # The rolling and CodeDeploy services; production/checkout (ECS-native) has its own tests.
    shutil.rmtree(root / "environments" / "production" / "checkout")
    return root


def line_of(path: Path, needle: str, occurrence: int = 1) -> int:
    """1-based line of the n-th line containing `needle` (so tests do not hard-code lines)."""
    hits = [n for n, text in enumerate(path.read_text().splitlines(), 1) if needle in text]
    return hits[occurrence - 1]


def edit_json(path: Path, change) -> None:  # noqa: ANN001 - a callable editing the dict in place
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def errors_of(state: DesiredState) -> list[Issue]:
    return [i for i in state.issues if i.severity == "error"]


def only_error(state: DesiredState) -> Issue:
    errors = errors_of(state)
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0]


# --- the example repository -------------------------------------------------

def test_example_repository_loads_five_services_without_issues() -> None:
    state = load_repository(EXAMPLES)
    assert state.issues == ()
    assert state.broken_services == frozenset()
    assert sorted(s.key for s in state.services) == ["production/api", "production/checkout", "production/web",
                                                     "staging/api", "staging/web"]
    assert {e.name: (e.cluster, e.region, e.account_id) for e in state.environments.values()} == {
        "staging": ("staging", "eu-west-1", "123456789012"),
        "production": ("production", "eu-west-1", "123456789012"),
    }


def test_example_services_have_the_world_settings() -> None:
    services = {s.key: s for s in load_repository(EXAMPLES).services}
    web = services["staging/web"]
    assert web.gitops.strategy == "rolling" and web.gitops.blue_green is None
    assert web.service["serviceName"] == "web" and web.service["desiredCount"] == 2
    assert "taskDefinition" not in web.service and "cluster" not in web.service and "gitops" not in web.service
    assert web.service["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert web.service["loadBalancers"][0]["targetGroupArn"].endswith("targetgroup/web-staging/0000000000000001")
    assert web.task_definition["containerDefinitions"][0]["image"] == \
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1.4.2"
    assert web.family == "web-staging"
    assert web.gitops.wait_timeout_seconds == 15 * 60
    assert (web.service_file, web.taskdef_file) == (
        "environments/staging/web/service.yaml", "environments/staging/web/taskdef.json")

    staging_api, prod_api = services["staging/api"], services["production/api"]
    assert staging_api.gitops.strategy == "blue-green"
    assert staging_api.service["deploymentController"] == {"type": "CODE_DEPLOY"}
    bg = staging_api.gitops.blue_green
    assert bg is not None
    assert (bg.application, bg.deployment_group, bg.deployment_config, bg.custom_config) == (
        "api", "api-staging", "CodeDeployDefault.ECSAllAtOnce", None)
    assert (bg.container_name, bg.container_port) == ("api", 8080)
    prod_bg = prod_api.gitops.blue_green
    assert prod_bg is not None and prod_bg.deployment_group == "api-production"
    assert prod_bg.deployment_config == "api-canary-10-percent-1-minute"
    assert prod_bg.custom_config == {"type": "TimeBasedCanary", "percentage": 10, "intervalMinutes": 1}


def test_environment_sync_policies_and_inheritance() -> None:
    state = load_repository(EXAMPLES)
    assert state.environments["staging"].sync_policy == SyncPolicy(True, True, False, 1)
    assert state.environments["production"].sync_policy == SyncPolicy(True, False, False, 1)
    assert all(s.gitops.sync_policy is None for s in state.services)  # inherit


def test_service_sync_policy_overrides_field_by_field(repo: Path) -> None:
    svc = repo / "environments/production/web/service.yaml"
    replace(svc, "gitops:\n", "gitops:\n  syncPolicy:\n    selfHeal: true\n")
    env = repo / "environments/production/environment.yaml"
    replace(env, "  maxPrunePerSync: 1", "  maxPrunePerSync: 3")
    spec = next(s for s in load_repository(repo).services if s.key == "production/web")
    assert spec.gitops.sync_policy == SyncPolicy(automated=True, self_heal=True, prune=False, max_prune_per_sync=3)


def test_sync_policy_defaults_when_environment_sets_none(repo: Path) -> None:
    env = repo / "environments/staging/environment.yaml"
    env.write_text("cluster: staging\nregion: eu-west-1\n")
    assert load_repository(repo).environments["staging"].sync_policy == SyncPolicy(True, False, False, 1)


def test_env_and_service_filters(repo: Path) -> None:
    replace(repo / "environments/production/web/taskdef.json", "web:1.4.2", "web")  # broken elsewhere
    state = load_repository(repo, env="staging")
    assert sorted(s.key for s in state.services) == ["staging/api", "staging/web"]
    assert state.issues == () and set(state.environments) == {"staging"}
    only_web = load_repository(repo, service="web")
    assert [s.key for s in only_web.services] == ["staging/web"]
    assert only_web.broken_services == {"production/web"}
    assert all("/web/" in i.file for i in only_web.issues)


def test_taskdef_yaml_is_accepted(repo: Path) -> None:
    import yaml

    svc_dir = repo / "environments/staging/web"
    data = json.loads((svc_dir / "taskdef.json").read_text())
    (svc_dir / "taskdef.json").unlink()
    (svc_dir / "taskdef.yaml").write_text(yaml.safe_dump(data))
    spec = next(s for s in load_repository(repo).services if s.key == "staging/web")
    assert spec.task_definition == data and spec.taskdef_file.endswith("taskdef.yaml")


def test_task_definition_file_reference(repo: Path) -> None:
    svc_dir = repo / "environments/staging/web"
    (svc_dir / "taskdef.json").rename(svc_dir / "web-task.json")
    replace(svc_dir / "service.yaml", "gitops:\n", "gitops:\n  taskDefinitionFile: web-task.json\n")
    state = load_repository(repo)
    assert state.issues == ()
    assert next(s for s in state.services if s.key == "staging/web").taskdef_file.endswith("web-task.json")


# --- usage errors -----------------------------------------------------------

def test_usage_errors_raise_manifest_error(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="does not exist"):
        load_repository(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ManifestError, match="not a directory"):
        load_repository(tmp_path / "file")
    with pytest.raises(ManifestError, match="no environments/"):
        load_repository(tmp_path)
    with pytest.raises(ManifestError, match="no environment 'qa'"):
        load_repository(EXAMPLES, env="qa")


# --- broken manifests: one rule each, exact file:line: path: reason ----------

def test_duplicate_container_names(repo: Path) -> None:
    td = repo / "environments/staging/web/taskdef.json"
    edit_json(td, lambda d: d["containerDefinitions"].append(dict(d["containerDefinitions"][0])))
    err = only_error(load_repository(repo))
    assert (err.file, err.path) == ("environments/staging/web/taskdef.json", "containerDefinitions[1].name")
    assert err.line == line_of(td, '"name": "web"', 2)
    assert "duplicate container name 'web'" in err.reason


def test_no_essential_container(repo: Path) -> None:
    td = repo / "environments/staging/web/taskdef.json"
    edit_json(td, lambda d: d["containerDefinitions"][0].update(essential=False))
    err = only_error(load_repository(repo))
    assert (err.path, err.line) == ("containerDefinitions", line_of(td, '"containerDefinitions"'))
    assert "at least one container must be essential" in err.reason


def test_essential_defaults_to_true(repo: Path) -> None:
    td = repo / "environments/staging/web/taskdef.json"
    edit_json(td, lambda d: d["containerDefinitions"][0].pop("essential"))
    assert errors_of(load_repository(repo)) == []


def test_awsvpc_needs_network_configuration(repo: Path) -> None:
    svc = repo / "environments/staging/web/service.yaml"
    text = svc.read_text()
    start, end = text.index("networkConfiguration:"), text.index("loadBalancers:")
    svc.write_text(text[:start] + text[end:])
    err = only_error(load_repository(repo))
    assert (err.file, err.path, err.line) == ("environments/staging/web/service.yaml", "", None)
    assert str(err) == ("environments/staging/web/service.yaml: $: networkMode awsvpc "
                        "(environments/staging/web/taskdef.json) needs networkConfiguration.awsvpcConfiguration")


def test_fargate_needs_awsvpc(repo: Path) -> None:
    td = repo / "environments/staging/web/taskdef.json"
    replace(td, '"networkMode": "awsvpc"', '"networkMode": "bridge"')
    errors = errors_of(load_repository(repo))
    assert [(e.path, e.line) for e in errors] == [("networkMode", line_of(td, "networkMode"))]
    assert "Fargate requires networkMode 'awsvpc'" in errors[0].reason


@pytest.mark.parametrize(("cpu", "memory", "ok"), [
    ("256", "512", True), ("0.25 vCPU", "1 GB", True), ("1 vCPU", "8GB", True), ("256", "4096", False),
    ("1024", "1024", False), ("8192", "20480", True), ("8192", "18432", False), ("3", "512", False),
])
def test_fargate_cpu_memory_pairs(repo: Path, cpu: str, memory: str, ok: bool) -> None:
    td = repo / "environments/staging/web/taskdef.json"
    edit_json(td, lambda d: d.update(cpu=cpu, memory=memory))
    errors = errors_of(load_repository(repo))
    if ok:
        assert errors == []
    else:
        assert [(e.path, e.line) for e in errors] == [("cpu", line_of(td, '"cpu"'))]
        assert "Fargate" in errors[0].reason or "not valid with cpu" in errors[0].reason


def test_blue_green_needs_code_deploy_and_load_balancers(repo: Path) -> None:
    svc = repo / "environments/staging/api/service.yaml"
    text = svc.read_text()
    text = text[:text.index("loadBalancers:")] + text[text.index("gitops:"):]
    text = text[:text.index("  codeDeploy:")] + "  waitTimeout: 30m\n"
    svc.write_text(text)
    errors = errors_of(load_repository(repo))
    assert [(e.path, e.line) for e in errors] == [("", None), ("gitops", line_of(svc, "gitops:"))]
    assert "needs loadBalancers" in errors[0].reason
    assert "needs gitops.codeDeploy.application and deploymentGroup" in errors[1].reason


def test_code_deploy_needs_group_per_schema(repo: Path) -> None:
    svc = repo / "environments/staging/api/service.yaml"
    replace(svc, "    deploymentGroup: api-staging\n", "")
    errors = errors_of(load_repository(repo))
    assert {(e.path, e.reason) for e in errors} >= {("gitops.codeDeploy", "'deploymentGroup' is a required property")}
    assert all(e.line == line_of(svc, "codeDeploy:") for e in errors if e.path == "gitops.codeDeploy")


def test_canary_needs_custom_config_name(repo: Path) -> None:
    svc = repo / "environments/production/api/service.yaml"
    replace(svc, "deploymentConfig: api-canary-10-percent-1-minute", "deploymentConfig: CodeDeployDefault.ECSAllAtOnce")
    err = only_error(load_repository(repo))
    assert (err.path, err.line) == ("gitops.codeDeploy.deploymentConfig", line_of(svc, "deploymentConfig:"))


@pytest.mark.parametrize(("image", "allow", "reason"), [
    ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/web", False, "has no tag or digest"),
    ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:latest", False, "moving tag 'latest'"),
    ("localhost:5000/web", False, "has no tag or digest"),
    ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:latest", True, None),
    ("localhost:5000/web:1.0", False, None),
    ("web@sha256:" + "a" * 64, False, None),
])
def test_image_tag_policy(repo: Path, image: str, allow: bool, reason: str | None) -> None:
    td = repo / "environments/staging/web/taskdef.json"
    edit_json(td, lambda d: d["containerDefinitions"][0].update(image=image))
    if allow:
        replace(repo / "environments/staging/web/service.yaml", "gitops:\n", "gitops:\n  allowLatestTag: true\n")
    errors = errors_of(load_repository(repo))
    if reason is None:
        assert errors == []
    else:
        assert [(e.path, e.line) for e in errors] == [("containerDefinitions[0].image", line_of(td, '"image"'))]
        assert reason in errors[0].reason


def test_duplicate_service_in_shared_cluster(repo: Path) -> None:
    env = repo / "environments/production/environment.yaml"
    replace(env, "cluster: production", "cluster: staging")
    state = load_repository(repo)
    errors = errors_of(state)
    assert {e.file for e in errors} == {f"environments/{e}/{s}/service.yaml" for e in ("staging", "production")
                                         for s in ("web", "api")}
    assert all("declared more than once in cluster 'staging'" in e.reason for e in errors)
    assert state.services == () and len(state.broken_services) == 4


def test_family_collision(repo: Path) -> None:
    td = repo / "environments/production/web/taskdef.json"
    replace(td, '"family": "web-production"', '"family": "web-staging"')
    state = load_repository(repo)
    errors = errors_of(state)
    assert [(e.file, e.path) for e in errors] == [
        ("environments/production/web/taskdef.json", "family"), ("environments/staging/web/taskdef.json", "family")]
    assert errors[0].line == line_of(td, '"family"')
    assert "family 'web-staging' is also used by staging/web" in errors[0].reason
    assert state.broken_services == {"production/web", "staging/web"}
    assert sorted(s.key for s in state.services) == ["production/api", "staging/api"]


def test_same_family_in_other_region_is_fine(repo: Path) -> None:
    replace(repo / "environments/production/web/taskdef.json", '"family": "web-production"', '"family": "web-staging"')
    replace(repo / "environments/production/environment.yaml", "region: eu-west-1", "region: us-east-1")
    assert errors_of(load_repository(repo)) == []


@pytest.mark.parametrize(("reference", "reason"), [
    ("../api/taskdef.json", "must not contain '..'"),
    ("/etc/passwd", "must be a relative path inside the repository"),
])
def test_file_references_stay_inside(repo: Path, reference: str, reason: str) -> None:
    svc = repo / "environments/staging/web/service.yaml"
    replace(svc, "gitops:\n", f"gitops:\n  taskDefinitionFile: {reference}\n")
    state = load_repository(repo)
    err = only_error(state)
    assert (err.path, err.line) == ("gitops.taskDefinitionFile", line_of(svc, "taskDefinitionFile"))
    assert reason in err.reason and "staging/web" in state.broken_services


def test_symlink_escaping_the_repository(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    shutil.copy(repo / "environments/staging/web/taskdef.json", outside)
    (repo / "environments/staging/web/taskdef.json").unlink()
    os.symlink(outside, repo / "environments/staging/web/taskdef.json")
    err = only_error(load_repository(repo))
    assert err.file == "environments/staging/web/service.yaml"
    assert "resolves outside the repository" in err.reason


def test_unknown_top_level_keys_everywhere(repo: Path) -> None:
    env = repo / "environments/staging/environment.yaml"
    replace(env, "region: eu-west-1", "region: eu-west-1\nregoin: eu-west-2")
    svc = repo / "environments/staging/web/service.yaml"
    replace(svc, "desiredCount: 2", "desiredCount: 2\ndesiredcount: 3")
    replace(svc, "  strategy: rolling", "  strategy: rolling\n  stratgey: rolling")
    td = repo / "environments/staging/api/taskdef.json"
    replace(td, '"cpu": "256",', '"cpu": "256",\n  "cpus": "256",')
    errors = {str(e) for e in errors_of(load_repository(repo))}
    assert errors == {
        f"environments/staging/environment.yaml:{line_of(env, 'regoin')}: regoin: unknown field 'regoin' "
        "(did you mean 'region'?)",
        f"environments/staging/web/service.yaml:{line_of(svc, 'desiredcount')}: desiredcount: "
        "unknown field 'desiredcount' for CreateService (did you mean 'desiredCount'?)",
        f"environments/staging/web/service.yaml:{line_of(svc, 'stratgey')}: gitops.stratgey: unknown field 'stratgey' "
        "(did you mean 'strategy'?)",
        f"environments/staging/api/taskdef.json:{line_of(td, 'cpus')}: cpus: "
        "unknown field 'cpus' for RegisterTaskDefinition (did you mean 'cpu'?)",
    }


def test_server_only_fields_are_warnings_and_ignored(repo: Path) -> None:
    td = repo / "environments/staging/web/taskdef.json"
    edit_json(td, lambda d: d.update(revision=3, status="ACTIVE", compatibilities=["EC2", "FARGATE"],
                                     taskDefinitionArn="arn:aws:ecs:eu-west-1:123456789012:task-definition/web-staging:3"))
    svc = repo / "environments/staging/web/service.yaml"
    replace(svc, "desiredCount: 2", "desiredCount: 2\nrunningCount: 2\nstatus: ACTIVE\ncluster: staging")
    state = load_repository(repo)
    assert errors_of(state) == []
    warned = {(i.file.rsplit("/", 1)[-1], i.path) for i in state.issues}
    assert warned == {("taskdef.json", f) for f in ("revision", "status", "compatibilities", "taskDefinitionArn")} | {
        ("service.yaml", f) for f in ("runningCount", "status", "cluster")}
    spec = next(s for s in state.services if s.key == "staging/web")
    assert "revision" not in spec.task_definition and "runningCount" not in spec.service
    assert "cluster" not in spec.service


def test_describe_output_dropped_in_as_taskdef(repo: Path) -> None:
    td = repo / "environments/staging/web/taskdef.json"
    edit_json(td, lambda d: (d.update(revision=1, status="ACTIVE"), d.update(**{"__wrap__": 1})))
    data = json.loads(td.read_text())
    data.pop("__wrap__")
    td.write_text(json.dumps({"taskDefinition": data, "tags": [{"key": "team", "value": "web"}]}, indent=2))
    state = load_repository(repo)
    assert errors_of(state) == []
    assert {i.path for i in state.issues} == {"taskDefinition.revision", "taskDefinition.status"}
    spec = next(s for s in state.services if s.key == "staging/web")
    assert spec.task_definition["tags"] == [{"key": "team", "value": "web"}]
    assert spec.family == "web-staging"


def test_template_placeholders_are_errors(repo: Path) -> None:
    td = repo / "environments/staging/web/taskdef.json"
    replace(td, '"value": "staging"', '"value": "{{ must_env `APP_ENV` }}"')
    svc = repo / "environments/staging/web/service.yaml"
    replace(svc, "desiredCount: 2", "desiredCount: 2\ntags:\n  - key: owner\n    value: '{{ env `OWNER` }}'")
    errors = errors_of(load_repository(repo))
    assert [(e.file.rsplit("/", 1)[-1], e.line, e.path) for e in errors] == [
        ("service.yaml", line_of(svc, "value: '{{"), "tags[0].value"),
        ("taskdef.json", line_of(td, "must_env"), "containerDefinitions[0].environment[0].value"),
    ]
    assert all("unresolved template placeholder" in e.reason for e in errors)


def test_service_name_must_match_directory(repo: Path) -> None:
    svc = repo / "environments/staging/web/service.yaml"
    replace(svc, "launchType: FARGATE", "serviceName: website\nlaunchType: FARGATE")
    err = only_error(load_repository(repo))
    assert (err.path, err.line) == ("serviceName", line_of(svc, "serviceName:"))
    assert "must match its directory name 'web'" in err.reason


@pytest.mark.parametrize(("path", "reason"), [
    ("containerDefinitions/web/image", "must start with 'taskDefinition/' or 'service/'"),
    ("service/desiredCuont", "'desiredCuont' is not a service field"),
    ("taskDefinition//image", "does not match"),  # caught by the schema pattern
])
def test_ignore_differences_paths(repo: Path, path: str, reason: str) -> None:
    svc = repo / "environments/staging/web/service.yaml"
    replace(svc, "gitops:\n", f"gitops:\n  ignoreDifferences:\n    - {path}\n")
    errors = errors_of(load_repository(repo))
    assert errors and all(e.path == "gitops.ignoreDifferences[0]" for e in errors)
    assert all(e.line == line_of(svc, f"- {path}") for e in errors)
    assert any(reason in e.reason for e in errors), [e.reason for e in errors]


def test_valid_ignore_differences_are_kept(repo: Path) -> None:
    svc = repo / "environments/staging/web/service.yaml"
    replace(svc, "gitops:\n", "gitops:\n  ignoreDifferences:\n    - service/desiredCount\n"
                              "    - taskDefinition/containerDefinitions/*/image\n")
    spec = next(s for s in load_repository(repo).services if s.key == "staging/web")
    assert spec.gitops.ignore_differences == ("service/desiredCount", "taskDefinition/containerDefinitions/*/image")


def test_botocore_shape_errors_name_the_path(repo: Path) -> None:
    td = repo / "environments/staging/web/taskdef.json"
    replace(td, '{"containerPort": 8080, "protocol": "tcp"}', '{"containerPort": "8080", "protocol": "tcpp"}')
    errors = errors_of(load_repository(repo))
    line = line_of(td, '"containerPort"')
    assert [str(e) for e in errors] == [
        f"environments/staging/web/taskdef.json:{line}: containerDefinitions[0].portMappings[0].containerPort: "
        "invalid type str (value '8080'); expected int",
        f"environments/staging/web/taskdef.json:{line}: containerDefinitions[0].portMappings[0].protocol: "
        "'tcpp' is not one of tcp, udp",
    ]


def test_yaml_syntax_error_has_a_line(repo: Path) -> None:
    svc = repo / "environments/staging/web/service.yaml"
    replace(svc, "desiredCount: 2", "desiredCount: [2")
    state = load_repository(repo)
    err = only_error(state)
    assert err.file == "environments/staging/web/service.yaml" and err.line is not None
    assert err.reason.startswith("cannot parse YAML")
    assert "staging/web" in state.broken_services


def test_duplicate_keys_are_errors(repo: Path) -> None:
    svc = repo / "environments/staging/web/service.yaml"
    replace(svc, "desiredCount: 2", "desiredCount: 2\ndesiredCount: 3")
    err = only_error(load_repository(repo))
    assert (err.path, err.line) == ("desiredCount", line_of(svc, "desiredCount: 3"))


def test_broken_environment_breaks_only_its_services(repo: Path) -> None:
    (repo / "environments/staging/environment.yaml").write_text("region: eu-west-1\n")
    state = load_repository(repo)
    err = only_error(state)
    assert (err.file, err.path, err.reason) == (
        "environments/staging/environment.yaml", "", "'cluster' is a required property")
    assert state.broken_services == {"staging/web", "staging/api"}
    assert sorted(s.key for s in state.services) == ["production/api", "production/web"]
    assert set(state.environments) == {"production"}


def test_all_errors_in_one_run_and_healthy_services_still_load(repo: Path) -> None:
    td = repo / "environments/staging/web/taskdef.json"
    edit_json(td, lambda d: (d["containerDefinitions"][0].update(image="web:latest", essential=False),
                             d.update(memory="4096")))
    svc = repo / "environments/staging/web/service.yaml"
    replace(svc, "  strategy: rolling", "  strategy: canary")
    (repo / "environments/production/api/service.yaml").unlink()
    state = load_repository(repo)
    rendered = [str(e) for e in errors_of(state)]
    assert len(rendered) == 5, rendered
    assert any("environments/production/api/service.yaml: $: missing service.yaml" == r for r in rendered)
    assert any(r.startswith(f"environments/staging/web/service.yaml:{line_of(svc, 'canary')}: gitops.strategy:")
               for r in rendered)
    assert any("containerDefinitions[0].image" in r and "latest" in r for r in rendered)
    assert any("must be essential" in r for r in rendered)
    assert any(": cpu: memory 4096 MiB is not valid with cpu 256" in r for r in rendered)
    assert state.broken_services == {"staging/web", "production/api"}
    assert sorted(s.key for s in state.services) == ["production/web", "staging/api"]


def test_botocore_checks_service_shapes_too(repo: Path) -> None:
    """service.yaml is checked against CreateService's input shape, not only the JSON Schema."""
    svc = repo / "environments/staging/web/service.yaml"
    replace(svc, "desiredCount: 2", "desiredCount: 2\nplacementStrategy: [{type: spreadd}]")
    errors = errors_of(load_repository(repo))
    line = line_of(svc, "placementStrategy")
    assert [str(e) for e in errors] == [
        f"environments/staging/web/service.yaml:{line}: placementStrategy[0].type: "
        "'spreadd' is not one of random, spread, binpack",
    ]


def test_a_wrong_type_is_reported_once(repo: Path) -> None:
    svc = repo / "environments/staging/web/service.yaml"
    replace(svc, "desiredCount: 2", 'desiredCount: "two"')
    errors = [e for e in errors_of(load_repository(repo)) if e.path == "desiredCount"]
    assert len(errors) == 1, [str(e) for e in errors]
    assert errors[0].line == line_of(svc, "desiredCount")


def test_a_bad_duration_says_what_a_good_one_looks_like(repo: Path) -> None:
    svc = repo / "environments/staging/web/service.yaml"
    replace(svc, "waitTimeout: 15m", "waitTimeout: forever")
    err = only_error(load_repository(repo))
    assert err.path == "gitops.waitTimeout"
    assert err.reason == DURATION_ERROR and "30m" in err.reason  # the one text of reconciler.durations
    assert err.line == line_of(svc, "waitTimeout")


@pytest.mark.parametrize("spelling,seconds", [("1.5h", 5400), ("1h30m", 5400), ('"90"', 90), ("120", 120)])
def test_wait_timeout_takes_every_duration_spelling(repo: Path, spelling: str, seconds: float) -> None:
    replace(repo / "environments/staging/web/service.yaml", "waitTimeout: 15m", f"waitTimeout: {spelling}")
    web = next(s for s in load_repository(repo).services if s.name == "web" and s.environment == "staging")
    assert web.gitops.wait_timeout_seconds == seconds


def test_a_zero_wait_timeout_is_refused(repo: Path) -> None:
    replace(repo / "environments/staging/web/service.yaml", "waitTimeout: 15m", "waitTimeout: 0s")
    err = only_error(load_repository(repo))
    assert err.path == "gitops.waitTimeout" and "more than 0" in err.reason
