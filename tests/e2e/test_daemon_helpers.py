"""Helpers (no tests) for the daemon end-to-end tests: `reconciler run` as a subprocess, awaited via /status."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from gitserver import GitDaemon, ManifestRepo, free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "deploy-manifests" / "examples"
REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
LEASE_TABLE = "ecs-reconciler-state"


def set_image(repo: ManifestRepo, env: str, service: str, tag: str) -> None:
    path = f"environments/{env}/{service}/taskdef.json"
    text = repo.read(path)
    new = re.sub(rf"({re.escape(REGISTRY)}/{service}):[\w.-]+", rf"\1:{tag}", text)
    assert new != text
    repo.write(path, new)


def create_state_table(sandbox: Any) -> None:
    sandbox.client("dynamodb").create_table(
        TableName=LEASE_TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}])


class DaemonProcess:
    """One `reconciler run`; logs go to a file so nothing blocks and every line can be checked."""

    def __init__(self, tmp: Path, name: str, sandbox: Any, git_url: str, **settings: Any) -> None:
        self.port = free_port()
        self.log_path = tmp / f"{name}.log"
        self.env = {**os.environ, **sandbox.env(),
                    "RECONCILER_GIT_URL": git_url, "RECONCILER_CACHE_DIR": str(tmp / f"{name}-cache"),
                    "RECONCILER_HTTP_HOST": "127.0.0.1", "RECONCILER_HTTP_PORT": str(self.port),
                    "RECONCILER_POLL_INTERVAL": "3600", "RECONCILER_DRIFT_INTERVAL": "3600",
                    "RECONCILER_APPLY_POLL_INTERVAL": "0.1", "RECONCILER_GIT_TIMEOUT": "10",
                    "RECONCILER_HOLDER_ID": name, "RECONCILER_LOG_LEVEL": "info"}
        self.env.update({f"RECONCILER_{k.upper()}": str(v) for k, v in settings.items()})
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, command: list[str] | None = None) -> DaemonProcess:
        """`reconciler run`, or `command` with the same environment (a bench's wrapper around it)."""
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(command or [sys.executable, "-m", "reconciler", "run"], env=self.env,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        return self

    def get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as resp:
                body = resp.read()
                return resp.status, json.loads(body) if path != "/metrics" else body.decode()
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        req = urllib.request.Request(self.url + path, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def status(self) -> dict[str, Any] | None:
        try:
            code, doc = self.get("/status")
        except (urllib.error.URLError, OSError, ValueError):
            return None
        return doc if code == 200 else None

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], what: str, deadline: float = 60.0) -> dict[str, Any]:
        """Poll /status until `predicate` holds; fail with the last status and the log tail."""
        end = time.monotonic() + deadline
        last: dict[str, Any] | None = None
        while time.monotonic() < end:
            assert self.proc is not None and self.proc.poll() is None, f"daemon exited:\n{self.log_tail()}"
            last = self.status()
            if last is not None and predicate(last):
                return last
            time.sleep(0.1)  # polling a condition with a deadline
        raise AssertionError(f"timed out waiting for {what}; last status: {json.dumps(last)[:3000]}\n{self.log_tail()}")

    def service(self, doc: dict[str, Any], key: str) -> dict[str, Any]:
        return (doc.get("services") or {}).get(key) or {}

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines() if self.log_path.exists() else []

    def log_events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_lines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.log_lines()[-n:])

    def terminate(self, timeout: float = 30.0) -> tuple[int, float]:
        assert self.proc is not None
        start = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self._log.close()
        return code, time.monotonic() - start

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if hasattr(self, "_log"):
            self._log.close()


def synced(*keys: str, commit: str | None = None) -> Callable[[dict[str, Any]], bool]:
    def check(doc: dict[str, Any]) -> bool:
        services = doc.get("services") or {}
        for key in keys:
            svc = services.get(key) or {}
            if svc.get("sync") != "Synced":
                return False
            if commit and svc.get("lastAppliedCommit") != commit:
                return False
        return True
    return check


@pytest.fixture
def git(tmp_path: Path):
    """A git daemon on loopback serving the example manifests (import this fixture into a test module)."""
    with GitDaemon(tmp_path / "srv") as server:
        repo = ManifestRepo.create(tmp_path / "srv", "manifests", tmp_path / "work")
        repo.copy_tree(EXAMPLES / "environments", "environments").commit("initial manifests")
        yield server, repo


@pytest.fixture
def daemons():
    """Collects started DaemonProcesses and stops them at test end."""
    started: list[DaemonProcess] = []
    yield started
    for d in started:
        d.stop()
