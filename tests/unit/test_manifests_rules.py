"""The small rule modules: line-aware loader, Fargate sizes, image pins, diff paths, schema."""
from __future__ import annotations

import pytest

from reconciler.manifests import schema
from reconciler.manifests.fargate import fargate_size_problem, parse_cpu, parse_memory
from reconciler.manifests.images import image_problem
from reconciler.manifests.paths import diff_path_problem
from reconciler.manifests.yamlsource import ParseFailure, parse_text, render_path


def test_loader_records_lines_of_keys_and_items() -> None:
    parsed = parse_text("a: 1\nb:\n  - x\n  - c: 2\n    d: 2024-01-01\n")
    assert parsed.data == {"a": 1, "b": ["x", {"c": 2, "d": "2024-01-01"}]}  # dates stay strings
    assert parsed.lines[("a",)] == 1 and parsed.lines[("b", 1)] == 4 and parsed.lines[("b", 1, "d")] == 5
    assert parsed.line_of(("b", 1, "missing")) == 4
    assert parsed.line_of(("nothing",)) is None


def test_loader_is_safe() -> None:
    with pytest.raises(ParseFailure, match="could not determine a constructor"):
        parse_text("a: !!python/object/apply:os.system ['true']\n")


def test_loader_reports_duplicates_and_json_lines() -> None:
    parsed = parse_text('{\n  "a": 1,\n  "a": 2\n}', is_json=True)
    assert parsed.duplicates == ((("a",), 3),)


def test_render_path() -> None:
    assert render_path(("containerDefinitions", 0, "logConfiguration", "options", "awslogs-group")) == \
        "containerDefinitions[0].logConfiguration.options.awslogs-group"
    assert render_path(("dockerLabels", "com.example/x")) == "dockerLabels['com.example/x']"


@pytest.mark.parametrize(("cpu", "memory"), [
    ("256", "512"), ("256", "2048"), (512, 4096), ("0.5 vCPU", "1GB"), ("2 vCPU", "16 GB"), ("4096", "30720"),
    ("8192", "61440"), ("16384", "122880"), ("16 vCPU", "32 GB"),
])
def test_valid_fargate_sizes(cpu: object, memory: object) -> None:
    assert fargate_size_problem(cpu, memory) is None


@pytest.mark.parametrize(("cpu", "memory", "reason"), [
    ("256", "3072", "not valid with cpu 256"), ("4096", "31744", "not valid with cpu 4096"),
    ("8192", "17408", "not valid with cpu 8192"), ("16384", "36864", "not valid with cpu 16384"),
    ("300", "1024", "not a Fargate size"), (None, "512", "needs task-level cpu and memory"),
    ("lots", "512", "cannot read cpu"), ("256", "half a gig", "cannot read memory"),
])
def test_invalid_fargate_sizes(cpu: object, memory: object, reason: str) -> None:
    problem = fargate_size_problem(cpu, memory)
    assert problem is not None and reason in problem


def test_unit_strings() -> None:
    assert (parse_cpu("0.25 vCPU"), parse_cpu("1 vcpu"), parse_cpu("1024")) == (256, 1024, 1024)
    assert (parse_memory("0.5GB"), parse_memory("1 GB"), parse_memory("512")) == (512, 1024, 512)
    assert parse_cpu(True) is None and parse_memory("1.3 MB") is None


def test_image_pins() -> None:
    assert image_problem("nginx:1.25", allow_latest=False) is None
    assert image_problem("registry:5000/team/app@sha256:" + "0" * 64, allow_latest=False) is None
    assert "no tag" in (image_problem("registry:5000/team/app", allow_latest=False) or "")
    assert "empty tag" in (image_problem("app:", allow_latest=False) or "")
    assert image_problem("app:latest", allow_latest=True) is None


def test_diff_paths() -> None:
    known = {"taskDefinition": frozenset({"containerDefinitions"}), "service": frozenset({"desiredCount"})}
    assert diff_path_problem("taskDefinition/containerDefinitions/*/image", known) is None
    assert diff_path_problem("service/*", known) is None
    assert "'**'" in (diff_path_problem("service/**", known) or "")
    assert "names no field" in (diff_path_problem("service", known) or "")
    assert "empty segment" in (diff_path_problem("service/desiredCount/", known) or "")


def test_schema_is_valid_draft_2020_12_with_defs() -> None:
    from jsonschema import Draft202012Validator

    document = schema()
    Draft202012Validator.check_schema(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert {"environment", "service", "gitops", "syncPolicy", "codeDeploy"} <= set(document["$defs"])
    env_schema = schema("environment")
    validator = Draft202012Validator(env_schema)
    assert validator.is_valid({"cluster": "c", "region": "eu-west-1"})
    assert not validator.is_valid({"cluster": "c", "region": "eu-west-1", "externalId": "x-1"})  # needs roleArn
    with pytest.raises(KeyError):
        schema("nope")


def test_schema_returns_a_copy() -> None:
    schema()["$defs"].clear()
    assert "environment" in schema()["$defs"]
