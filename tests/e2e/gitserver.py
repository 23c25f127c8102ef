"""Real git servers on 127.0.0.1 for tests: `git daemon` (git://) and `git http-backend` (smart HTTP).

Reusable by any test that needs a remote:

    with GitDaemon(tmp_path / "srv") as server:
        repo = ManifestRepo.create(tmp_path / "srv", "manifests", tmp_path / "work")
        repo.write("environments/x.yaml", "...").commit("first")
        url = server.url("manifests")

`GitHttpServer(..., username=, password=)` demands HTTP Basic auth, so token delivery
can be tested; `.auth_headers` records what clients sent. Both servers can be
`stop()`ped and `start()`ed again on the same port (a remote that goes away and
comes back).
"""
from __future__ import annotations

import base64
import hmac
import os
import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author", "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author", "GIT_COMMITTER_EMAIL": "author@example.com",
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
}


def _git(*args: str, cwd: Path | None = None) -> str:
    env = {**os.environ, **GIT_ENV}
    out = subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True)
    return out.stdout.strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, *, up: bool = True, deadline: float = 10.0) -> None:
    """Block until 127.0.0.1:port accepts (or refuses, with up=False) connections."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                if up:
                    return
        except OSError:
            if not up:
                return
        time.sleep(0.02)  # polling a condition with a deadline, not a timed assertion
    raise TimeoutError(f"port {port} did not become {'reachable' if up else 'closed'}")


class ManifestRepo:
    """A bare repository under a server's base path plus a working clone to commit from."""

    def __init__(self, bare: Path, work: Path, branch: str = "main") -> None:
        self.bare, self.work, self.branch = bare, work, branch

    @classmethod
    def create(cls, base: Path, name: str, work: Path, branch: str = "main") -> ManifestRepo:
        bare = base / name
        bare.parent.mkdir(parents=True, exist_ok=True)
        _git("init", "--bare", "--initial-branch", branch, str(bare))
        _git("init", "--initial-branch", branch, str(work))
        _git("remote", "add", "origin", str(bare), cwd=work)
        return cls(bare, work, branch)

    def copy_tree(self, source: Path, dest: str = "") -> ManifestRepo:
        shutil.copytree(source, self.work / dest, dirs_exist_ok=True)
        return self

    def write(self, path: str, content: str) -> ManifestRepo:
        target = self.work / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        return self

    def read(self, path: str) -> str:
        return (self.work / path).read_text(encoding="utf-8")

    def remove(self, path: str) -> ManifestRepo:
        _git("rm", "-r", "-q", path, cwd=self.work)
        return self

    def commit(self, message: str, push: bool = True) -> str:
        _git("add", "-A", cwd=self.work)
        _git("commit", "-q", "--allow-empty", "-m", message, cwd=self.work)
        if push:
            _git("push", "-q", "origin", f"HEAD:refs/heads/{self.branch}", cwd=self.work)
        return self.head()

    def head(self) -> str:
        return _git("rev-parse", "HEAD", cwd=self.work)


class GitDaemon:
    """`git daemon` serving every repository under `base` at git://127.0.0.1:<port>/<name>."""

    def __init__(self, base: Path, port: int | None = None, *, writable: bool = False) -> None:
        self.base = Path(base)
        self.base.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.writable = writable  # accept pushes (git daemon --enable=receive-pack), for commits the daemon makes
        self._proc: subprocess.Popen[bytes] | None = None

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}"

    def start(self) -> GitDaemon:
        self._proc = subprocess.Popen(
            ["git", "daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1", f"--port={self.port}",
             *(["--enable=receive-pack"] if self.writable else []), f"--base-path={self.base}", str(self.base)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)
        return self

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
            self._proc = None
            wait_port(self.port, up=False)

    def __enter__(self) -> GitDaemon:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class _CgiHandler(BaseHTTPRequestHandler):
    server: _HttpServer

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        return None

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._serve()

    def do_POST(self) -> None:  # noqa: N802
        self._serve()

    def _serve(self) -> None:
        owner = self.server.owner
        owner.auth_headers.append(self.headers.get("Authorization"))
        if owner.username is not None and not self._authorized(owner):
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        env = {**os.environ, "GIT_PROJECT_ROOT": str(owner.base), "GIT_HTTP_EXPORT_ALL": "1",
               "PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": self.command,
               "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
               "REMOTE_ADDR": "127.0.0.1", "GIT_CONFIG_NOSYSTEM": "1"}
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = out.partition(b"\n\n")
        status = 200
        headers: list[tuple[str, str]] = []
        for line in head.decode("latin-1").splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.strip().split()[0])
            elif key:
                headers.append((key, value.strip()))
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _authorized(self, owner: GitHttpServer) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        expected = base64.b64encode(f"{owner.username}:{owner.password}".encode()).decode()
        return hmac.compare_digest(header[6:], expected)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: GitHttpServer


class GitHttpServer:
    """Smart-HTTP git (`git http-backend` as CGI) at http://127.0.0.1:<port>/<name>, optional Basic auth."""

    def __init__(self, base: Path, *, username: str | None = None, password: str | None = None,
                 port: int | None = None) -> None:
        self.base = Path(base)
        self.base.mkdir(parents=True, exist_ok=True)
        self.username, self.password = username, password
        self.port = port or free_port()
        self.auth_headers: list[str | None] = []
        self._server: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def start(self) -> GitHttpServer:
        self._server = _HttpServer(("127.0.0.1", self.port), _CgiHandler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> GitHttpServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
