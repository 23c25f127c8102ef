"""Every real change is caught, with the right path and kind; ignoreDifferences skips exactly what it names."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.diff import diff_task_definitions, match_ignore, render_json, render_text
from reconciler.model import Drift, FieldChange

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TD = "taskDefinition/containerDefinitions"
Mutation = Callable[[dict[str, Any]], None]


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def container(td: dict[str, Any], name: str) -> dict[str, Any]:
    body = td.get("taskDefinition", td)
    return next(c for c in body["containerDefinitions"] if c["name"] == name)


def env(td: dict[str, Any], ctr: str) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container(td, ctr)["environment"]}


def _set(path: list[str], value: Any) -> Mutation:
    def mutate(td: dict[str, Any]) -> None:
        target = td.get("taskDefinition", td)
        for key in path[:-1]:
            target = container(td, key) if key in ("nginx", "bash") else target[key]
        target[path[-1]] = value
    return mutate


# (description, change made in git, change made in AWS, expected changes as (path, kind, desired, live))
CASES: list[tuple[str, Mutation | None, Mutation | None, list[tuple[str, str, Any, Any]]]] = [
    ("image tag", _set(["nginx", "image"], "nginx:1.28.0"), None,
     [(f"{TD}/nginx/image", "changed", "nginx:1.28.0", "nginx:1.27.3")]),
    ("env var value", lambda td: env(td, "nginx")["FOO_ENV"].update(value="bar"), None,
     [(f"{TD}/nginx/environment/FOO_ENV", "changed", "bar", "foo-value")]),
    ("removed env var", lambda td: container(td, "nginx")["environment"].pop(1), None,
     [(f"{TD}/nginx/environment/BAZ_ARN", "removed", None,
       "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:ecspresso-test/baz-06XQOH")]),
    ("added env var", lambda td: container(td, "bash").setdefault("environment", []).append(
        {"name": "LOG_LEVEL", "value": "debug"}), None,
     [(f"{TD}/bash/environment/LOG_LEVEL", "added", "debug", None)]),
    ("env var added by hand in AWS", None, lambda td: container(td, "nginx")["environment"].append(
        {"name": "DEBUG", "value": "1"}),
     [(f"{TD}/nginx/environment/DEBUG", "removed", None, "1")]),
    ("added container", lambda td: td["containerDefinitions"].append(
        {"name": "sidecar", "image": "envoy:v1.30.1", "essential": False}), None,
     [(f"{TD}/sidecar", "added", ..., None)]),
    ("removed container", lambda td: td["containerDefinitions"].pop(1), None,
     [(f"{TD}/bash", "removed", None, ...)]),
    ("container cpu", _set(["nginx", "cpu"], 256), None, [(f"{TD}/nginx/cpu", "changed", 256, 0)]),
    ("container cpu set where AWS filled 0", _set(["bash", "cpu"], 128), None,
     [(f"{TD}/bash/cpu", "changed", 128, 0)]),
    ("task cpu", _set(["cpu"], "0.5 vCPU"), None, [("taskDefinition/cpu", "changed", "512", "256")]),
    ("task memory", _set(["memory"], "1 GB"), None, [("taskDefinition/memory", "changed", "1024", "512")]),
    ("container port", lambda td: container(td, "nginx")["portMappings"][0].update(containerPort=8080, hostPort=8080),
     None, [(f"{TD}/nginx/portMappings/80/tcp", "removed", None, ...),
            (f"{TD}/nginx/portMappings/8080/tcp", "added", ..., None)]),
    ("port protocol", lambda td: container(td, "nginx")["portMappings"][0].update(protocol="udp"), None,
     [(f"{TD}/nginx/portMappings/80/tcp", "removed", None, ...),
      (f"{TD}/nginx/portMappings/80/udp", "added", ..., None)]),
    ("secret", lambda td: next(s for s in container(td, "bash")["secrets"] if s["name"] == "FOO").update(
        valueFrom="/ecspresso-test/foo2"), None,
     [(f"{TD}/bash/secrets/FOO", "changed", "/ecspresso-test/foo2", "/ecspresso-test/foo")]),
    ("essential false", _set(["bash", "essential"], False), None, [(f"{TD}/bash/essential", "changed", False, True)]),
    ("ipcMode (a whitelist misses it)", _set(["ipcMode"], "task"), None, [("taskDefinition/ipcMode", "added", "task", None)]),
    ("pidMode set by hand in AWS", None, _set(["pidMode"], "task"), [("taskDefinition/pidMode", "removed", None, "task")]),
    ("command order", _set(["bash", "command"], ["tail", "/dev/null", "-f"]), None,
     [(f"{TD}/bash/command", "changed", ["tail", "/dev/null", "-f"], ["tail", "-f", "/dev/null"])]),
    ("mount point readOnly", lambda td: container(td, "bash")["mountPoints"][0].update(readOnly=True), None,
     [(f"{TD}/bash/mountPoints//mnt/ebs/readOnly", "changed", True, False)]),
    ("log option", lambda td: container(td, "bash")["logConfiguration"]["options"].update(
        {"awslogs-group": "other"}), None,
     [(f"{TD}/bash/logConfiguration/options/awslogs-group", "changed", "other", "ecspresso-test")]),
    ("task tag", lambda td: td["tags"].append({"key": "team", "value": "web"}), None,
     [("taskDefinition/tags/team", "added", "web", None)]),
    ("unknown field only in AWS", None, _set(["bash", "stopTimeout"], 30),
     [(f"{TD}/bash/stopTimeout", "removed", None, 30)]),
    # bridge keeps the explicit hostPort 80: only the mode differs.
    ("network mode", _set(["networkMode"], "bridge"), None,
     [("taskDefinition/networkMode", "changed", "bridge", "awsvpc")]),
]


@pytest.mark.parametrize(("desc", "in_git", "in_aws", "expected"), CASES, ids=[c[0] for c in CASES])
def test_real_change_is_detected(desc: str, in_git: Mutation | None, in_aws: Mutation | None,
                                 expected: list[tuple[str, str, Any, Any]]) -> None:
    desired = load("diff/ecspresso_taskdef_desired.json")
    live = load("diff/ecspresso_taskdef_live.json")
    if in_git:
        in_git(desired)
    if in_aws:
        in_aws(live["taskDefinition"])
    drift = diff_task_definitions(desired, live)
    assert [(c.path, c.kind) for c in drift.changes] == [(p, k) for p, k, _, _ in expected]
    for change, (_, _, want_desired, want_live) in zip(drift.changes, expected, strict=True):
        if want_desired is not ...:
            assert change.desired == want_desired
        if want_live is not ...:
            assert change.live == want_live
        assert (change.desired is None) == (change.kind == "removed")
        assert (change.live is None) == (change.kind == "added")


def _drifted() -> tuple[dict[str, Any], dict[str, Any]]:
    desired = load("diff/ecspresso_taskdef_desired.json")
    live = load("diff/ecspresso_taskdef_live.json")
    container(desired, "nginx")["image"] = "nginx:1.28.0"
    container(desired, "bash")["image"] = "bash:5.2"
    env(desired, "nginx")["FOO_ENV"]["value"] = "bar"
    desired["tags"].append({"key": "team", "value": "web"})
    return desired, live


@pytest.mark.parametrize(("patterns", "remaining"), [
    ((), [f"{TD}/bash/image", f"{TD}/nginx/environment/FOO_ENV", f"{TD}/nginx/image", "taskDefinition/tags/team"]),
    ((f"{TD}/nginx/image",), [f"{TD}/bash/image", f"{TD}/nginx/environment/FOO_ENV", "taskDefinition/tags/team"]),
    ((f"{TD}/*/image",), [f"{TD}/nginx/environment/FOO_ENV", "taskDefinition/tags/team"]),
    ((f"{TD}/nginx", "taskDefinition/tags"), [f"{TD}/bash/image"]),
    (("/taskDefinition/tags/team/",), [f"{TD}/bash/image", f"{TD}/nginx/environment/FOO_ENV", f"{TD}/nginx/image"]),
])
def test_ignore_differences(patterns: tuple[str, ...], remaining: list[str]) -> None:
    desired, live = _drifted()
    assert diff_task_definitions(desired, live, ignore=patterns).paths() == remaining


def test_ignore_part_of_a_one_sided_subtree() -> None:
    desired = load("diff/ecspresso_taskdef_desired.json")
    live = load("diff/ecspresso_taskdef_live.json")
    desired["containerDefinitions"].append({"name": "sidecar", "image": "envoy:v1", "dockerLabels": {"a": "1"}})
    drift = diff_task_definitions(desired, live, ignore=[f"{TD}/sidecar/image"])
    paths = drift.paths()
    assert f"{TD}/sidecar/image" not in paths
    assert f"{TD}/sidecar/dockerLabels/a" in paths and f"{TD}/sidecar/essential" in paths


@pytest.mark.parametrize(("path", "patterns", "expected"), [
    ("service/tags/team", ["service/tags"], True),
    ("service/tags/team", ["service/tags/team"], True),
    ("service/tags/team", ["service/tag"], False),
    ("service/tags", ["service/tags/team"], False),
    ("taskDefinition/containerDefinitions/web/image", ["taskDefinition/containerDefinitions/*/image"], True),
    ("taskDefinition/containerDefinitions/web/cpu", ["taskDefinition/containerDefinitions/*/image"], False),
    ("service/desiredCount", [], False),
])
def test_match_ignore(path: str, patterns: list[str], expected: bool) -> None:
    assert match_ignore(path, patterns) is expected


def test_render_text_and_json() -> None:
    drift = Drift(changes=(
        FieldChange("taskDefinition/containerDefinitions/web/image", "web:2", "web:1", "changed"),
        FieldChange("taskDefinition/containerDefinitions/web/environment/A", "1", None, "added"),
        FieldChange("taskDefinition/tags/team", None, "web", "removed"),
    ))
    assert render_text(drift).splitlines() == [
        '~ taskDefinition/containerDefinitions/web/image: "web:1" -> "web:2"',
        '+ taskDefinition/containerDefinitions/web/environment/A: "1"',
        '- taskDefinition/tags/team: "web"',
    ]
    colored = render_text(drift, color=True)
    assert "\033[" in colored and "\033[" not in render_text(drift)
    assert render_json(drift)[0] == {"path": "taskDefinition/containerDefinitions/web/image",
                                     "kind": "changed", "desired": "web:2", "live": "web:1"}
