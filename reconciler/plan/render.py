"""Plan as text for people and JSON for machines."""
from __future__ import annotations

from typing import Any

from reconciler.diff import render_json, render_text
from reconciler.plan.model import Plan, ServicePlan

_MARK = {"in-sync": "=", "update": "~", "create": "+", "prune": "-", "orphan": "?",
         "unowned": "!", "invalid": "x", "unknown": "?"}
_COLOR = {"update": "33", "create": "32", "prune": "31", "orphan": "35", "unowned": "35",
          "invalid": "31", "unknown": "35"}


def _headline(sp: ServicePlan, color: bool) -> str:
    line = f"{_MARK[sp.action]} {sp.key}: {sp.action}"
    if sp.reason and sp.action != "in-sync":
        line += f" ({sp.reason})"
    if color and sp.action in _COLOR:
        line = f"\x1b[{_COLOR[sp.action]}m{line}\x1b[0m"
    return line


def render_plan_text(plan: Plan, *, color: bool = False) -> str:
    lines: list[str] = []
    if plan.commit:
        lines.append(f"commit {plan.commit}")
    for issue in plan.issues:
        lines.append(f"{issue.severity}: {issue}")
    for sp in plan.services:
        lines.append(_headline(sp, color))
        if sp.action == "update" and sp.drift.changes:
            lines.extend("    " + ln for ln in render_text(sp.drift, color=color).splitlines())
    counts: dict[str, int] = {}
    for sp in plan.services:
        counts[sp.action] = counts.get(sp.action, 0) + 1
    summary = ", ".join(f"{n} {a}" for a, n in sorted(counts.items())) or "no services"
    lines.append(f"plan: {summary}")
    return "\n".join(lines)


def render_plan_json(plan: Plan) -> dict[str, Any]:
    return {
        "commit": plan.commit,
        "changesPending": plan.changes_pending,
        "issues": [i.to_json() for i in plan.issues],
        "services": [
            {
                "environment": sp.environment,
                "service": sp.name,
                "action": sp.action,
                "reason": sp.reason,
                "changes": render_json(sp.drift),
            }
            for sp in plan.services
        ],
    }
