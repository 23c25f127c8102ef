"""Sync windows: pure evaluation with the clock passed in."""
from __future__ import annotations

import datetime as dt

from reconciler.model import SyncWindow
from reconciler.windows import in_force, open_until, verdict

JST = dt.timezone(dt.timedelta(hours=9))
# Friday 18:00 JST to Monday 09:00 JST: 63 hours.
FREEZE = SyncWindow(kind="deny", schedule="0 18 * * 5", duration_seconds=63 * 3600, time_zone="Asia/Tokyo")


def at(*args: int, tz: dt.tzinfo = JST) -> float:
    return dt.datetime(*args, tzinfo=tz).timestamp()


def test_deny_window_holds_and_says_until_when_in_its_own_time_zone() -> None:
    v = verdict("production", [FREEZE], "web", at(2026, 11, 28, 12, 0))   # Saturday noon JST
    assert v.blocked and not v.manual_override
    assert v.reason == "production frozen until Mon 09:00 JST"
    assert v.until == at(2026, 11, 30, 9, 0)


def test_window_bounds_start_inclusive_end_exclusive() -> None:
    assert open_until(FREEZE, at(2026, 11, 27, 18, 0)) == at(2026, 11, 30, 9, 0)
    assert open_until(FREEZE, at(2026, 11, 27, 17, 59, 59)) is None
    assert open_until(FREEZE, at(2026, 11, 30, 9, 0)) is None
    assert not verdict("production", [FREEZE], "web", at(2026, 11, 30, 9, 0)).blocked


def test_services_scope_and_manual_sync() -> None:
    only_api = SyncWindow(kind="deny", schedule="0 18 * * 5", duration_seconds=3600, time_zone="Asia/Tokyo",
                          services=("api",), manual_sync=True)
    friday = at(2026, 11, 27, 18, 30)
    assert not verdict("production", [only_api], "web", friday).blocked
    v = verdict("production", [only_api], "api", friday)
    assert v.blocked and v.manual_override
    # two open deny windows: an override needs both to allow it
    assert not verdict("production", [only_api, FREEZE], "api", friday).manual_override


def test_allow_windows_hold_outside_them_and_deny_wins_inside() -> None:
    weekdays = SyncWindow(kind="allow", schedule="0 9 * * 1-5", duration_seconds=8 * 3600, time_zone="UTC")
    v = verdict("staging", [weekdays], "web", at(2026, 11, 28, 12, 0, tz=dt.UTC))   # Saturday
    assert v.blocked and v.reason == "staging outside its sync windows until Mon 09:00 UTC"
    assert not v.manual_override
    assert not verdict("staging", [weekdays], "web", at(2026, 11, 27, 10, 0, tz=dt.UTC)).blocked
    lunch = SyncWindow(kind="deny", schedule="0 12 * * *", duration_seconds=3600)
    assert verdict("staging", [weekdays, lunch], "web", at(2026, 11, 27, 12, 30, tz=dt.UTC)).blocked


def test_in_force_lists_open_windows_only() -> None:
    listed = in_force([FREEZE], at(2026, 11, 28, 12, 0))
    assert listed == [{"kind": "deny", "schedule": "0 18 * * 5", "timeZone": "Asia/Tokyo",
                       "until": "2026-11-30T00:00:00Z", "untilLocal": "Mon 09:00 JST", "services": [],
                       "manualSync": False}]
    assert in_force([FREEZE], at(2026, 11, 26, 12, 0)) == []


def test_environment_yaml_sync_windows_are_read_and_checked(tmp_path) -> None:
    import shutil
    from pathlib import Path

    from reconciler.manifests import load_repository

    examples = Path(__file__).resolve().parents[2] / "deploy-manifests" / "examples" / "environments"
    shutil.copytree(examples, tmp_path / "environments")
    env_file = tmp_path / "environments" / "production" / "environment.yaml"
    base = env_file.read_text()
    env_file.write_text(base + "syncWindows:\n  - {kind: deny, schedule: '0 18 * * 5', duration: 63h, "
                               "timeZone: Asia/Tokyo, services: [web], manualSync: true}\n")
    env = load_repository(tmp_path).environments["production"]
    assert env.sync_windows == (SyncWindow(kind="deny", schedule="0 18 * * 5", duration_seconds=63 * 3600,
                                           time_zone="Asia/Tokyo", services=("web",), manual_sync=True),)
    env_file.write_text(base + "syncWindows:\n  - {kind: deny, schedule: '0 25 * * 5', duration: 1h, "
                               "timeZone: Mars/Olympus}\n  - {kind: sometimes, schedule: '0 1 * * *', duration: 1h}\n"
                               "  - {kind: deny, schedule: '0 1 * * *', duration: soon}\n")
    state = load_repository(tmp_path)
    assert "production" not in state.environments
    errors = "\n".join(str(i) for i in state.errors)
    assert "syncWindows[0].schedule: '0 25 * * 5' is not a cron expression" in errors
    assert "syncWindows[0].timeZone: 'Mars/Olympus' is not an IANA time zone" in errors
    assert "syncWindows[1].kind" in errors
    assert "syncWindows[2].duration: not a duration" in errors
