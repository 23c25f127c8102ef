"""Remote URL handling: strip credentials users paste into URLs, derive commit links."""
from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit, urlunsplit

_SCP = re.compile(r"^(?P<user>[^@/]+)@(?P<host>[^:/]+):(?P<path>.+)$")
_CODECOMMIT_HTTPS = re.compile(r"^git-codecommit\.(?P<region>[a-z0-9-]+)\.amazonaws\.com$")
_CODECOMMIT_GRC = re.compile(r"^codecommit:(?::(?P<region>[a-z0-9-]+):)?//(?:[^@]+@)?(?P<repo>[^/]+)$")


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """`https://user:tok@host/x` -> (`https://host/x`, user, tok); other URLs unchanged.

    The clean URL is what goes into `.git/config`; the password goes to the askpass helper.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or "@" not in parts.netloc:
        return url, None, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, sep, password = userinfo.partition(":")
    clean = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return clean, unquote(user) or None, (unquote(password) if sep else None)


def web_base(url: str) -> str | None:
    """The https page of the repository, when the URL names a GitLab/GitHub-like host."""
    match = _SCP.match(url)
    if match and "://" not in url:
        host, path = match["host"], match["path"]
    else:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https", "ssh", "git+ssh"):
            return None
        host, path = parts.hostname or "", parts.path
    if not host or host in ("localhost",) or host.replace(".", "").isdigit():
        return None
    path = path.strip("/")
    if path.endswith(".git"):
        path = path[:-4]
    return f"https://{host}/{path}" if path else None


def commit_url(url: str, sha: str, template: str | None = None) -> str | None:
    """Link to the commit page: an explicit template (`{sha}`) wins, else guess from the host."""
    if template:
        return template.replace("{sha}", sha)
    grc = _CODECOMMIT_GRC.match(url)
    parts = urlsplit(url)
    cc = _CODECOMMIT_HTTPS.match(parts.hostname or "") if parts.scheme in ("https", "ssh") else None
    if grc or cc:
        region = grc["region"] if grc else cc["region"]  # type: ignore[index]
        repo = grc["repo"] if grc else parts.path.rstrip("/").rsplit("/", 1)[-1]
        if not region:
            return None
        return (f"https://{region}.console.aws.amazon.com/codesuite/codecommit/repositories/"
                f"{repo}/commit/{sha}?region={region}")
    base = web_base(url)
    if base is None:
        return None
    if "github" in base.split("/")[2]:
        return f"{base}/commit/{sha}"
    return f"{base}/-/commit/{sha}"  # GitLab's layout
