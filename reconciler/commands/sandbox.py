"""`reconciler sandbox`: run the local AWS sandbox in the foreground."""
from __future__ import annotations

import argparse
import shlex
import signal
import threading
from typing import Any

from reconciler.log import configure


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sandbox", help="run a local AWS sandbox (moto + ECS/CodeDeploy behaviour)",
        description="Run the local AWS sandbox in the foreground and print the `export` lines that point "
                    "boto3 (and the reconciler) at it. Stop it with Ctrl-C or SIGTERM.")
    parser.add_argument("--port", type=int, default=4566, help="port on 127.0.0.1 (default 4566; 0 picks a free one)")
    parser.add_argument("--seed", help="seed YAML (e.g. deploy-manifests/examples/sandbox-seed.yaml)")
    parser.add_argument("--speed", type=float, default=10.0,
                        help="sandbox seconds per real second (default 10: rollouts finish quickly)")
    parser.add_argument("--throttling", action="store_true", help="enforce AWS's ECS request rates")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reconciler.sandbox import Sandbox  # moto is an optional extra: import it only here

    configure()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with Sandbox(port=args.port, seed=args.seed, speed=args.speed, throttling=args.throttling) as box:
        for key, value in box.env().items():
            print(f"export {key}={shlex.quote(value)}", flush=True)
        stop.wait()
    return 0
