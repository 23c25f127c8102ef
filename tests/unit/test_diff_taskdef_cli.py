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
    td["memory"] = str(int(td["memory"]) * 2)  # 256 CPU units with 1024 MiB: still a Fargate size
    changed = tmp_path / "taskdef.json"
    changed.write_text(json.dumps(td))
    assert main(["diff-taskdef", str(changed), str(SIL), "--output", "json"]) == 1
    assert [c["path"] for c in json.loads(capsys.readouterr().out)] == ["taskDefinition/memory"]


@pytest.mark.parametrize("name", ["ecspresso_ci_ecs-task-def.json", "ecspresso_td-in-tags.json"])
def test_template_samples_are_errors_naming_the_file(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    sample = FIXTURES / "aws-samples" / name
    assert main(["diff-taskdef", str(sample), str(LIVE)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{sample}: unresolved template placeholder") and "Traceback" not in err


# --- DESIRED goes through `reconciler validate`'s rules: unregistrable is an error, not drift -------------
@pytest.mark.parametrize(("change", "path", "reason"), [
    (lambda c: c.update(devices=[{"hostPath": "/dev/xvdb"}]), "containerDefinitions[0].devices",
     "unknown field 'devices'"),
    (lambda c: c.update(environment=[None]), "containerDefinitions[0].environment[0]", "invalid type NoneType"),
    (lambda c: c.update(logConfiguration={}), "containerDefinitions[0].logConfiguration",
     "missing required field 'logDriver'"),
    (lambda c: c.update(image="<IMAGE1_NAME>"), "containerDefinitions[0].image", "CodePipeline placeholder"),
    (lambda c: c.pop("image"), "containerDefinitions[0]", "Container.image should not be null or empty"),
])
def test_unregistrable_desired_exits_2_with_file_line_path_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                  change, path: str, reason: str) -> None:
    td = json.loads(DESIRED.read_text())
    change(td["containerDefinitions"][0])
    bad = tmp_path / "taskdef.json"
    bad.write_text(json.dumps(td, indent=2))
    assert main(["diff-taskdef", str(bad), str(LIVE)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # no diff at all
    [line] = [ln for ln in captured.err.splitlines() if f": {path}: " in ln]
    assert line.startswith(f"{bad}:") and reason in line
    number = int(line[len(f"{bad}:"):].split(":", 1)[0])
    assert number > 1  # a real line of the file, not the file as a whole


def test_empty_task_memory_is_an_error_not_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    td = json.loads(DESIRED.read_text())
    td["memory"] = ""
    bad = tmp_path / "taskdef.json"
    bad.write_text(json.dumps(td, indent=2))
    assert main(["diff-taskdef", str(bad), str(LIVE)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{bad}:") and "memory: cannot read memory ''" in err


def test_diff_paths_never_show_none_or_an_empty_name(tmp_path: Path) -> None:
    """Entries without a name get a readable key (the diff also runs on live data nobody validated)."""
    from reconciler.diff import diff_task_definitions

    live = json.loads(LIVE.read_text())
    desired = json.loads(json.dumps(live["taskDefinition"]))
    container = desired["containerDefinitions"][0]
    container["environment"].append({"value": "orphan"})
    container["environment"].append({"name": "", "value": "blank"})
    container["portMappings"].append({"hostPort": 8081})
    container["mountPoints"] = [{"sourceVolume": "data"}]
    desired["volumes"] = [{"host": {"sourcePath": "/data"}}]
    paths = [c.path for c in diff_task_definitions(desired, live).changes]
    assert paths and not any("None" in p.split("/") or p.endswith("/") for p in paths), paths
    name = container["name"]
    assert {f"taskDefinition/containerDefinitions/{name}/environment/(unnamed)",
            f"taskDefinition/containerDefinitions/{name}/environment/(unnamed)#2",
            f"taskDefinition/containerDefinitions/{name}/portMappings/(unnamed)",
            f"taskDefinition/containerDefinitions/{name}/mountPoints/(unnamed)",
            "taskDefinition/volumes/(unnamed)"} <= set(paths), paths
