"""The `notifications:` section: declared once by pydantic models, unknown keys refused with their path."""
from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.daemon.config import ConfigError, DaemonConfig
from reconciler.events import EVENT_KINDS
from reconciler.notify.config import (
    KINDS,
    NotifyConfigError,
    QueueSpec,
    check_notifications,
    docs_table,
    load_notify_config,
)

BASE = {"destinations": {"hook": {"type": "slack-webhook", "webhookUrlEnv": "HOOK"}},
        "routes": [{"destinations": ["hook"], "kinds": ["sync_failed"]}]}


@pytest.mark.parametrize("mutate,message", [
    (lambda c: c["destinations"]["hook"].update(webhookUrlEnvv="HOOK"),
     "destinations.hook.webhookUrlEnvv: unknown key (did you mean 'webhookUrlEnv'?)"),
    (lambda c: c.update(rotues=[]), "rotues: unknown key (did you mean 'routes'?)"),
    (lambda c: c.update(queue={"batchSecond": 1}), "queue.batchSecond: unknown key (did you mean 'batchSeconds'?)"),
    (lambda c: c["routes"][0].update(service="x"), "routes[0].service: unknown key (did you mean 'services'?)"),
    (lambda c: c["routes"][0].update(kinds=["sync_fialed"]),
     "routes[0].kinds: unknown kind(s) sync_fialed (did you mean 'sync_failed'?)"),
    (lambda c: c["routes"][0].update(destinations=["hok"]),
     "routes[0].destinations: unknown destination(s) hok (did you mean 'hook'?)"),
    (lambda c: c["routes"][0].update(destinations=[]), "routes[0].destinations: must not be empty"),
    (lambda c: c["routes"][0].pop("destinations"), "routes[0].destinations: required"),
    (lambda c: c.update(queue={"size": 2.5}), "queue.size: expected a whole number"),
    (lambda c: c.update(queue={"backoffSeconds": True}), "queue.backoffSeconds: expected a number"),
])
def test_each_problem_names_its_path(mutate, message: str) -> None:
    import copy

    cfg = copy.deepcopy(BASE)
    mutate(cfg)
    with pytest.raises(NotifyConfigError) as info:
        check_notifications(cfg)
    assert str(info.value) == message


def test_errors_never_echo_values() -> None:
    cfg = {"destinations": {"hook": {"type": "xoxb-sekrit", "webhookUrlEnv": "HOOK"}}}
    with pytest.raises(NotifyConfigError) as info:
        check_notifications(cfg)
    assert "sekrit" not in str(info.value) and str(info.value).startswith("destinations.hook.type: must be one of")


def test_null_sections_and_defaults_come_from_the_declaration() -> None:
    cfg = load_notify_config({"destinations": None, "routes": None, "queue": None}, env={})
    assert (cfg.destinations, cfg.routes) == ({}, ())
    assert (cfg.queue_size, cfg.max_attempts, cfg.backoff_seconds, cfg.max_backoff_seconds, cfg.batch_seconds) == tuple(
        f.default for f in QueueSpec.model_fields.values())


def test_event_kinds_have_one_home() -> None:
    assert KINDS is EVENT_KINDS


def test_reference_table_lists_every_key() -> None:
    table = docs_table()
    for key in ("destinations.<name>.webhookUrlEnv", "routes[].kinds", "queue.batchSeconds"):
        assert f"| `{key}` |" in table


def test_the_daemon_names_file_and_line_of_a_notifications_problem(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("git_url: git://h/r\nnotifications:\n  destinations:\n    hook:\n      type: console\n"
                    "      chanel: C1\n")
    with pytest.raises(ConfigError) as info:
        DaemonConfig.load({"RECONCILER_CONFIG_FILE": str(path)})
    assert str(info.value) == (f"{path}:6: notifications.destinations.hook.chanel: unknown key "
                               "(did you mean 'channel'?)")
