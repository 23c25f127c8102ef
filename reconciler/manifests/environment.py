"""environment.yaml: where an environment's services run, and its sync policy defaults."""
from __future__ import annotations

import re
from typing import Any

from reconciler.durations import DurationError, parse_duration
from reconciler.manifests.issues import FileIssues
from reconciler.manifests.schema import check_schema
from reconciler.manifests.service import merge_sync_policy
from reconciler.model import Environment, SourceLocation, SyncPolicy, SyncWindow
from reconciler.windows import schedule_problem, zone_problem

_ROLE_ACCOUNT = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):")
ENV_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def read_environment(name: str, data: dict[str, Any], sink: FileIssues) -> Environment | None:
    """Build the Environment, or None when environment.yaml has errors."""
    check_schema(data, "environment", sink)
    role, account = data.get("roleArn"), data.get("accountId")
    match = _ROLE_ACCOUNT.match(role) if isinstance(role, str) else None
    if match and isinstance(account, str) and match.group(1) != account:
        sink.error(("roleArn",), f"roleArn is in account {match.group(1)} but accountId is {account}")
    windows = _sync_windows(data.get("syncWindows"), sink)
    if sink.has_errors:
        return None
    return Environment(
        name=name,
        cluster=data["cluster"],
        region=data["region"],
        account_id=account or (match.group(1) if match else None),
        role_arn=role,
        external_id=data.get("externalId"),
        sync_policy=merge_sync_policy(SyncPolicy(), data.get("syncPolicy")),
        source=SourceLocation(sink.file, 1),
        sync_windows=windows,
    )


def _sync_windows(raw: Any, sink: FileIssues) -> tuple[SyncWindow, ...]:
    """The schema vetted the shape; here the cron expression and the time zone."""
    out = []
    for index, item in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(item, dict) or not isinstance(item.get("schedule"), str):
            continue
        problem = schedule_problem(item["schedule"])
        if problem:
            sink.error(("syncWindows", index, "schedule"), problem)
        zone = str(item.get("timeZone", "UTC"))
        problem = zone_problem(zone)
        if problem:
            sink.error(("syncWindows", index, "timeZone"), problem)
        try:
            duration = parse_duration(item.get("duration"))
        except DurationError as exc:
            sink.error(("syncWindows", index, "duration"), str(exc))
            continue
        if duration <= 0:
            sink.error(("syncWindows", index, "duration"), "must be more than 0")
            continue
        out.append(SyncWindow(kind="allow" if item.get("kind") == "allow" else "deny", schedule=item["schedule"],
                              duration_seconds=int(duration), time_zone=zone,
                              services=tuple(str(s) for s in item.get("services") or ()),
                              manual_sync=bool(item.get("manualSync", False))))
    return tuple(out)
