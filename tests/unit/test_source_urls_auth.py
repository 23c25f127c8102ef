"""Remote URL parsing, commit links, and the git environment built for credentials."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from reconciler.log import redact
from reconciler.source.auth import GitAuth, git_environment, ssh_command
from reconciler.source.urls import commit_url, split_credentials

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize("url,expected", [
    ("https://gitlab.example.com/platform/manifests.git", f"https://gitlab.example.com/platform/manifests/-/commit/{SHA}"),
    ("git@gitlab.example.com:platform/manifests.git", f"https://gitlab.example.com/platform/manifests/-/commit/{SHA}"),
    ("ssh://git@github.com/acme/deploy.git", f"https://github.com/acme/deploy/commit/{SHA}"),
    ("codecommit::eu-west-1://manifests",
     f"https://eu-west-1.console.aws.amazon.com/codesuite/codecommit/repositories/manifests/commit/{SHA}?region=eu-west-1"),
    ("https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/manifests",
     f"https://eu-west-1.console.aws.amazon.com/codesuite/codecommit/repositories/manifests/commit/{SHA}?region=eu-west-1"),
    ("git://127.0.0.1:9418/manifests", None),
    ("/srv/git/manifests", None),
    ("codecommit://manifests", None),  # no region: no console link
])
def test_commit_url(url: str, expected: str | None) -> None:
    assert commit_url(url, SHA) == expected


def test_commit_url_template_wins() -> None:
    assert commit_url("git://x/y", SHA, "https://git.internal/c/{sha}") == f"https://git.internal/c/{SHA}"


def test_split_credentials() -> None:
    assert split_credentials("https://oauth2:tok%40en@gitlab.com/a/b.git") == ("https://gitlab.com/a/b.git", "oauth2", "tok@en")
    assert split_credentials("https://gitlab.com/a/b.git") == ("https://gitlab.com/a/b.git", None, None)
    assert split_credentials("ssh://git@host/a.git") == ("ssh://git@host/a.git", None, None)


def test_askpass_answers_prompts_from_child_env(tmp_path: Path) -> None:
    auth = GitAuth(username="gitlab+deploy-token-7", token="s3cr3t-deploy-token")
    env = git_environment(auth, tmp_path / "askpass", base={"PATH": "/usr/bin:/bin"})
    script = env["GIT_ASKPASS"]
    assert "s3cr3t" not in Path(script).read_text()  # the file holds no secret
    user = subprocess.run([script, "Username for 'https://gitlab.com': "], env=env, capture_output=True, text=True)
    pw = subprocess.run([script, "Password for 'https://x@gitlab.com': "], env=env, capture_output=True, text=True)
    assert user.stdout.strip() == "gitlab+deploy-token-7"
    assert pw.stdout.strip() == "s3cr3t-deploy-token"
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert "s3cr3t" not in repr(auth)
    assert redact("fatal: s3cr3t-deploy-token rejected") == "fatal: *** rejected"  # registered as a secret


def test_ssh_deploy_key_pins_host_keys(tmp_path: Path) -> None:
    auth = GitAuth(ssh_key_file="/keys/id ed25519", known_hosts_file="/keys/known_hosts")
    env = git_environment(auth, tmp_path, base={})
    cmd = env["GIT_SSH_COMMAND"]
    assert "StrictHostKeyChecking=yes" in cmd and "UserKnownHostsFile=/keys/known_hosts" in cmd
    assert "'/keys/id ed25519'" in cmd  # quoted path
    assert "BatchMode=yes" in cmd
    with pytest.raises(ValueError):
        ssh_command(GitAuth(ssh_key_file="/k"))


def test_codecommit_helper_config_is_in_env_not_argv(tmp_path: Path) -> None:
    env = git_environment(GitAuth(codecommit_helper=True), tmp_path, base={})
    pairs = {(env[f"GIT_CONFIG_KEY_{i}"], env[f"GIT_CONFIG_VALUE_{i}"]) for i in range(int(env["GIT_CONFIG_COUNT"]))}
    assert ("credential.helper", "!aws codecommit credential-helper $@") in pairs
    assert ("credential.UseHttpPath", "true") in pairs
    assert "GIT_ASKPASS" not in env


def test_daemon_secrets_are_not_inherited_by_git(tmp_path: Path) -> None:
    env = git_environment(GitAuth(), tmp_path, base={"RECONCILER_WEBHOOK_GITLAB_TOKEN": "x" * 10, "HOME": "/h"})
    assert "RECONCILER_WEBHOOK_GITLAB_TOKEN" not in env and env["HOME"] == "/h"
