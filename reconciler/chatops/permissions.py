"""Who may do what, per environment and action. Pure: group membership is looked up by the caller.

Configuration (the daemon's config file, `chatops.permissions`), a list of rules:

    - environments: [staging]          # names, or "*" (never covers a protected environment)
      actions: [sync, deploy, promote]  # chat actions, or "*"
      users: [U0123DANA]                # Slack user IDs
      groups: [S0456SRE]                # Slack user-group IDs (subteams)

A write is allowed when a rule names the environment (or "*" for an unprotected one), the
action (or "*"), and the user or one of the user's groups. Protected environments
(`chatops.protectedEnvironments`, default production and prod) are written only through
rules naming them: a wildcard never opens production. Read actions (status, history, help)
are open to everyone in the workspace unless some rule names that action explicitly.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.chatops.commands import ACTIONS, READ_ACTIONS

DEFAULT_PROTECTED = ("production", "prod")

Members = Callable[[str], Iterable[str]]  # user-group ID -> user IDs in it


class PermissionConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Rule:
    environments: tuple[str, ...]
    actions: tuple[str, ...]
    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


@dataclass(frozen=True)
class Actor:
    """Who sent a request (Slack user ID and display name)."""

    user_id: str
    name: str = ""

    @property
    def mention(self) -> str:
        return f"<@{self.user_id}>"


def in_audience(user: str, users: Iterable[str], groups: Iterable[str], members: Members) -> bool:
    """True when `user` is listed or belongs to one of the groups."""
    if user in set(users):
        return True
    return any(user in set(members(g)) for g in groups)


@dataclass(frozen=True)
class Permissions:
    rules: tuple[Rule, ...] = ()
    protected: frozenset[str] = frozenset(DEFAULT_PROTECTED)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | None, where: str = "chatops") -> Permissions:
        raw = raw or {}
        protected = raw.get("protectedEnvironments", list(DEFAULT_PROTECTED))
        if not isinstance(protected, list) or not all(isinstance(p, str) for p in protected):
            raise PermissionConfigError(f"{where}.protectedEnvironments: expected a list of environment names")
        rules = []
        for i, item in enumerate(raw.get("permissions") or []):
            path = f"{where}.permissions[{i}]"
            if not isinstance(item, Mapping):
                raise PermissionConfigError(f"{path}: expected a mapping")
            unknown = sorted(set(item) - {"environments", "actions", "users", "groups"})
            if unknown:
                raise PermissionConfigError(f"{path}: unknown field(s) {', '.join(unknown)}")
            values = {}
            for key in ("environments", "actions", "users", "groups"):
                value = item.get(key, [])
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise PermissionConfigError(f"{path}.{key}: expected a list of strings")
                values[key] = value
            bad = sorted(set(values["actions"]) - ACTIONS - {"*"})
            if bad:
                raise PermissionConfigError(f"{path}.actions: unknown action(s) {', '.join(bad)}; "
                                            f"known: {', '.join(sorted(ACTIONS))}")
            if not values["environments"] or not values["actions"]:
                raise PermissionConfigError(f"{path}: needs environments and actions")
            rules.append(Rule(tuple(values["environments"]), tuple(values["actions"]),
                              frozenset(values["users"]), frozenset(values["groups"])))
        return cls(tuple(rules), frozenset(protected))

    def _applies(self, rule: Rule, env: str | None, action: str) -> bool:
        action_ok = action in rule.actions or ("*" in rule.actions and action not in READ_ACTIONS)
        if env is None:
            return action_ok
        env_ok = env in rule.environments or ("*" in rule.environments and env not in self.protected)
        return action_ok and env_ok

    def check(self, user: str, env: str | None, action: str, members: Members) -> Decision:
        named = [r for r in self.rules if action in r.actions]
        if action in READ_ACTIONS and not named:
            return Decision(True, "open to everyone in the workspace")
        rules = [r for r in self.rules if self._applies(r, env, action)]
        for rule in rules:
            if in_audience(user, rule.users, rule.groups, members):
                return Decision(True, "allowed by configuration")
        where = f" in {env}" if env else ""
        if not rules:
            if env in self.protected:
                return Decision(False, f"nobody may {action}{where} from chat: {env} is protected and no "
                                       "permission names it")
            return Decision(False, f"nobody may {action}{where} from chat: no permission is configured for it")
        return Decision(False, f"you are not allowed to {action}{where}")
