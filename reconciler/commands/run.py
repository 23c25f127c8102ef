"""`reconciler run`: the long-running daemon (configured by environment variables)."""
from __future__ import annotations

import argparse
import signal


def register(sub: argparse._SubParsersAction) -> None:
    from reconciler.daemon.config import help_table

    p = sub.add_parser("run", help="run the reconciler daemon: watch git, reconcile ECS continuously",
                       description="Watch a git branch and keep ECS in line with it. Serves /healthz, /readyz, "
                                   "/metrics, /status and POST /webhook. Stops cleanly on SIGTERM.",
                       epilog=help_table(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="YAML config file (same as RECONCILER_CONFIG_FILE)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os

    from reconciler.daemon.app import build_daemon
    from reconciler.daemon.config import ConfigError, DaemonConfig
    from reconciler.log import configure, get_logger

    environ = dict(os.environ)
    if args.config:
        environ["RECONCILER_CONFIG_FILE"] = args.config
    try:
        cfg = DaemonConfig.load(environ)
    except ConfigError as exc:
        configure(json=True)
        get_logger("reconciler.run").error("config_invalid", error=str(exc))
        return 2
    configure(json=True, level=cfg.log_level)
    daemon, _http = build_daemon(cfg)
    signal.signal(signal.SIGTERM, daemon.request_stop)
    signal.signal(signal.SIGINT, daemon.request_stop)
    return daemon.run()
