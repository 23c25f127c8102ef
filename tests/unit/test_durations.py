"""The one duration parser, and that every user of durations goes through it."""
from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

import pytest

from reconciler.cli import build_parser, main
from reconciler.daemon.config import _DURATION, ConfigError, DaemonConfig, settings
from reconciler.durations import DURATION_ERROR, DurationError, format_duration, parse_duration

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"


@pytest.mark.parametrize("value,seconds", [
    ("1h30m", 5400), ("90s", 90), ("1.5h", 5400), ("1800", 1800), ("0.5", 0.5), (1800, 1800), (2.5, 2.5),
    ("30m", 1800), ("1h", 3600), ("1h30m15s", 5415), ("2m30s", 150), (" 45s ", 45), ("1h 30m", 5400),
    ("0", 0), ("0s", 0), ("1.25m", 75),
])
def test_accepted_spellings(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", [
    "", " ", "forever", "1d", "30 m", "1m30h", "s", "h", "-5", "-5s", -1, "1e3", "inf", float("inf"),
    float("nan"), True, False, None, "1.h", ".5h", "5S", "1h30", "30min", "1:30", [1],
])
def test_refused_spellings_get_the_one_error_text(value: object) -> None:
    with pytest.raises(DurationError) as info:
        parse_duration(value)
    assert str(info.value) == DURATION_ERROR


def test_the_error_text_never_repeats_the_value() -> None:
    with pytest.raises(DurationError) as info:
        parse_duration("xoxb-secret-token")
    assert "xoxb" not in str(info.value)


@pytest.mark.parametrize("seconds,text", [(1800, "30m"), (90, "1m30s"), (60, "1m"), (5400, "1h30m"), (0.5, "0.5s"),
                                          (0, "0s"), (20, "20s")])
def test_format_reads_back(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


# --- every user goes through it -------------------------------------------------------------------------

def test_no_other_module_parses_durations() -> None:
    """A second parser would disagree sooner or later: no other `*duration*` parser, no h/m/s unit regex."""
    unit_regex = re.compile(r"\)[hms]\)?\?|\(s\|m\|h\)|\[hms\]")  # `(\d+)h)?`, `(s|m|h)`, `[hms]`
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "durations.py" or "sandbox" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and "duration" in node.name and "parse" in node.name:
                offenders.append(f"{path.name}: def {node.name}")
            if (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "compile" and node.args
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
                    and unit_regex.search(node.args[0].value)):
                offenders.append(f"{path.name}: regex {node.args[0].value}")
    assert not offenders


def test_every_daemon_time_setting_is_a_duration() -> None:
    time_like = re.compile(r"(interval|timeout|duration|backoff_)")
    for name, field in settings().items():
        if time_like.search(name) and not name.endswith("_seconds"):
            assert _DURATION in field.metadata, f"{name} must be declared as Duration"


def test_daemon_settings_accept_every_spelling_and_refuse_with_the_one_text() -> None:
    env = {"RECONCILER_GIT_URL": "git://h/r", "RECONCILER_POLL_INTERVAL": "1h30m", "RECONCILER_APPLY_TIMEOUT": "1.5h",
           "RECONCILER_DRIFT_INTERVAL": "90s", "RECONCILER_BACKOFF_MAX": "45"}
    cfg = DaemonConfig.load(env)
    assert (cfg.poll_interval, cfg.apply_timeout, cfg.drift_interval, cfg.backoff_max) == (5400, 5400, 90, 45)
    with pytest.raises(ConfigError) as info:
        DaemonConfig.load({**env, "RECONCILER_APPLY_TIMEOUT": "soon"})
    assert str(info.value) == f"RECONCILER_APPLY_TIMEOUT: {DURATION_ERROR}"


@pytest.mark.parametrize("command", [["sync"], ["rollback", "--env", "e", "--service", "s"], ["status"],
                                     ["approve", "prod"]])
def test_every_cli_timeout_uses_the_parser(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--timeout", "forever"]) == 2
    assert capsys.readouterr().err == f"reconciler: --timeout: {DURATION_ERROR}\n"
    assert build_parser().parse_args([*command, "--timeout", "1h30m"]).timeout == 5400


def test_every_cli_duration_option_is_a_duration_arg() -> None:
    """Options named like durations parse with reconciler.durations (no float seconds of their own)."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found = []
    for name, command in sub.choices.items():
        for action in command._actions:
            if any(re.search(r"timeout|interval|wait-time|duration", o) for o in action.option_strings):
                assert getattr(action.type, "option", None) in action.option_strings, f"{name} {action.option_strings}"
                found.append(name)
    assert {"sync", "rollback", "status", "approve"} <= set(found)
