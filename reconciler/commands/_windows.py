"""Sync windows on the command line: `sync` holds what a window holds, `--override-window`
overrides it where the window allows manual sync (and records that), `plan` shows them."""
from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field, replace
from typing import Any

from reconciler.model import DesiredState
from reconciler.plan import Plan
from reconciler.windows import in_force, verdict

GATED = ("update", "create", "prune")


@dataclass
class Gate:
    plan: Plan
    held: list[tuple[str, str]] = field(default_factory=list)        # (service key, why)
    overridden: list[tuple[str, str]] = field(default_factory=list)  # (service key, window reason)


def gate(plan: Plan, desired: DesiredState, *, override: bool, now: float) -> Gate:
    """Drop the services a window holds from the plan, unless overridden where allowed."""
    kept, out = [], Gate(plan)
    for sp in plan.services:
        env = desired.environments.get(sp.environment)
        v = verdict(sp.environment, env.sync_windows, sp.name, now) if env and sp.action in GATED else None
        if v is None or not v.blocked:
            kept.append(sp)
        elif override and v.manual_override:
            kept.append(sp)
            out.overridden.append((sp.key, v.reason))
        elif override:
            out.held.append((sp.key, f"{v.reason}; the window does not allow manual sync (manualSync: false)"))
        else:
            out.held.append((sp.key, f"{v.reason}; `--override-window` syncs it anyway"
                             + ("" if v.manual_override else " only where the window sets manualSync: true")))
    out.plan = replace(plan, services=tuple(kept))
    return out


def record_overrides(g: Gate, commit: str | None) -> None:
    """The audit trail (when RECONCILER_STATE_TABLE names it) and a log line, per overridden service."""
    if not g.overridden:
        return
    from reconciler.chatops.audit import AuditRecord
    from reconciler.log import get_logger

    log = get_logger("reconciler.sync")
    actor = os.environ.get("RECONCILER_ACTOR") or getpass.getuser()
    records = [AuditRecord(action="sync-override-window", result="applied", actor_id=actor, actor_name=actor,
                           environment=key.partition("/")[0], service=key.partition("/")[2], commit=commit,
                           reason=f"overrode: {reason}") for key, reason in g.overridden]
    table = os.environ.get("RECONCILER_STATE_TABLE")
    if table:
        from reconciler.aws.audit import DynamoAuditLog
        from reconciler.aws.clients import AwsClients, AwsSettings
        from reconciler.aws.state_table import StateTable
        from reconciler.commands._common import instance_name

        trail = DynamoAuditLog(StateTable(AwsClients(AwsSettings.from_env()), table,
                                          region=os.environ.get("RECONCILER_STATE_REGION")), instance_name())
        for record in records:
            trail.record(record)
    else:
        for record in records:
            log.warning("audit", **record.to_json())


def windows_json(desired: DesiredState, now: float) -> dict[str, Any]:
    return {name: in_force(env.sync_windows, now) for name, env in sorted(desired.environments.items())
            if env.sync_windows}


def windows_text(desired: DesiredState, now: float) -> list[str]:
    lines = []
    for name, open_windows in windows_json(desired, now).items():
        for w in open_windows:
            scope = ", ".join(w["services"]) if w["services"] else "all services"
            what = "frozen" if w["kind"] == "deny" else "sync allowed"
            lines.append(f"window: {name} {what} until {w['untilLocal']} ({w['kind']} {w['schedule']!r} "
                         f"{w['timeZone']}; {scope}; manualSync: {str(w['manualSync']).lower()})")
    return lines
