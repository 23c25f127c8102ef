"""`Sandbox`: moto plus the fidelity layer, served in-process on 127.0.0.1.

moto's backends are process-wide singletons, so one Sandbox is active per process
at a time; entering a Sandbox resets moto and starts from the seed.
"""
from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from reconciler.log import get_logger
from reconciler.sandbox import codedeploy_api, ecs_api, moto_compat, one_off_api, service_deployments_api
from reconciler.sandbox.admin import AdminApp
from reconciler.sandbox.clock import SandboxClock
from reconciler.sandbox.cloudformation import stack_fidelity
from reconciler.sandbox.seed import apply_seed, load_seed
from reconciler.sandbox.state import SandboxState
from reconciler.sandbox.wsgi import SandboxApp

log = get_logger("reconciler.sandbox")
TICK_SECONDS = 0.02  # real seconds between ticker passes
_active_lock = threading.Lock()


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr: the sandbox logs through structlog instead.

    HTTP/1.1 keeps botocore's pooled connections open (as AWS endpoints do); werkzeug's
    default HTTP/1.0 closed each one, costing a TCP connect per API call.
    """

    protocol_version = "HTTP/1.1"

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class Sandbox:
    """Context manager: a moto server with ECS/CodeDeploy behaviour and fault injection."""

    def __init__(
        self,
        port: int = 0,
        seed: str | Path | dict[str, Any] | None = None,
        speed: float = 60.0,
        throttling: bool = False,
        circuit_breaker_min_threshold: int = 3,
    ) -> None:
        self.port, self.seed, self.speed = port, seed, speed
        self.throttling, self.breaker_min = throttling, circuit_breaker_min_threshold
        self.state: SandboxState | None = None
        self._server: BaseWSGIServer | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._patches = contextlib.ExitStack()
        self._owns_lock = False

    # ----- lifecycle -------------------------------------------------------
    def __enter__(self) -> Sandbox:
        moto_compat.check_moto()
        # ECS services need no AMIs; loading moto's default list costs 0.5 s per reset.
        os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        if not _active_lock.acquire(blocking=False):
            raise RuntimeError("another Sandbox is active in this process (moto's backends are global)")
        self._owns_lock = True
        try:
            moto_compat.reset_moto()
            self.state = SandboxState(clock=SandboxClock(speed=self.speed), throttling=False,
                                      breaker_min=self.breaker_min)
            handlers = {**ecs_api.HANDLERS, **codedeploy_api.HANDLERS, **one_off_api.HANDLERS,
                        **service_deployments_api.HANDLERS}
            app = SandboxApp(self.state, moto_compat.moto_wsgi_app(), handlers, AdminApp(self.state))
            self._patches.enter_context(stack_fidelity(self.state, app.moto_app))  # CloudFormation stacks
            self._server = make_server("127.0.0.1", self.port, app, threaded=True,
                                       request_handler=_QuietHandler)
            server = self._server
            self._spawn(lambda: server.serve_forever(poll_interval=0.05))
            self._spawn(self._ticker)
            if self.seed is not None:
                apply_seed(load_seed(self.seed), self.client, self.state)
            self.state.throttling = self.throttling  # seeding is never throttled
        except BaseException:
            self.__exit__(None, None, None)
            raise
        log.info("sandbox_started", endpoint=self.endpoint_url, speed=self.speed, throttling=self.throttling)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        self._patches.close()
        if self._owns_lock:
            self._owns_lock = False
            _active_lock.release()

    def _spawn(self, target: Any) -> None:
        thread = threading.Thread(target=target, daemon=True, name="sandbox")
        thread.start()
        self._threads.append(thread)

    def _ticker(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            if self.state is not None:
                self.state.tick()

    # ----- connection ------------------------------------------------------
    @property
    def endpoint_url(self) -> str:
        assert self._server is not None, "enter the Sandbox first"
        return f"http://127.0.0.1:{self._server.server_port}"

    def env(self) -> dict[str, str]:
        region = self._state.region
        return {"AWS_ENDPOINT_URL": self.endpoint_url, "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": region, "AWS_REGION": region}

    def client(self, service: str, **config: Any) -> Any:
        """A boto3 client for this sandbox (`config` goes to botocore Config)."""
        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=self._state.region,
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            config=Config(**config) if config else None)

    @property
    def _state(self) -> SandboxState:
        assert self.state is not None, "enter the Sandbox first"
        return self.state

    # ----- faults and time -------------------------------------------------
    def throttle(self, action: str, times: int) -> None:
        self._state.faults.throttle(action, times)

    def server_error(self, action: str, times: int = 1, *, after_apply: bool = False) -> None:
        """The next `times` calls of `action` answer 500; with `after_apply` the work is done first
        (the ambiguous failure: AWS applied the request, the client saw an error)."""
        self._state.faults.server_error(action, times, after_apply=after_apply)

    def add_latency(self, action: str, seconds: float) -> None:
        self._state.faults.add_latency(action, seconds)

    def held(self, action: str) -> int:
        """Requests of `action` held in an injected delay right now (received, not yet applied)."""
        return self._state.faults.observed(action)[0]

    def errors_answered(self, action: str) -> int:
        """Injected server errors answered so far to `action`."""
        return self._state.faults.observed(action)[1]

    def fail_image(self, image: str) -> None:
        self._state.faults.fail_image(image)

    def fire_alarm(self, name: str) -> list[str]:
        with self._state.lock:
            return self._state.codedeploy.fire_alarm(name)

    def set_lambda_hook(self, function_arn: str, answers: list[dict[str, Any]]) -> None:
        """What a lifecycle-hook Lambda answers, one entry per invocation (the last repeats)."""
        with self._state.lock:
            self._state.native.lambda_answers[function_arn] = list(answers)

    def advance(self, seconds: float) -> float:
        now = self._state.clock.advance(seconds)
        self._state.tick()
        return now

    def task_outcome(self, match: str, exit_code: int = 0, run_seconds: float = 30.0,
                     logs: tuple[str, ...] = ()) -> None:
        """One-off tasks whose command contains `match` exit with `exit_code` after `run_seconds`."""
        from reconciler.sandbox.one_off import Outcome

        with self._state.lock:
            self._state.one_off.outcomes.append(Outcome(match, exit_code, run_seconds, tuple(logs)))

    def set_speed(self, speed: float) -> None:
        """Sandbox seconds per real second from now on (0 freezes deployments where they are)."""
        self._state.clock.set_speed(speed)

    def reset_faults(self) -> None:
        self._state.faults.reset()

    def accepted(self, action: str) -> dict[str, int]:
        """How many `action` requests were accepted, per `cluster/service` (or deployment group)."""
        with self._state.lock:
            return {target: n for (a, target), n in self._state.accepted.items() if a == action}

    def now(self) -> float:
        return self._state.clock.now()
