"""Helpers (no tests) for the daemon + chat end-to-end tests: `reconciler run` as a process whose
notifications go through slack_sdk to the local receiver of test_notify_delivery (webhook and Web API)."""
from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

from test_daemon_helpers import EXAMPLES, DaemonProcess
from test_notify_delivery import HOOK_PATH, TOKEN, Receiver, Request

SLACK_CHANNEL = "C0CHANNEL"


def notify_config(tmp: Path, rec: Receiver, *, hook_url: str | None = None, api: bool = True,
                  **queue: Any) -> tuple[Path, dict[str, str]]:
    """A daemon config file routing every report to the receiver (webhook and, with `api`, Web API),
    and the environment holding its secrets."""
    dests: dict[str, Any] = {"hook": {"type": "slack-webhook", "webhookUrlEnv": "E2E_SLACK_WEBHOOK_URL",
                                      "timeoutSeconds": queue.pop("timeoutSeconds", 5)}}
    if api:
        dests["bot"] = {"type": "slack-api", "tokenEnv": "E2E_SLACK_BOT_TOKEN", "channel": SLACK_CHANNEL,
                        "baseUrl": rec.url("/api/")}
    doc = {"notifications": {"destinations": dests, "routes": [{"environment": "*", "destinations": list(dests)}],
                             "queue": {"maxAttempts": 3, "backoffSeconds": 0.1, "maxBackoffSeconds": 5,
                                       "batchSeconds": 0, **queue}}}
    path = tmp / "reconciler.yaml"
    path.write_text(json.dumps(doc))  # JSON is YAML
    return path, {"E2E_SLACK_WEBHOOK_URL": hook_url or rec.url(HOOK_PATH), "E2E_SLACK_BOT_TOKEN": TOKEN}


def chat_daemon(tmp: Path, name: str, sandbox: Any, git_url: str, config: tuple[Path, dict[str, str]],
                **settings: Any) -> DaemonProcess:
    path, secrets = config
    d = DaemonProcess(tmp, name, sandbox, git_url, config_file=str(path), **settings)
    d.env.update(secrets)
    return d


def single_service_repo(repo: Any, env: str = "staging", service: str = "web") -> str:
    """Only `env/service` of the examples (fast: one rolling service); returns the commit."""
    repo.copy_tree(EXAMPLES / "environments" / env / service, f"environments/{env}/{service}")
    repo.write(f"environments/{env}/environment.yaml",
               (EXAMPLES / "environments" / env / "environment.yaml").read_text())
    return repo.commit(f"{env}/{service} only")


def metric(d: DaemonProcess, name: str, **labels: str) -> float:
    """One sample of /metrics (0 when absent)."""
    _, text = d.get("/metrics")
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = re.escape(name) + (r"\{" + re.escape(want) + r"\}" if want else "") + r" ([0-9.e+-]+)$"
    for line in text.splitlines():
        m = re.match(pattern, line)
        if m:
            return float(m.group(1))
    return 0.0


def about(requests: list[Request], sha: str) -> list[Request]:
    """The requests whose message names commit `sha` (short form, as reports show it)."""
    return [r for r in requests if f"`{sha[:8]}`" in r.body.decode()]


def api(requests: list[Request]) -> list[tuple[str, dict[str, Any]]]:
    return [(r.path.rsplit("/", 1)[-1], r.json()) for r in requests if r.path.startswith("/api/")]


def hook(requests: list[Request]) -> list[dict[str, Any]]:
    return [r.json() for r in requests if r.path == HOOK_PATH]


class Gate:
    """Makes a receiver hang (a chat service that accepted the connection and never answers)
    until `release()`; then it answers 500. `arrived` counts requests held."""

    def __init__(self, rec: Receiver) -> None:
        self.open = threading.Event()
        self.arrived = threading.Semaphore(0)
        self.held = 0

        def reply(req: Request) -> tuple[int, dict[str, str], bytes]:
            if not self.open.is_set():
                self.held += 1
                self.arrived.release()
                self.open.wait(60)
            return 500, {}, b"internal error"

        rec.reply = reply  # type: ignore[method-assign]

    def release(self) -> None:
        self.open.set()
