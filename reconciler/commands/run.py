"""`reconciler run`: the long-running daemon (configured by environment variables)."""
from __future__ import annotations

import argparse
import signal


def register(sub: argparse._SubParsersAction) -> None:
    from reconciler.daemon.config import help_table

    epilog = (help_table() + "\n\nAWS: AWS_REGION, AWS_ENDPOINT_URL, RECONCILER_AWS_RETRY_MODE (default: adaptive), "
              "RECONCILER_AWS_MAX_ATTEMPTS (default: 10, first attempt included).\n"
              "Exit 0 after SIGTERM; 2 when the configuration is invalid.")
    p = sub.add_parser("run", help="run the reconciler daemon: watch git, reconcile ECS continuously",
                       description="Watch a git branch and keep ECS in line with it. Serves /healthz, /readyz, "
                                   "/metrics, /status and POST /webhook. Stops cleanly on SIGTERM.",
                       epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    from reconciler.notify.config import NotifyConfigError

    try:
        cfg = DaemonConfig.load(environ)
    except ConfigError as exc:
        configure(json=True)
        get_logger("reconciler.run").error("config_invalid", error=str(exc))
        return 2
    configure(json=True, level=cfg.log_level)
    try:
        daemon, _http = build_daemon(cfg)
    except NotifyConfigError as exc:  # the notifications: section (or a secret it names) is wrong
        get_logger("reconciler.run").error("config_invalid", error=f"notifications: {exc}")
        return 2
    except OSError as exc:  # e.g. the HTTP port is taken, the cache directory is not writable
        get_logger("reconciler.run").error("startup_failed", error=str(exc),
                                           http=f"{cfg.http_host}:{cfg.http_port}", cache_dir=str(cfg.cache_dir))
        return 2
    signal.signal(signal.SIGTERM, daemon.request_stop)
    signal.signal(signal.SIGINT, daemon.request_stop)
    return daemon.run()
