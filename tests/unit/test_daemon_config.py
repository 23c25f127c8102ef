"""The daemon's settings: declared once, documented from the declaration, loaded env > file > default."""
from __future__ import annotations

from pathlib import Path

import pytest

from reconciler import docgen
from reconciler.cli import build_parser
from reconciler.daemon.config import (
    ConfigError,
    DaemonConfig,
    docs_table,
    env_name,
    help_table,
    setting_value,
    settings,
)

GIT = {"RECONCILER_GIT_URL": "git://h/r"}


def _load(tmp_path: Path, text: str, **env: str) -> DaemonConfig:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return DaemonConfig.load({"RECONCILER_CONFIG_FILE": str(path), **GIT, **env})


def test_help_docs_and_declaration_agree() -> None:
    help_text = build_parser()._subparsers._group_actions[0].choices["run"].format_help()  # type: ignore[union-attr]
    rows = docs_table().splitlines()[2:]
    assert len(rows) == len(settings())
    defaults = DaemonConfig()
    for (name, field), row in zip(settings().items(), rows, strict=True):
        assert env_name(name) in help_text and str(field.description) in help_text.replace("\n", " ")
        assert row.startswith(f"| `{env_name(name)}` |")
        assert getattr(defaults, name) == field.default
    assert help_table() in help_text
    assert docgen.stale() == [], "docs are stale: run python -m reconciler.docgen"


def test_a_stale_doc_table_is_found_and_rewritten(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    for file, _, _ in docgen.BLOCKS:
        (tmp_path / file).write_text((docgen.ROOT / file).read_text())
    doc = tmp_path / "docs" / "daemon.md"
    original = doc.read_text()
    doc.write_text(original.replace("| `RECONCILER_GIT_BRANCH` | `main` |", "| `RECONCILER_GIT_BRANCH` | `master` |"))
    assert docgen.stale(tmp_path) == ["docs/daemon.md: daemon-settings"]
    docgen.write(tmp_path)
    assert docgen.stale(tmp_path) == [] and doc.read_text() == original


def test_precedence_env_over_file_over_default(tmp_path: Path) -> None:
    cfg = _load(tmp_path, "poll_interval: 30\nRECONCILER_GIT_BRANCH: prod\ndrift_interval: 2m\napply_wait: false\n"
                          "notifications: {destinations: {}}\n", RECONCILER_POLL_INTERVAL="5")
    assert (cfg.poll_interval, cfg.git_branch, cfg.drift_interval, cfg.apply_wait) == (5.0, "prod", 120.0, False)
    assert cfg.history == 10 and cfg.notifications == {"destinations": {}}


def test_cross_setting_rules() -> None:
    with pytest.raises(ConfigError, match="GIT_URL"):
        DaemonConfig.load({})
    with pytest.raises(ConfigError, match="KNOWN_HOSTS"):
        DaemonConfig.load({**GIT, "RECONCILER_GIT_SSH_KEY_FILE": "/k"})
    with pytest.raises(ConfigError, match="LEASE_RENEW_INTERVAL must be shorter"):
        DaemonConfig.load({**GIT, "RECONCILER_LEASE_RENEW_INTERVAL": "1m"})


def test_unknown_key_names_file_line_and_a_close_match(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, "git_branch: main\npol_interval: 3\n")
    assert str(info.value) == f"{tmp_path / 'c.yaml'}:2: pol_interval: unknown setting (did you mean 'poll_interval'?)"


def test_a_bad_value_names_where_but_never_the_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, "git_branch: main\nhttp_port: xoxb-sekrit\n")
    assert str(info.value) == f"{tmp_path / 'c.yaml'}:2: http_port: expected a whole number"
    with pytest.raises(ConfigError) as info:
        DaemonConfig.load({**GIT, "RECONCILER_APPLY_WAIT": "sekrit"})
    assert str(info.value) == "RECONCILER_APPLY_WAIT: expected true or false"
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, "git_token: [sekrit]\n")
    assert "sekrit" not in str(info.value) and ":1: git_token: expected a single value" in str(info.value)


def test_a_yaml_syntax_error_gives_the_line_not_its_text(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, "git_branch: main\ngit_token: \"xoxb-sekrit\n")
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'c.yaml'}:") and "cannot parse YAML" in message
    assert "sekrit" not in message


def test_file_problems_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"c.yaml:1: expected a mapping"):
        _load(tmp_path, "- a\n")
    with pytest.raises(ConfigError, match=r"c.yaml:2: git_branch: set twice"):
        _load(tmp_path, "git_branch: a\ngit_branch: b\n")
    with pytest.raises(ConfigError, match="cannot read"):
        DaemonConfig.load({**GIT, "RECONCILER_CONFIG_FILE": str(tmp_path / "missing.yaml")})


def test_yaml_scalars_are_read_like_environment_values(tmp_path: Path) -> None:
    cfg = _load(tmp_path, "git_shallow: no\napply_wait: true\npoll_jitter: 0.25\nhistory: 3\nlog_level: WARNING\n"
                          "environment:\ngit_branch: 2024\n")
    assert (cfg.git_shallow, cfg.apply_wait, cfg.poll_jitter, cfg.history) == (False, True, 0.25, 3)
    assert (cfg.log_level, cfg.environment, cfg.git_branch) == ("warning", None, "2024")


def test_secrets_stay_out_of_repr() -> None:
    cfg = DaemonConfig.load({**GIT, "RECONCILER_GIT_TOKEN": "glpat-sekrit", "RECONCILER_WEBHOOK_GITHUB_SECRET": "gh-sekrit"})
    assert "sekrit" not in repr(cfg)


def test_holder_is_chosen_once() -> None:
    cfg = DaemonConfig.load(GIT)
    assert cfg.holder == cfg.holder
    assert DaemonConfig.load({**GIT, "RECONCILER_HOLDER_ID": "replica-a"}).holder == "replica-a"


def test_setting_value_reads_one_setting_as_the_daemon_does() -> None:
    assert setting_value("apply_poll_interval", {}) == 5.0
    assert setting_value("apply_poll_interval", {"RECONCILER_APPLY_POLL_INTERVAL": "1m"}) == 60.0
    with pytest.raises(ConfigError, match="^RECONCILER_APPLY_POLL_INTERVAL: not a duration"):
        setting_value("apply_poll_interval", {"RECONCILER_APPLY_POLL_INTERVAL": "often"})


def test_cli_deployment_poll_is_apply_poll_interval_not_the_git_poll(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from reconciler.commands._apply_cli import poll_interval_default

    monkeypatch.delenv("RECONCILER_APPLY_POLL_INTERVAL", raising=False)
    monkeypatch.setenv("RECONCILER_POLL_INTERVAL", "60")
    assert poll_interval_default() == 5.0
    assert "RECONCILER_POLL_INTERVAL is the daemon's git poll and is ignored" in capsys.readouterr().err
    monkeypatch.setenv("RECONCILER_APPLY_POLL_INTERVAL", "0.2")
    assert poll_interval_default() == 0.2
    assert capsys.readouterr().err == ""
