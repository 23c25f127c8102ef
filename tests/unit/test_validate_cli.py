"""`reconciler validate` and `reconciler schema` through the CLI entry point."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from reconciler.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "deploy-manifests" / "examples"


def test_valid_repository_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(EXAMPLES)]) == 0
    out = capsys.readouterr().out
    assert out.strip() == "valid: 5 service(s) ok, 0 broken, 0 error(s), 0 warning(s)"


def test_invalid_repository_exits_1_with_every_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLES, root)
    td = root / "environments/staging/web/taskdef.json"
    td.write_text(td.read_text().replace("web:1.4.2", "web:latest"))
    svc = root / "environments/production/api/service.yaml"
    svc.write_text(svc.read_text().replace("strategy: blue-green", "strategy: bluegreen"))
    assert main(["validate", str(root)]) == 1
    lines = capsys.readouterr().out.splitlines()
    image_line = next(n for n, t in enumerate(td.read_text().splitlines(), 1) if "web:latest" in t)
    assert f"environments/staging/web/taskdef.json:{image_line}: containerDefinitions[0].image: " \
           "image '123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:latest' uses the moving tag 'latest'; " \
           "pin a version, or set gitops.allowLatestTag: true to opt in" in lines
    assert any(line.startswith("environments/production/api/service.yaml:") and "gitops.strategy" in line
               for line in lines)
    assert lines[-1].startswith("invalid: 3 service(s) ok, 2 broken")


def test_warnings_only_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLES, root)
    td = root / "environments/staging/web/taskdef.json"
    data = json.loads(td.read_text())
    td.write_text(json.dumps({"taskDefinition": {**data, "revision": 7, "status": "ACTIVE"}}, indent=2))
    assert main(["validate", str(root), "--output", "json"]) == 0
    issues = json.loads(capsys.readouterr().out)
    assert [(i["path"], i["severity"]) for i in issues] == [
        ("taskDefinition.revision", "warning"), ("taskDefinition.status", "warning")]


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLES, root)
    (root / "environments/staging/api/taskdef.json").unlink()
    assert main(["validate", str(root), "--output", "json", "--env", "staging"]) == 1
    issues = json.loads(capsys.readouterr().out)
    assert issues == [{"file": "environments/staging/api/service.yaml", "line": None, "path": "",
                       "reason": "no taskdef.json or taskdef.yaml next to service.yaml", "severity": "error"}]


@pytest.mark.parametrize("args", [["validate", "/definitely/not/here"], ["validate", str(EXAMPLES), "--env", "qa"]])
def test_usage_errors_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("reconciler validate: ") and "Traceback" not in err


def test_no_environments_dir_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path)]) == 2
    assert "no environments/ directory" in capsys.readouterr().err


def test_schema_command_validates_the_example_environment(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    document = json.loads(capsys.readouterr().out)
    Draft202012Validator.check_schema(document)
    for env in ("staging", "production"):
        data = yaml.safe_load((EXAMPLES / "environments" / env / "environment.yaml").read_text())
        assert main(["schema", "--def", "environment"]) == 0
        env_schema = json.loads(capsys.readouterr().out)
        Draft202012Validator(env_schema).validate(data)
        assert not Draft202012Validator(env_schema).is_valid({**data, "clustr": "x"})
        svc = yaml.safe_load((EXAMPLES / "environments" / env / "api" / "service.yaml").read_text())
        Draft202012Validator(document).validate(svc)


def test_text_output_marks_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLES, root)
    svc = root / "environments/staging/web/service.yaml"
    svc.write_text(svc.read_text().replace("desiredCount: 2", "desiredCount: 2\nrunningCount: 1"))
    assert main(["validate", str(root), "--env", "staging"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["environments/staging/web/service.yaml:6: runningCount: server-only field set by AWS; ignored (warning)",
                     "valid: 2 service(s) ok, 0 broken, 0 error(s), 1 warning(s)"]
