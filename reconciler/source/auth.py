"""Git credentials delivered to git without ever landing in a URL, argv or log.

HTTPS tokens go through a `GIT_ASKPASS` helper script that reads them from
child-only environment variables (the scheme Argo CD's `util/askpass` uses,
minus the socket); SSH uses a deploy key with a pinned `known_hosts`
(`StrictHostKeyChecking=yes`); CodeCommit uses the AWS CLI credential helper or
git-remote-codecommit, both of which sign with the task role
(chat-and-git-triggers.md §4). Every secret is registered with
`reconciler.log.register_secret`, so git's own output is scrubbed too.
"""
from __future__ import annotations

import os
import shlex
import stat
from dataclasses import dataclass
from pathlib import Path

from reconciler.log import register_secret

_USER_VAR = "RECONCILER_ASKPASS_USERNAME"
_PASS_VAR = "RECONCILER_ASKPASS_PASSWORD"

# The helper answers git's two prompts ("Username for ..." / "Password for ...").
# It only echoes variables from its own environment: nothing secret is in the file.
_ASKPASS_SCRIPT = f"""#!/bin/sh
case "$1" in
  Username*|username*) printf '%s\\n' "${_USER_VAR}" ;;
  *) printf '%s\\n' "${_PASS_VAR}" ;;
esac
"""


@dataclass(frozen=True)
class GitAuth:
    """How to authenticate to the remote; all fields optional (anonymous)."""

    username: str = "oauth2"            # GitLab accepts any non-blank user with a PAT/project token
    token: str | None = None            # HTTPS password / token
    ssh_key_file: str | None = None     # deploy key (private)
    known_hosts_file: str | None = None  # pinned host keys; required with ssh_key_file
    codecommit_helper: bool = False     # use `aws codecommit credential-helper` for HTTPS CodeCommit URLs

    def __post_init__(self) -> None:
        register_secret(self.token)

    def __repr__(self) -> str:  # never show the token, even in a traceback's locals
        return (f"GitAuth(username={self.username!r}, token={'***' if self.token else None}, "
                f"ssh_key_file={self.ssh_key_file!r}, known_hosts_file={self.known_hosts_file!r}, "
                f"codecommit_helper={self.codecommit_helper!r})")

    @classmethod
    def from_token_file(cls, path: str, **kwargs: object) -> GitAuth:
        return cls(token=Path(path).read_text(encoding="utf-8").strip(), **kwargs)  # type: ignore[arg-type]


def write_askpass(directory: Path) -> Path:
    """Write the askpass helper (0700) into a private directory and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, stat.S_IRWXU)
    script = directory / "askpass.sh"
    script.write_text(_ASKPASS_SCRIPT, encoding="utf-8")
    os.chmod(script, stat.S_IRWXU)
    return script


def ssh_command(auth: GitAuth) -> str:
    """GIT_SSH_COMMAND for a deploy key with pinned host keys; no prompt can ever hang."""
    if not auth.known_hosts_file:
        raise ValueError("an SSH deploy key needs a known_hosts file (host keys are pinned)")
    parts = ["ssh", "-i", auth.ssh_key_file or "", "-o", "IdentitiesOnly=yes",
             "-o", f"UserKnownHostsFile={auth.known_hosts_file}", "-o", "StrictHostKeyChecking=yes",
             "-o", "BatchMode=yes", "-o", "ConnectTimeout=15"]
    return " ".join(shlex.quote(p) for p in parts)


def git_environment(auth: GitAuth, askpass_dir: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every git subprocess runs with.

    Config that must not be written to `.git/config` (credential helpers) goes
    through GIT_CONFIG_COUNT/KEY/VALUE (git >= 2.31), not `-c` in argv.
    """
    env = dict(os.environ if base is None else base)
    env.update({
        "GIT_TERMINAL_PROMPT": "0",      # never wait for a human
        "GCM_INTERACTIVE": "never",
        "GIT_CONFIG_NOSYSTEM": "1",
        "LC_ALL": "C",                   # stable, parseable messages
    })
    for name in [k for k in env if k.startswith("RECONCILER_")]:
        del env[name]  # the daemon's own settings (tokens, webhook secrets) are not git's business
    config: list[tuple[str, str]] = [("credential.helper", "")]  # ignore any ambient helper
    if auth.token:
        env["GIT_ASKPASS"] = str(write_askpass(askpass_dir))
        env[_USER_VAR] = auth.username or "oauth2"
        env[_PASS_VAR] = auth.token
    if auth.ssh_key_file:
        env["GIT_SSH_COMMAND"] = ssh_command(auth)
    if auth.codecommit_helper:
        # AWS CLI helper: signs with the task role from the default credential chain
        # (CodeCommit user guide, setting-up-https-unixes).
        config += [("credential.helper", "!aws codecommit credential-helper $@"), ("credential.UseHttpPath", "true")]
    env["GIT_CONFIG_COUNT"] = str(len(config))
    for i, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    return env
