"""Commands raise UsageError; `cli.main` alone turns it into `reconciler: <message>` and exit 2."""
from __future__ import annotations

from pathlib import Path

import pytest
import structlog

from reconciler.cli import main
from reconciler.commands._common import UsageError, fail


@pytest.fixture(autouse=True)
def _restore_logging():
    """`sync` and `rollback` configure structlog for the command line: give the next tests theirs back."""
    yield
    structlog.reset_defaults()


def test_fail_raises_a_usage_error() -> None:
    with pytest.raises(UsageError) as info:
        fail("no such thing")
    assert (str(info.value), info.value.code) == ("no such thing", 2)


@pytest.mark.parametrize("argv,message", [
    (["plan", "--repo", "{missing}"], "reconciler: no such directory: {missing}"),
    (["sync", "--repo", "{missing}", "--timeout", "soon"], "reconciler: --timeout: "),
    (["rollback", "--repo", "{missing}", "--env", "prod", "--service", "web"], "reconciler: no such directory: "),
])
def test_usage_errors_exit_2_with_one_line_on_stderr(argv: list[str], message: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "missing")
    assert main([a.format(missing=missing) for a in argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(message.format(missing=missing)) and err.count("\n") == 1


@pytest.mark.parametrize("argv", [["continue"], ["rollback"], ["deploy", "--tag", "1.0"]])
def test_commands_on_one_service_require_env_and_service(argv: list[str],
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """One argument helper (add_repo_args(one_service=True)) for every command that acts on one service."""
    with pytest.raises(SystemExit) as info:
        main([*argv, "--repo", "."])
    assert info.value.code == 2
    assert "the following arguments are required: --env, --service" in capsys.readouterr().err
