"""`reconciler diff-taskdef`: exit 0 equal, 1 different, 2 error with a one-line message."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DESIRED = FIXTURES / "diff" / "ecspresso_taskdef_desired.json"
LIVE = FIXTURES / "diff" / "ecspresso_taskdef_live.json"
SLEEP = FIXTURES / "aws-samples" / "awscli_register-task-definition_sleep360.json"


def test_equal_files_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff-taskdef", str(DESIRED), str(LIVE)]) == 0
    assert "No differences" in capsys.readouterr().out


def test_yaml_desired_and_bare_task_definition_live(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bare = tmp_path / "live.json"
    bare.write_text(json.dumps(json.loads(LIVE.read_text())["taskDefinition"]))
    assert main(["diff-taskdef", str(FIXTURES / "diff" / "ecspresso_taskdef_desired.yaml"), str(bare)]) == 0
    assert "tags not compared" in capsys.readouterr().err  # describe without --include TAGS


def test_tags_compared_when_live_has_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    live = json.loads(LIVE.read_text())
    live["tags"] = []
    path = tmp_path / "live.json"
    path.write_text(json.dumps(live))
    assert main(["diff-taskdef", str(DESIRED), str(path)]) == 1
    assert capsys.readouterr().out.strip() == '+ taskDefinition/tags/TaskType: "ecspresso-test"'


def test_register_request_vs_response_files(tmp_path: Path) -> None:
    sample = json.loads(SLEEP.read_text())
    (tmp_path / "req.json").write_text(json.dumps(sample["request"]))
    (tmp_path / "resp.json").write_text(json.dumps(sample["response"]))
    assert main(["diff-taskdef", str(tmp_path / "req.json"), str(tmp_path / "resp.json")]) == 0


def _changed(tmp_path: Path) -> Path:
    td = json.loads(DESIRED.read_text())
    td["containerDefinitions"][0]["image"] = "nginx:1.28.0"
    path = tmp_path / "taskdef.json"
    path.write_text(json.dumps(td))
    return path


def test_different_exit_1_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff-taskdef", str(_changed(tmp_path)), str(LIVE)]) == 1
    out = capsys.readouterr().out
    assert out.strip() == '~ taskDefinition/containerDefinitions/nginx/image: "nginx:1.27.3" -> "nginx:1.28.0"'
    assert "\033[" not in out  # not a TTY: no colours


def test_different_exit_1_json_and_ignore(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    changed = str(_changed(tmp_path))
    assert main(["diff-taskdef", changed, str(LIVE), "--output", "json"]) == 1
    assert json.loads(capsys.readouterr().out) == [{
        "path": "taskDefinition/containerDefinitions/nginx/image", "kind": "changed",
        "desired": "nginx:1.28.0", "live": "nginx:1.27.3"}]
    assert main(["diff-taskdef", changed, str(LIVE), "--ignore", "taskDefinition/containerDefinitions/*/image"]) == 0


@pytest.mark.parametrize(("content", "reason"), [
    (None, "cannot read file"),
    ('{"family": "x", ', "invalid JSON at line 1"),
    ("family: x\nkey: value: other\n", "invalid YAML at line 2"),
    ('{"family": "x", "containerDefinitions": [{"name": "a", "image": "{{ must_env `IMAGE` }}"}]}',
     "unresolved template placeholder {{ must_env `IMAGE` }} at line 1"),
    ('{"service": {"serviceName": "x"}}', "not a task definition"),
    ("[1, 2]", "not a task definition"),
    ('{"containerDefinitions": [{"name": "a"}]}', "`family` is missing"),
])
def test_errors_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     content: str | None, reason: str) -> None:
    bad = tmp_path / ("bad.json" if content is None or content.startswith(("{", "[")) else "bad.yaml")
    if content is not None:
        bad.write_text(content)
    assert main(["diff-taskdef", str(bad), str(LIVE)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith(f"{bad}: ") and reason in err
    assert "Traceback" not in err


def test_ecspresso_template_sample_is_rejected_as_live(capsys: pytest.CaptureFixture[str]) -> None:
    sample = FIXTURES / "aws-samples" / "ecspresso_td-in-tags.json"
    assert main(["diff-taskdef", str(DESIRED), str(sample)]) == 2
    assert "unresolved template placeholder" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("true") is None, reason="needs a POSIX system")
def test_subprocess_exit_codes() -> None:
    cmd = [sys.executable, "-m", "reconciler", "diff-taskdef"]
    equal = subprocess.run([*cmd, str(DESIRED), str(LIVE)], capture_output=True, text=True, check=False)
    assert equal.returncode == 0, equal.stderr
    missing = subprocess.run([*cmd, "/nonexistent.json", str(LIVE)], capture_output=True, text=True, check=False)
    assert missing.returncode == 2 and missing.stderr.strip() == "/nonexistent.json: cannot read file: No such file or directory"


# --- every task definition sample in aws-samples, through the command ---------------------------
SIL = FIXTURES / "aws-samples" / "sil-ecs-deploy_describe-task-definition_fargate.json"


def test_describe_sample_dropped_into_git_equals_itself_live(tmp_path: Path) -> None:
    """The describe output as the git file, as is and as its bare `taskDefinition` (server fields ignored)."""
    bare = tmp_path / "taskdef.json"
    bare.write_text(json.dumps(json.loads(SIL.read_text())["taskDefinition"]))
    assert main(["diff-taskdef", str(SIL), str(SIL)]) == 0
    assert main(["diff-taskdef", str(bare), str(SIL)]) == 0


def test_describe_sample_real_change_is_caught(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    td = json.loads(SIL.read_text())["taskDefinition"]
    td["cpu"] = str(int(td["cpu"]) * 2)
    changed = tmp_path / "taskdef.json"
    changed.write_text(json.dumps(td))
    assert main(["diff-taskdef", str(changed), str(SIL), "--output", "json"]) == 1
    assert [c["path"] for c in json.loads(capsys.readouterr().out)] == ["taskDefinition/cpu"]


@pytest.mark.parametrize("name", ["ecspresso_ci_ecs-task-def.json", "ecspresso_td-in-tags.json"])
def test_template_samples_are_errors_naming_the_file(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    sample = FIXTURES / "aws-samples" / name
    assert main(["diff-taskdef", str(sample), str(LIVE)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{sample}: unresolved template placeholder") and "Traceback" not in err
