"""Shapes botocore accepts but AWS rejects: `validate` reports each at `file:line`, with AWS's reason."""
from __future__ import annotations

from pathlib import Path

from test_manifests_repository import edit_json, errors_of, line_of, only_error, replace, repo  # noqa: F401

from reconciler.cli import main
from reconciler.manifests import load_repository

WEB = "environments/staging/web"


def _on_ec2(root: Path, *, network_mode: str) -> None:
    """staging/web moved to the EC2 launch type with the given network mode."""
    replace(root / WEB / "service.yaml", "launchType: FARGATE", "launchType: EC2")
    edit_json(root / WEB / "taskdef.json", lambda d: d.update(requiresCompatibilities=["EC2"], networkMode=network_mode))


def test_network_configuration_needs_an_awsvpc_task(repo: Path) -> None:
    _on_ec2(repo, network_mode="bridge")
    err = only_error(load_repository(repo))
    svc = repo / WEB / "service.yaml"
    assert (err.file, err.line, err.path) == (f"{WEB}/service.yaml", line_of(svc, "networkConfiguration:"),
                                              "networkConfiguration")
    assert "only valid with networkMode awsvpc" in err.reason and "bridge" in err.reason


def test_network_configuration_with_the_default_network_mode(repo: Path) -> None:
    _on_ec2(repo, network_mode="awsvpc")
    edit_json(repo / WEB / "taskdef.json", lambda d: d.pop("networkMode"))
    err = only_error(load_repository(repo))
    assert err.path == "networkConfiguration" and "bridge (the default)" in err.reason


def test_awsvpc_on_ec2_with_network_configuration_is_valid(repo: Path) -> None:
    _on_ec2(repo, network_mode="awsvpc")
    assert errors_of(load_repository(repo)) == []


def test_container_without_image(repo: Path) -> None:
    td = repo / WEB / "taskdef.json"
    edit_json(td, lambda d: d["containerDefinitions"][0].pop("image"))
    err = only_error(load_repository(repo))
    assert (err.file, err.path, err.line) == (f"{WEB}/taskdef.json", "containerDefinitions[0]", line_of(td, '"name": "web"') - 1)
    assert "Container.image should not be null or empty" in err.reason


def test_container_with_empty_image_or_name(repo: Path) -> None:
    td = repo / WEB / "taskdef.json"
    edit_json(td, lambda d: d["containerDefinitions"][0].update(image="", name=""))
    errors = errors_of(load_repository(repo))
    assert {e.path for e in errors} >= {"containerDefinitions[0].image", "containerDefinitions[0].name"}
    assert all(e.line == line_of(td, f'"{e.path.rsplit(".", 1)[1]}": ""') for e in errors
               if e.path.startswith("containerDefinitions[0]."))


def test_ec2_task_needs_task_or_container_memory(repo: Path) -> None:
    _on_ec2(repo, network_mode="awsvpc")
    td = repo / WEB / "taskdef.json"
    edit_json(td, lambda d: d.pop("memory"))
    err = only_error(load_repository(repo))
    assert (err.path, err.line) == ("containerDefinitions[0]", line_of(td, '"name": "web"') - 1)
    assert "at least one of 'memory' or 'memoryReservation' must be specified" in err.reason
    for field in ("memory", "memoryReservation"):
        edit_json(td, lambda d, f=field: d["containerDefinitions"][0].update({f: 256}))
        assert errors_of(load_repository(repo)) == []
        edit_json(td, lambda d, f=field: d["containerDefinitions"][0].pop(f))


def test_unreadable_task_size_is_an_error_on_any_launch_type(repo: Path) -> None:
    _on_ec2(repo, network_mode="awsvpc")
    td = repo / WEB / "taskdef.json"
    edit_json(td, lambda d: d.update(memory=""))
    errors = errors_of(load_repository(repo))
    assert ("memory", line_of(td, '"memory"')) in {(e.path, e.line) for e in errors}


def test_untagged_image_is_allowed_with_allow_latest_tag(repo: Path) -> None:
    edit_json(repo / WEB / "taskdef.json", lambda d: d["containerDefinitions"][0].update(image="nginx"))
    assert "no tag or digest" in only_error(load_repository(repo)).reason
    replace(repo / WEB / "service.yaml", "gitops:\n", "gitops:\n  allowLatestTag: true\n")
    assert errors_of(load_repository(repo)) == []
    assert main(["validate", str(repo), "--env", "staging", "--service", "web"]) == 0


def test_codepipeline_placeholder_image_is_named(repo: Path) -> None:
    td = repo / WEB / "taskdef.json"
    edit_json(td, lambda d: d["containerDefinitions"][0].update(image="<IMAGE1_NAME>"))
    replace(repo / WEB / "service.yaml", "gitops:\n", "gitops:\n  allowLatestTag: true\n")  # not a tag question
    err = only_error(load_repository(repo))
    assert (err.path, err.line) == ("containerDefinitions[0].image", line_of(td, '"image"'))
    assert "CodePipeline placeholder" in err.reason and "imageDetail.json" in err.reason


def test_reserved_tags_in_git_are_dropped_with_a_warning(repo: Path) -> None:
    """A describe output dropped in carries our tags and AWS's; neither is sent as the user's own."""
    td = repo / WEB / "taskdef.json"
    edit_json(td, lambda d: d.update(tags=[{"key": "ecs-reconciler:spec-hash", "value": "x"},
                                           {"key": "aws:cloudformation:stack-name", "value": "s"},
                                           {"key": "team", "value": "web"}]))
    state = load_repository(repo)
    assert errors_of(state) == []
    warned = [i for i in state.issues if i.severity == "warning" and i.file.endswith("taskdef.json")]
    assert [i.path for i in warned] == ["tags[0].key", "tags[1].key"]
    [web] = [s for s in state.services if s.key == "staging/web"]
    assert web.task_definition["tags"] == [{"key": "team", "value": "web"}]

